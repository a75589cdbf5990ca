//! Blob globs (`glob_blobs`, wire-protocol-data §4.6): patterns resolved with
//! as few listings as the pattern allows; `**` matches any number of path
//! components.

use futures::future::ready;
use futures::stream::{BoxStream, StreamExt as _, TryStreamExt as _};
use neuro_storage::{fnmatch, has_magic};

use crate::entry::BucketEntry;
use crate::list::entries;
use crate::store::Store;
use crate::BlobError;

/// Whether the key `path` matches the whole `pattern`: components match with
/// `fnmatch`; a `**` component matches any number of components (at the end,
/// anything at all).
///
/// ```
/// use neuro_blob::glob_match;
///
/// assert!(glob_match("**/*.txt", "a.txt"));
/// assert!(glob_match("**/*.txt", "d/e/a.txt"));
/// assert!(glob_match("d/**", "d/e/f.bin"));
/// assert!(!glob_match("d/*.txt", "d/e/a.txt"));
/// ```
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    match_parts(&pattern, &path)
}

fn match_parts(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", [])) => true,
        Some((&"**", rest)) => (0..path.len()).any(|skip| match_parts(rest, &path[skip..])),
        Some((part, rest)) => match path.split_first() {
            Some((name, below)) => fnmatch(part, name) && match_parts(rest, below),
            None => false,
        },
    }
}

/// The text of `part` before its first pattern character.
fn safe_prefix(part: &str) -> &str {
    let end = part.find(['*', '?', '[']).unwrap_or(part.len());
    &part[..end]
}

/// The entries under `prefix` whose keys (after the prefix) match `pattern`.
pub(crate) fn glob(
    store: Store,
    prefix: String,
    pattern: String,
) -> BoxStream<'static, Result<BucketEntry, BlobError>> {
    let (part, remaining) = match pattern.split_once('/') {
        Some((part, rest)) => (part.to_owned(), Some(rest.to_owned())),
        None => (pattern.clone(), None),
    };
    if part == "**" {
        // Any key may match: one recursive listing.
        let skip = prefix.len();
        return entries(store, prefix, true, None)
            .try_filter(move |e| ready(e.key.get(skip..).is_some_and(|k| glob_match(&pattern, k))))
            .boxed();
    }
    let magic = has_magic(&part);
    let scan = if magic {
        format!("{prefix}{}", safe_prefix(&part))
    } else {
        prefix.clone()
    };
    match remaining {
        None => {
            let own = scan.clone();
            entries(store, scan, false, None)
                .try_filter(move |e| ready(fnmatch(&part, e.name()) && e.key != own))
                .boxed()
        }
        Some(rest) if magic => entries(store.clone(), scan, false, None)
            .try_filter(move |e| ready(e.is_dir() && fnmatch(&part, e.name())))
            .map_ok(move |dir| glob(store.clone(), dir.key, rest.clone()))
            .try_flatten()
            .boxed(),
        Some(rest) => glob(store, format!("{prefix}{part}/"), rest),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn double_star_between_and_at_the_end() {
        assert!(glob_match("a/**/b", "a/b"));
        assert!(glob_match("a/**/b", "a/x/y/b"));
        assert!(!glob_match("a/**/b", "a/x/y/c"));
        assert!(glob_match("a/**", "a/"));
        assert!(!glob_match("a/*", "a/b/c"));
        assert_eq!(safe_prefix("ab*c"), "ab");
        assert_eq!(safe_prefix("abc"), "abc");
    }
}
