//! Recently loaded permission views, so that a burst of requests from one user
//! (thousands of small storage uploads) does not query the database for the
//! same grants each time.
//!
//! A view is reused only while the database is unchanged:
//! [`Db::epoch`](crate::db::Db::epoch) counts every row this process writes (a
//! share, a revoke, a deleted user, anything else), and a view loaded under an older count is never returned. The
//! count is read *before* the view is loaded, so a write racing with the load
//! can only make the stored view look older than it is, never newer. Writes
//! by another process (a `neuro-local` command next to the server) are seen
//! after at most [`MAX_AGE`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::AccessView;

/// The longest a view is reused, for writes the epoch does not see.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Views kept at most; the cache starts over when full.
const CAPACITY: usize = 1024;

/// Permission views by `(subject, cluster)`.
#[derive(Debug, Default)]
pub struct ViewCache {
    entries: Mutex<HashMap<(String, String), Entry>>,
}

#[derive(Debug)]
struct Entry {
    view: AccessView,
    epoch: u64,
    loaded: Instant,
}

impl ViewCache {
    /// The view of `subject` in `cluster` if one was loaded at `epoch` less
    /// than [`MAX_AGE`] ago.
    pub fn get(&self, subject: &str, cluster: &str, epoch: u64) -> Option<AccessView> {
        let entries = self.lock();
        let entry = entries.get(&(subject.to_owned(), cluster.to_owned()))?;
        (entry.epoch == epoch && entry.loaded.elapsed() < MAX_AGE).then(|| entry.view.clone())
    }

    /// Remembers `view`, loaded after the epoch was `epoch`.
    pub fn put(&self, subject: &str, cluster: &str, epoch: u64, view: &AccessView) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            (subject.to_owned(), cluster.to_owned()),
            Entry {
                view: view.clone(),
                epoch,
                loaded: Instant::now(),
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Entry>> {
        // The map stays consistent whatever panicked while holding the lock.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::implicit_grants;

    fn view(subject: &str) -> AccessView {
        AccessView::new(subject, implicit_grants(subject, "c"))
    }

    #[test]
    fn a_view_is_reused_only_at_its_epoch() {
        let cache = ViewCache::default();
        assert!(cache.get("alice", "c", 1).is_none());
        cache.put("alice", "c", 1, &view("alice"));
        assert!(cache.get("alice", "c", 1).is_some());
        assert!(cache.get("alice", "c", 2).is_none());
        assert!(cache.get("alice", "other", 1).is_none());
        assert!(cache.get("bob", "c", 1).is_none());
    }

    #[test]
    fn the_cache_starts_over_when_full() {
        let cache = ViewCache::default();
        for i in 0..=CAPACITY {
            cache.put(&format!("user{i}"), "c", 1, &view("x"));
        }
        assert!(cache.get("user0", "c", 1).is_none());
        assert!(cache.get(&format!("user{CAPACITY}"), "c", 1).is_some());
    }
}
