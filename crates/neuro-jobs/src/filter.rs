//! [`JobFilter`]: the query of `GET jobs`.

use neuro_types::endpoints::query;
use neuro_types::jobs::JobStatus;
use time::OffsetDateTime;

/// Which jobs [`Jobs::list`](crate::Jobs::list) returns. The default lists every
/// job of the current cluster that is not being dropped and still has its logs,
/// as the Python SDK does.
///
/// ```
/// use neuro_jobs::JobFilter;
/// use neuro_types::jobs::JobStatus;
///
/// let filter = JobFilter::default()
///     .statuses([JobStatus::Running, JobStatus::Pending])
///     .tag("experiment-1")
///     .reverse(true)
///     .limit(10);
/// assert_eq!(filter.limit, Some(10));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobFilter {
    /// Only jobs in one of these states; empty means any state.
    pub statuses: Vec<JobStatus>,
    /// Only jobs with this name.
    pub name: Option<String>,
    /// Only jobs carrying all of these tags.
    pub tags: Vec<String>,
    /// Only jobs of these owners; empty means any owner the caller may see.
    pub owners: Vec<String>,
    /// Only jobs created at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only jobs created at or before this time.
    pub until: Option<OffsetDateTime>,
    /// Newest first instead of oldest first.
    pub reverse: bool,
    /// At most this many jobs (must be positive).
    pub limit: Option<u32>,
    /// Cluster to list; `None` = the current cluster.
    pub cluster_name: Option<String>,
    /// Only materialized (or only non-materialized) jobs; `None` = both.
    pub materialized: Option<bool>,
    /// Jobs that are being dropped (default: only those that are not).
    pub being_dropped: bool,
    /// Jobs whose logs were removed (default: only those that still have them).
    pub logs_removed: bool,
}

impl JobFilter {
    /// Adds states to match.
    pub fn statuses(mut self, statuses: impl IntoIterator<Item = JobStatus>) -> Self {
        for status in statuses {
            if !self.statuses.contains(&status) {
                self.statuses.push(status);
            }
        }
        self
    }

    /// Matches this job name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Requires this tag (repeatable; all tags must be present).
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Adds an owner to match.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        let owner = owner.into();
        if !self.owners.contains(&owner) {
            self.owners.push(owner);
        }
        self
    }

    /// Only jobs created at or after `since`.
    pub fn since(mut self, since: OffsetDateTime) -> Self {
        self.since = Some(since);
        self
    }

    /// Only jobs created at or before `until`.
    pub fn until(mut self, until: OffsetDateTime) -> Self {
        self.until = Some(until);
        self
    }

    /// Newest first.
    pub fn reverse(mut self, reverse: bool) -> Self {
        self.reverse = reverse;
        self
    }

    /// At most `limit` jobs.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Lists another cluster than the current one.
    pub fn cluster_name(mut self, cluster: impl Into<String>) -> Self {
        self.cluster_name = Some(cluster.into());
        self
    }

    /// The query pairs, in the order the Python SDK sends them.
    pub(crate) fn query(&self, default_cluster: &str) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        for status in &self.statuses {
            q.push((query::STATUS, status.as_str().to_owned()));
        }
        if let Some(name) = self.name.as_deref().filter(|n| !n.is_empty()) {
            q.push((query::NAME, name.to_owned()));
        }
        for owner in &self.owners {
            q.push((query::OWNER, owner.clone()));
        }
        for tag in &self.tags {
            q.push((query::TAG, tag.clone()));
        }
        if let Some(since) = self.since {
            q.push((query::SINCE, python_isoformat(since)));
        }
        if let Some(until) = self.until {
            q.push((query::UNTIL, python_isoformat(until)));
        }
        let cluster = self
            .cluster_name
            .as_deref()
            .filter(|c| !c.is_empty())
            .unwrap_or(default_cluster);
        q.push((query::CLUSTER_NAME, cluster.to_owned()));
        if self.reverse {
            q.push((query::REVERSE, "1".to_owned()));
        }
        if let Some(limit) = self.limit {
            q.push((query::LIMIT, limit.to_string()));
        }
        if let Some(m) = self.materialized {
            q.push((query::MATERIALIZED, python_bool(m).to_owned()));
        }
        q.push((
            query::BEING_DROPPED,
            python_bool(self.being_dropped).to_owned(),
        ));
        q.push((
            query::LOGS_REMOVED,
            python_bool(self.logs_removed).to_owned(),
        ));
        q
    }
}

/// `datetime.isoformat()` of an aware datetime, which the SDK sends as is: the
/// time in its own offset, microseconds only when non-zero, and the offset as
/// `+HH:MM` (`+HH:MM:SS` when it has seconds).
fn python_isoformat(value: OffsetDateTime) -> String {
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        value.year(),
        u8::from(value.month()),
        value.day(),
        value.hour(),
        value.minute(),
        value.second()
    );
    if value.microsecond() != 0 {
        text.push_str(&format!(".{:06}", value.microsecond()));
    }
    let offset = value.offset();
    let sign = if offset.is_negative() { '-' } else { '+' };
    let (h, m, s) = offset.as_hms();
    text.push_str(&format!(
        "{sign}{:02}:{:02}",
        h.unsigned_abs(),
        m.unsigned_abs()
    ));
    if s != 0 {
        text.push_str(&format!(":{:02}", s.unsigned_abs()));
    }
    text
}

fn python_bool(value: bool) -> &'static str {
    if value {
        "True"
    } else {
        "False"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_query_matches_the_python_sdk() {
        let q = JobFilter::default().query("default");
        assert_eq!(
            q,
            vec![
                ("cluster_name", "default".to_owned()),
                ("being_dropped", "False".to_owned()),
                ("logs_removed", "False".to_owned()),
            ]
        );
    }

    #[test]
    fn full_query_order() {
        let since = time::macros::datetime!(2022-01-01 0:00 UTC);
        let q = JobFilter::default()
            .statuses([JobStatus::Running])
            .name("n")
            .owner("bob")
            .tag("t1")
            .tag("t2")
            .since(since)
            .reverse(true)
            .limit(5)
            .cluster_name("c2")
            .query("default");
        let keys: Vec<&str> = q.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "status",
                "name",
                "owner",
                "tag",
                "tag",
                "since",
                "cluster_name",
                "reverse",
                "limit",
                "being_dropped",
                "logs_removed"
            ]
        );
        assert_eq!(q[5].1, "2022-01-01T00:00:00+00:00");
        assert_eq!(q[6].1, "c2");
    }

    #[test]
    fn since_and_until_keep_their_offset() {
        // Python: datetime(2022, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=3))).isoformat()
        let since = time::macros::datetime!(2022-01-01 3:00 +03:00);
        let until = time::macros::datetime!(2022-06-30 23:59:59.123456 -05:30);
        let q = JobFilter::default().since(since).until(until).query("c");
        assert_eq!(q[0], ("since", "2022-01-01T03:00:00+03:00".to_owned()));
        assert_eq!(
            q[1],
            ("until", "2022-06-30T23:59:59.123456-05:30".to_owned())
        );
        let odd = time::macros::datetime!(2022-01-01 0:00 +01:02:03);
        assert_eq!(python_isoformat(odd), "2022-01-01T00:00:00+01:02:03");
    }
}
