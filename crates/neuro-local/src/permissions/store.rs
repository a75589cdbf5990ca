//! Grants in the database: the `grants` table. Roles are rows of the `users`
//! table whose names contain `/` (`alice/team`, `alice/service-accounts/ci`), so
//! deleting a user or role deletes its grants and tokens with it.

use std::collections::{BTreeSet, VecDeque};

use neuro_types::permission::Action;
use rusqlite::{params, Connection, OptionalExtension as _};

use super::{implicit_grants, AccessView, Grant, ResourcePath};
use crate::db::Db;
use crate::error::ApiError;

/// Creates the `grants` table.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS grants (
             subject TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
             uri TEXT NOT NULL,
             action TEXT NOT NULL,
             PRIMARY KEY (subject, uri)
         );
         CREATE INDEX IF NOT EXISTS grants_uri ON grants(uri);",
    )
}

/// One explicit grant, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGrant {
    /// Who holds it.
    pub subject: String,
    /// The grant.
    pub grant: Grant,
}

/// The explicit grants of `subject`.
pub fn explicit_grants(conn: &Connection, subject: &str) -> rusqlite::Result<Vec<Grant>> {
    let mut stmt = conn.prepare_cached("SELECT uri, action FROM grants WHERE subject = ?1")?;
    let rows = stmt.query_map([subject], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut grants = Vec::new();
    for row in rows {
        let (uri, action) = row?;
        if let Some(grant) = decode(&uri, &action) {
            grants.push(grant);
        }
    }
    Ok(grants)
}

/// Every explicit grant of every subject.
pub fn all_grants(conn: &Connection) -> rusqlite::Result<Vec<StoredGrant>> {
    let mut stmt = conn.prepare("SELECT subject, uri, action FROM grants ORDER BY subject, uri")?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    let mut grants = Vec::new();
    for row in rows {
        let (subject, uri, action) = row?;
        if let Some(grant) = decode(&uri, &action) {
            grants.push(StoredGrant { subject, grant });
        }
    }
    Ok(grants)
}

fn decode(uri: &str, action: &str) -> Option<Grant> {
    Some(Grant {
        path: ResourcePath::parse(uri)?,
        action: action.parse().ok()?,
    })
}

/// The roles `subject` is a member of, directly or through other roles, sorted.
pub fn subroles(conn: &Connection, subject: &str) -> rusqlite::Result<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([subject.to_owned()]);
    while let Some(current) = queue.pop_front() {
        for grant in explicit_grants(conn, &current)? {
            if grant.path.scheme() != "role" || grant.path.segments().is_empty() {
                continue;
            }
            let role = grant.path.segments().join("/");
            if role != subject && seen.insert(role.clone()) {
                queue.push_back(role);
            }
        }
    }
    Ok(seen.into_iter().collect())
}

/// The effective view of `subject` (blocking).
pub fn view(conn: &Connection, subject: &str, cluster: &str) -> rusqlite::Result<AccessView> {
    let mut grants = implicit_grants(subject, cluster);
    grants.extend(shared_view(conn, subject)?.grants().iter().cloned());
    Ok(AccessView::new(subject, grants))
}

/// What was shared with `subject`, directly or through its roles, without its
/// implicit grants (blocking).
pub fn shared_view(conn: &Connection, subject: &str) -> rusqlite::Result<AccessView> {
    let mut grants = explicit_grants(conn, subject)?;
    for role in subroles(conn, subject)? {
        grants.extend(explicit_grants(conn, &role)?);
    }
    Ok(AccessView::new(subject, grants))
}

/// Loads the effective view of `subject` (a short read: see [`Db::read`]).
pub async fn load_view(db: &Db, subject: &str, cluster: &str) -> Result<AccessView, ApiError> {
    // The epoch before the load: see `super::cache`.
    let epoch = db.epoch();
    if let Some(view) = db.views().get(subject, cluster, epoch) {
        return Ok(view);
    }
    let (owned_subject, owned_cluster) = (subject.to_owned(), cluster.to_owned());
    let view = db
        .read(move |conn| view(conn, &owned_subject, &owned_cluster))
        .await?;
    db.views().put(subject, cluster, epoch, &view);
    Ok(view)
}

