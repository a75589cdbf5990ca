//! The permission tree: who may do what on which resource.
//!
//! Every resource has a URI (`storage://cluster/alice/data`, `job://cluster/alice/job-1`,
//! `secret://...`, `disk://...`, `image://...`, `user://alice`, `role://alice/team`).
//! A grant gives a subject (a user or a role) one [`Action`] on a URI and on
//! everything below it, as the platform's auth service does: `read < write <
//! manage`, and a grant on `storage://c/alice` covers `storage://c/alice/x/y`.
//! A subject that holds a grant somewhere below a URI may *list* that URI (see
//! the names on the way to what was shared) but not read it.
//!
//! Each user implicitly manages their own subtree of every scheme
//! (`storage://<cluster>/<user>`, `job://...`, `role://<user>`, `user://<user>`);
//! nobody else reaches it until it is shared. A grant on `role://R` makes the
//! subject a member of role `R`: it gets every explicit grant of `R` too.
//!
//! [`AccessView`] is one subject's effective grants, loaded once per request
//! ([`load_view`], reused while the database is unchanged: [`cache`]) and then
//! queried without I/O. [`store`] keeps the grants in
//! the database; [`api`] serves the users API on top of it.

pub mod api;
pub mod cache;
pub mod store;

use neuro_types::permission::Action;

use crate::db::Db;
use crate::error::ApiError;

pub use store::load_view;

/// The schemes whose URIs name a resource in one cluster (`<scheme>://<cluster>/<owner>/...`).
pub const CLUSTER_SCHEMES: [&str; 6] = ["storage", "job", "secret", "disk", "image", "blob"];

/// Every scheme the tree knows.
pub const SCHEMES: [&str; 9] = [
    "storage", "job", "secret", "disk", "image", "blob", "flow", "user", "role",
];

/// How far a subject reaches on one URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Only the names on the way to something shared.
    List,
    /// An action, with everything it includes.
    Act(Action),
}

impl Level {
    /// The action, or `None` for [`Level::List`].
    pub fn action(self) -> Option<Action> {
        match self {
            Level::List => None,
            Level::Act(action) => Some(action),
        }
    }
}

/// A resource URI as a scheme and a path of segments (the host is the first).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourcePath {
    scheme: String,
    segments: Vec<String>,
}

impl ResourcePath {
    /// `scheme` and `segments` as given.
    pub fn new(scheme: &str, segments: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            scheme: scheme.to_owned(),
            segments: segments.into_iter().map(Into::into).collect(),
        }
    }

    /// `<scheme>://<cluster>/<path...>`, the path split at `/`.
    pub fn in_cluster(scheme: &str, cluster: &str, path: &str) -> Self {
        let mut segments = vec![cluster.to_owned()];
        segments.extend(path.split('/').filter(|s| !s.is_empty()).map(str::to_owned));
        Self {
            scheme: scheme.to_owned(),
            segments,
        }
    }

    /// Parses a full URI of a known scheme (`storage://c/alice/x`); a bare
    /// scheme (`storage:`) has no segments. `None` for anything else, or for
    /// `.`/`..` segments.
    pub fn parse(text: &str) -> Option<Self> {
        let (scheme, rest) = text.split_once(':')?;
        if !SCHEMES.contains(&scheme) {
            return None;
        }
        let rest = match rest.strip_prefix("//") {
            Some(rest) => rest,
            None if rest.is_empty() => "",
            None => return None,
        };
        if rest.contains(['?', '#']) {
            return None;
        }
        let mut segments = Vec::new();
        for raw in rest.split('/').filter(|s| !s.is_empty()) {
            let segment = percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .ok()?
                .into_owned();
            if segment == "." || segment == ".." || segment.contains('/') {
                return None;
            }
            segments.push(segment);
        }
        Some(Self {
            scheme: scheme.to_owned(),
            segments,
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The segments, host first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether `self` is `other` or one of its ancestors.
    pub fn contains(&self, other: &ResourcePath) -> bool {
        self.scheme == other.scheme && other.segments.starts_with(&self.segments)
    }

    /// The URI text: `scheme://a/b/c`, or `scheme:` without segments.
    pub fn to_uri(&self) -> String {
        if self.segments.is_empty() {
            format!("{}:", self.scheme)
        } else {
            format!("{}://{}", self.scheme, self.segments.join("/"))
        }
    }
}

impl std::fmt::Display for ResourcePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_uri())
    }
}

/// One grant: an action on a URI and everything below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The URI.
    pub path: ResourcePath,
    /// The action.
    pub action: Action,
}

impl Grant {
    /// `{"uri", "action"}`.
    pub fn to_payload(&self) -> neuro_types::wire::PermissionPayload {
        neuro_types::wire::PermissionPayload {
            uri: self.path.to_uri(),
            action: self.action.as_str().to_owned(),
        }
    }
}

