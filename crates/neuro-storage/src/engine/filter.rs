//! Which entries a directory transfer includes: the caller's async predicate
//! plus ignore files with gitignore semantics (wire-protocol-data §2.7).
//!
//! Paths handed to filters are relative to the transfer root, use `/` and end
//! in `/` for directories. Ignore files are layered: files found inside the
//! tree (deepest first), then files in the ancestors of the upload root
//! (nearest first), then the caller's predicate, then "include".

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

/// The caller's predicate on relative paths: `true` includes the entry. An
/// excluded directory is neither created nor descended into.
#[derive(Clone)]
pub struct Filter(Arc<dyn Fn(String) -> BoxFuture<'static, bool> + Send + Sync>);

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Filter(..)")
    }
}

impl Filter {
    /// Wraps an async predicate.
    ///
    /// ```
    /// use neuro_storage::engine::Filter;
    /// let no_logs = Filter::new(|path: String| async move { !path.ends_with(".log") });
    /// ```
    pub fn new<F, Fut>(predicate: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        Self(Arc::new(move |path| Box::pin(predicate(path))))
    }

    /// Asks the predicate about `rel_path`.
    pub async fn accepts(&self, rel_path: &str) -> bool {
        (self.0)(rel_path.to_owned()).await
    }
}

/// One parsed ignore file and where it applies.
#[derive(Debug)]
struct Layer {
    rules: Gitignore,
    /// Only paths under this relative directory (`""` or ending in `/`).
    prefix: String,
    /// Put in front of the path after `prefix` (ancestor files: the path from
    /// their directory to the transfer root).
    prefix2: String,
    /// The next, lower-priority layer.
    below: Option<Arc<Layer>>,
}

/// The rules that apply in one directory of a walk: ignore-file layers on top
/// of the caller's filter. Cheap to clone; children add layers without
/// affecting their parents.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    top: Option<Arc<Layer>>,
    filter: Option<Filter>,
}

impl Rules {
    /// Rules made of the caller's filter alone.
    pub fn new(filter: Option<Filter>) -> Self {
        Self { top: None, filter }
    }

    /// Adds the rules of an ignore file's text on top. `prefix` is the
    /// directory (relative to the transfer root, `""` or ending in `/`) the file
    /// lives in; `prefix2` what to put in front of paths below it (used for
    /// ancestor directories of the root). Lines that are not valid patterns are
    /// skipped with a warning.
    pub fn with_ignore_text(&self, origin: &Path, text: &str, prefix: &str, prefix2: &str) -> Self {
        let root = origin.parent().unwrap_or(origin);
        let mut builder = GitignoreBuilder::new(root);
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if let Err(e) = builder.add_line(Some(origin.to_path_buf()), line) {
                tracing::warn!(file = %origin.display(), "skipping ignore rule {line:?}: {e}");
            }
        }
        let rules = match builder.build() {
            Ok(rules) => rules,
            Err(e) => {
                tracing::warn!(file = %origin.display(), "ignore file skipped: {e}");
                return self.clone();
            }
        };
        Self {
            top: Some(Arc::new(Layer {
                rules,
                prefix: prefix.to_owned(),
                prefix2: prefix2.to_owned(),
                below: self.top.clone(),
            })),
            filter: self.filter.clone(),
        }
    }

    /// Whether the entry at `rel_path` (ending in `/` for a directory) is
    /// included.
    pub async fn accepts(&self, rel_path: &str) -> bool {
        let is_dir = rel_path.ends_with('/');
        let mut layer = self.top.as_deref();
        while let Some(l) = layer {
            if let Some(rest) = rel_path.strip_prefix(l.prefix.as_str()) {
                let candidate = format!("{}{}", l.prefix2, rest);
                let candidate = candidate.trim_end_matches('/');
                if !candidate.is_empty() {
                    match l.rules.matched(candidate, is_dir) {
                        Match::Ignore(_) => return false,
                        Match::Whitelist(_) => return true,
                        Match::None => {}
                    }
                }
            }
            layer = l.below.as_deref();
        }
        match &self.filter {
            Some(filter) => filter.accepts(rel_path).await,
            None => true,
        }
    }

    /// Adds the ignore files named `names` found in the ancestors of `root`
    /// (the upload root), the farthest first so nearer ones win.
    pub async fn with_ancestor_ignore_files(&self, root: &Path, names: &[String]) -> Self {
        let mut rules = self.clone();
        if names.is_empty() {
            return rules;
        }
        let ancestors: Vec<&Path> = root.ancestors().skip(1).collect();
        for dir in ancestors.into_iter().rev() {
            let Ok(rel) = root.strip_prefix(dir) else {
                continue;
            };
            let prefix2 = format!("{}/", rel.to_string_lossy());
            for name in names {
                let path = dir.join(name);
                if let Some(text) = read_ignore_file(&path).await {
                    rules = rules.with_ignore_text(&path, &text, "", &prefix2);
                }
            }
        }
        rules
    }
}

