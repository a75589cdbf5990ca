//! [`Storage::glob`]: shell patterns over storage paths, on the client with
//! `GETFILESTATUS` and `LISTSTATUS`, following Python's `glob` as the SDK does
//! (wire-protocol-data §2.6.7).

use futures::{Stream, StreamExt, TryStreamExt};
use neuro_types::uri::UriInput;
use percent_encoding::percent_decode_str;
use url::Url;

use crate::{Storage, StorageError};

/// Whether a path or name holds a pattern character (`*`, `?`, `[`).
pub fn has_magic(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Python's `fnmatch` (case-sensitive, whole name): `*` any run, `?` one
/// character, `[seq]` / `[!seq]` a class with ranges; an unclosed `[` is
/// literal.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    match_from(&pattern, &name)
}

fn match_from(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where the last `*` was, and how much of the name it swallowed.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => match class(&pattern[p..]) {
                Some((len, matches)) => matches(name[n]).then_some(len),
                None => (name[n] == '[').then_some(1),
            },
            Some(c) => (*c == name[n]).then_some(1),
            None => None,
        };
        match step {
            Some(len) => {
                p += len;
                n += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

type ClassMatch = Box<dyn Fn(char) -> bool>;

/// Parses a `[...]` class at the start of `pattern`: its length and matcher,
/// or `None` when it is not closed.
fn class(pattern: &[char]) -> Option<(usize, ClassMatch)> {
    let mut j = 1;
    if pattern.get(j) == Some(&'!') {
        j += 1;
    }
    if pattern.get(j) == Some(&']') {
        j += 1;
    }
    while pattern.get(j).is_some_and(|c| *c != ']') {
        j += 1;
    }
    if j >= pattern.len() {
        return None;
    }
    let body = &pattern[1..j];
    let (negate, body) = match body.first() {
        Some('!') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut ranges: Vec<(char, char)> = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == '-' {
            if body[i] <= body[i + 2] {
                ranges.push((body[i], body[i + 2]));
            }
            i += 3;
        } else {
            ranges.push((body[i], body[i]));
            i += 1;
        }
    }
    let matcher = move |c: char| ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != negate;
    Some((j + 1, Box::new(matcher)))
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

impl Storage {
    /// The storage URIs matching the pattern `uri` (`*`, `?`, `[...]` within a
    /// name; a `**` component for any depth), in the order Python's `glob`
    /// gives them. With `dironly`, only directories. A URI without pattern
    /// characters is yielded as is, whether it exists or not; names starting
    /// with `.` only match patterns that start with `.` (and `**` skips them).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let example = neuro_local::examples::start().await?;
    /// # let config = neuro_config::ConfigFactory::new().load().await?; let storage = neuro_storage::Storage::new(config);
    /// # storage.mkdir("storage:runs/1", true, true).await?;
    /// use futures::TryStreamExt;
    /// let logs: Vec<url::Url> = storage.glob("storage:runs/**/*.log", false).try_collect().await?;
    /// # drop(storage); example.shutdown().await; Ok(()) }
    /// ```
    pub fn glob<'a>(
        &self,
        uri: impl Into<UriInput<'a>>,
        dironly: bool,
    ) -> impl Stream<Item = Result<Url, StorageError>> + Send + 'static {
        let this = self.clone();
        let uri = self.normalize(uri);
        futures::stream::once(async move {
            let uri = uri?;
            let encoded: Vec<String> = uri
                .path_segments()
                .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default();
            let names: Vec<String> = encoded
                .iter()
                .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
                .collect();
            let Some(first) = names.iter().position(|n| has_magic(n)) else {
                return Ok::<_, StorageError>(futures::stream::iter([Ok(uri)]).boxed());
            };
            let mut base = uri.clone();
            base.set_path(&format!("/{}", encoded[..first].join("/")));
            // Every level but the last yields directories to search in.
            let mut parents = vec![base];
            let last = names.len() - 1;
            for name in &names[first..last] {
                let mut next = Vec::new();
                for parent in parents {
                    next.extend(this.glob_in_dir(parent, name.clone(), true).await?);
                }
                parents = next;
            }
            let pattern = names[last].clone();
            let found = futures::stream::iter(parents)
                .then(move |parent| {
                    let this = this.clone();
                    let pattern = pattern.clone();
                    async move { this.glob_in_dir(parent, pattern, dironly).await }
                })
                .map_ok(|urls| futures::stream::iter(urls.into_iter().map(Ok)))
                .try_flatten();
            Ok(found.boxed())
        })
        .try_flatten()
    }

    /// The matches of one path component `pattern` in `parent`.
    async fn glob_in_dir(
        &self,
        parent: Url,
        pattern: String,
        dironly: bool,
    ) -> Result<Vec<Url>, StorageError> {
        if !has_magic(&pattern) {
            let uri = child(&parent, &pattern);
            return match self.stat_url(&uri).await {
                Ok(_) => Ok(vec![uri]),
                Err(e) if e.is_not_found() => Ok(Vec::new()),
                Err(e) => Err(e),
            };
        }
        if pattern == "**" {
            let mut found = vec![parent.clone()];
            self.walk(&parent, dironly, &mut found).await?;
            return Ok(found);
        }
        let allow_hidden = is_hidden(&pattern);
        self.list(&parent)
            .try_filter_map(|status| {
                let name = status.name().to_owned();
                let keep = (!dironly || status.is_dir())
                    && (allow_hidden || !is_hidden(&name))
                    && fnmatch(&pattern, &name);
                let parent = &parent;
                async move { Ok(keep.then(|| child(parent, &name))) }
            })
            .try_collect()
            .await
    }

    /// Every non-hidden descendant of `dir`, depth first, in listing order.
    fn walk<'a>(
        &'a self,
        dir: &'a Url,
        dironly: bool,
        found: &'a mut Vec<Url>,
    ) -> futures::future::BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let entries: Vec<(Url, bool)> = self
                .list(dir)
                .try_filter_map(|status| {
                    let keep = (!dironly || status.is_dir()) && !is_hidden(status.name());
                    let entry = (child(dir, status.name()), status.is_dir());
                    async move { Ok(keep.then_some(entry)) }
                })
                .try_collect()
                .await?;
            for (uri, is_dir) in entries {
                found.push(uri.clone());
                if is_dir {
                    self.walk(&uri, dironly, found).await?;
                }
            }
            Ok(())
        })
    }
}

/// `parent / name`, escaping `name` as one path segment.
fn child(parent: &Url, name: &str) -> Url {
    let mut url = parent.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push(name);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_table() {
        let cases = [
            ("*.txt", "a.txt", true),
            ("*.txt", "a.txt.gz", false),
            ("*", "", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("[ab]x", "bx", true),
            ("[!ab]x", "bx", false),
            ("[!ab]x", "cx", true),
            ("[a-c]*", "b1", true),
            ("[a-c]*", "d1", false),
            ("[]]", "]", true),
            ("[!]]", "a", true),
            ("[abc", "[abc", true),
            ("[abc", "a", false),
            ("*a*b", "xaybzb", true),
            ("*a*b", "xaybz", false),
            ("A*", "abc", false),
            ("**", "deep", true),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(fnmatch(pattern, name), expected, "{pattern} vs {name}");
        }
        assert!(has_magic("a[b"));
        assert!(!has_magic("plain name"));
    }
}