/// The grants a subject has without anyone sharing anything: manage on its own
/// subtree of every scheme.
pub fn implicit_grants(subject: &str, cluster: &str) -> Vec<Grant> {
    let own: Vec<String> = subject.split('/').map(str::to_owned).collect();
    let mut grants: Vec<Grant> = CLUSTER_SCHEMES
        .iter()
        .map(|scheme| {
            let mut segments = vec![cluster.to_owned()];
            segments.extend(own.iter().cloned());
            Grant {
                path: ResourcePath::new(scheme, segments),
                action: Action::Manage,
            }
        })
        .collect();
    grants.push(Grant {
        path: ResourcePath::new("role", own.clone()),
        action: Action::Manage,
    });
    grants.push(Grant {
        path: ResourcePath::new("user", own),
        action: Action::Manage,
    });
    grants
}

/// The effective grants of one subject: its implicit ones, its explicit ones
/// and those of every role it is a member of.
#[derive(Debug, Clone)]
pub struct AccessView {
    subject: String,
    grants: Vec<Grant>,
}

impl AccessView {
    /// A view over `grants`.
    pub fn new(subject: impl Into<String>, grants: Vec<Grant>) -> Self {
        Self {
            subject: subject.into(),
            grants,
        }
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The effective grants.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// How far the subject reaches on `path`: the strongest grant on it or an
    /// ancestor, else [`Level::List`] if something below it is granted.
    pub fn level(&self, path: &ResourcePath) -> Option<Level> {
        self.grants
            .iter()
            .filter_map(|g| {
                if g.path.contains(path) {
                    Some(Level::Act(g.action))
                } else if path.contains(&g.path) {
                    Some(Level::List)
                } else {
                    None
                }
            })
            .max()
    }

    /// The action the subject has on `path`, if any (listing alone is none).
    pub fn action(&self, path: &ResourcePath) -> Option<Action> {
        self.level(path).and_then(Level::action)
    }

    /// Whether the subject may do `needed` on `path`.
    pub fn allows(&self, path: &ResourcePath, needed: Action) -> bool {
        self.action(path).is_some_and(|a| a.allows(needed))
    }

    /// `Ok` if the subject may do `needed` on `path`, else the platform's `403`.
    pub fn require(&self, path: &ResourcePath, needed: Action) -> Result<(), ApiError> {
        if self.allows(path, needed) {
            Ok(())
        } else {
            Err(forbidden(&self.subject, path, needed))
        }
    }
}

/// `403 {"error": "Permission denied ..."}` for `subject` lacking `needed` on `path`.
pub fn forbidden(subject: &str, path: &ResourcePath, needed: Action) -> ApiError {
    ApiError::forbidden(format!(
        "Permission denied: {subject} has no {} access to {path}",
        needed.as_str()
    ))
}

/// Loads `subject`'s view and checks `needed` on `path` in one call.
pub async fn require(
    db: &Db,
    cluster: &str,
    subject: &str,
    path: &ResourcePath,
    needed: Action,
) -> Result<AccessView, ApiError> {
    let view = load_view(db, subject, cluster).await?;
    view.require(path, needed)?;
    Ok(view)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(text: &str) -> ResourcePath {
        ResourcePath::parse(text).unwrap()
    }

    #[test]
    fn parse_and_contain() {
        assert_eq!(p("storage://c/alice/x").segments(), ["c", "alice", "x"]);
        assert_eq!(p("storage:").to_uri(), "storage:");
        assert_eq!(p("role://alice/team").to_uri(), "role://alice/team");
        assert_eq!(p("storage://c/a%20b").segments(), ["c", "a b"]);
        for bad in [
            "ftp://x",
            "storage://c/../x",
            "storage:rel",
            "storage://c/x?q",
            "nope",
        ] {
            assert!(ResourcePath::parse(bad).is_none(), "{bad}");
        }
        assert!(p("storage://c/alice").contains(&p("storage://c/alice/x/y")));
        assert!(!p("storage://c/alice").contains(&p("storage://c/alicex")));
        assert!(!p("storage://c/alice").contains(&p("job://c/alice")));
        assert!(p("storage:").contains(&p("storage://c")));
    }

    #[test]
    fn inheritance_and_listing() {
        let mut grants = implicit_grants("bob", "c");
        grants.push(Grant {
            path: p("storage://c/alice/shared"),
            action: Action::Read,
        });
        let view = AccessView::new("bob", grants);
        assert_eq!(view.action(&p("storage://c/bob/x/y")), Some(Action::Manage));
        assert_eq!(
            view.action(&p("storage://c/alice/shared/f")),
            Some(Action::Read)
        );
        assert!(!view.allows(&p("storage://c/alice/shared/f"), Action::Write));
        assert_eq!(view.level(&p("storage://c/alice")), Some(Level::List));
        assert_eq!(view.level(&p("storage://c")), Some(Level::List));
        assert_eq!(view.level(&p("storage://c/alice/other")), None);
        assert_eq!(view.level(&p("job://c/alice/job-1")), None);
        assert!(view
            .require(&p("job://c/alice/job-1"), Action::Read)
            .is_err());
        assert_eq!(view.action(&p("role://bob/sub")), Some(Action::Manage));
    }
}