/// Reads an ignore file, or `None` when it is not a readable regular file.
pub(crate) async fn read_ignore_file(path: &Path) -> Option<String> {
    let meta = tokio::fs::metadata(path).await.ok()?;
    if !meta.is_file() {
        return None;
    }
    match tokio::fs::read(path).await {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) => {
            tracing::warn!(file = %path.display(), "cannot read ignore file: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Rules {
        Rules::default().with_ignore_text(Path::new("/x/.neuroignore"), text, "", "")
    }

    async fn accepted(rules: &Rules, paths: &[&str]) -> Vec<bool> {
        let mut out = Vec::new();
        for p in paths {
            out.push(rules.accepts(p).await);
        }
        out
    }

    #[tokio::test]
    async fn sdk_examples() {
        let r = rules("*.txt\n");
        assert_eq!(
            accepted(&r, &["a.txt", "d/a.txt", ".txt", "dir.txt/spam", "b"]).await,
            [false, false, false, true, true]
        );
        let r = rules("/spam\n");
        assert_eq!(
            accepted(&r, &["spam", "spam/", "dir/spam"]).await,
            [false, false, true]
        );
        let r = rules("spam/\n");
        assert_eq!(accepted(&r, &["spam/", "spam"]).await, [false, true]);
        let r = rules("a*b\n");
        assert_eq!(accepted(&r, &["arab", "a/b"]).await, [false, true]);
    }

    #[tokio::test]
    async fn negation_comments_and_layers() {
        let r = rules("# comment\n*.log\n!keep.log\r\n\n");
        assert_eq!(
            accepted(&r, &["x.log", "keep.log", "sub/keep.log"]).await,
            [false, true, true]
        );
        // A nested file re-includes what the outer one excludes, in its dir only.
        let nested = r.with_ignore_text(Path::new("/x/sub/.neuroignore"), "!*.log\n", "sub/", "");
        assert_eq!(
            accepted(&nested, &["sub/x.log", "x.log"]).await,
            [true, false]
        );
        // The caller's filter comes last.
        let filtered = Rules::new(Some(Filter::new(|p: String| async move {
            !p.starts_with("tmp")
        })))
        .with_ignore_text(Path::new("/x/.neuroignore"), "!tmp2\n", "", "");
        assert_eq!(
            accepted(&filtered, &["tmp1", "tmp2", "other"]).await,
            [false, true, true]
        );
    }

    #[tokio::test]
    async fn ancestor_prefix() {
        let r = Rules::default().with_ignore_text(
            Path::new("/home/u/proj/.neuroignore"),
            "data/tmp/\n",
            "",
            "data/",
        );
        assert_eq!(
            accepted(&r, &["tmp/", "tmp", "x/tmp/"]).await,
            [false, true, true]
        );
    }
}