/// Stores (or replaces) `subject`'s grant on `path`.
pub fn put_grant(
    conn: &Connection,
    subject: &str,
    path: &ResourcePath,
    action: Action,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO grants (subject, uri, action) VALUES (?1, ?2, ?3)
         ON CONFLICT (subject, uri) DO UPDATE SET action = excluded.action",
        params![subject, path.to_uri(), action.as_str()],
    )?;
    Ok(())
}

/// Removes `subject`'s grant on exactly `path`. Returns whether there was one.
pub fn delete_grant(
    conn: &Connection,
    subject: &str,
    path: &ResourcePath,
) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "DELETE FROM grants WHERE subject = ?1 AND uri = ?2",
        params![subject, path.to_uri()],
    )?;
    Ok(n > 0)
}

/// Removes every grant on `path` and below it, of any subject (the resource is
/// gone).
pub fn delete_grants_under(conn: &Connection, path: &ResourcePath) -> rusqlite::Result<()> {
    let uri = path.to_uri();
    let below = format!("{}/%", uri.replace('%', "\\%").replace('_', "\\_"));
    conn.execute(
        "DELETE FROM grants WHERE uri = ?1 OR uri LIKE ?2 ESCAPE '\\'",
        params![uri, below],
    )?;
    Ok(())
}

/// Whether a user or role called `name` exists.
pub fn subject_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM users WHERE name = ?1", [name], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Creates role `name`. Returns `false` if a user or role of that name exists.
pub fn create_role(conn: &Connection, name: &str, now_secs: i64) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO users (name, created_at) VALUES (?1, ?2)",
        params![name, now_secs],
    )?;
    Ok(n > 0)
}

/// Deletes role `name`, its grants, its tokens and every grant of its
/// membership (and of its sub-roles'). Returns whether it existed.
pub fn delete_role(conn: &mut Connection, name: &str) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let role = ResourcePath::new("role", name.split('/'));
    delete_grants_under(&tx, &role)?;
    tx.execute("DELETE FROM tokens WHERE user_name = ?1", [name])?;
    let n = tx.execute("DELETE FROM users WHERE name = ?1", [name])?;
    tx.commit()?;
    Ok(n > 0)
}

/// Whether `name` is a valid role name: two or more `/`-separated segments,
/// each a valid user name (the first names the user who manages it).
pub fn is_valid_role_name(name: &str) -> bool {
    let segments: Vec<&str> = name.split('/').collect();
    segments.len() >= 2 && segments.iter().all(|s| crate::auth::is_valid_user_name(s))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_their_members() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("state.db")).unwrap();
        db.call_blocking(|conn| {
            for user in ["alice", "bob"] {
                create_role(conn, user, 0)?;
            }
            assert!(create_role(conn, "alice/team", 0)?);
            assert!(!create_role(conn, "alice/team", 0)?);
            let shared = ResourcePath::parse("storage://c/alice/data").unwrap();
            put_grant(conn, "alice/team", &shared, Action::Write)?;
            let member = ResourcePath::parse("role://alice/team").unwrap();
            put_grant(conn, "bob", &member, Action::Read)?;
            assert_eq!(subroles(conn, "bob")?, ["alice/team"]);
            let v = view(conn, "bob", "c")?;
            assert!(v.allows(&shared, Action::Write));
            assert!(delete_role(conn, "alice/team")?);
            assert!(subroles(conn, "bob")?.is_empty());
            assert!(!view(conn, "bob", "c")?.allows(&shared, Action::Read));
            assert!(!delete_grant(conn, "bob", &member)?);
            Ok(())
        })
        .unwrap();
        assert!(is_valid_role_name("alice/team"));
        assert!(!is_valid_role_name("alice"));
        assert!(!is_valid_role_name("alice//x"));
    }
}
