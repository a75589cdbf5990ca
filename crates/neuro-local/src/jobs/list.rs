//! The query of `GET /api/v1/jobs`: parsing and the filter it produces.
//!
//! Parameters, as the SDK sends them (wire-protocol-core §7.7): `status`, `owner`,
//! `tag` and `cluster_name` may repeat; `name`; `since` and `until` (ISO 8601, a
//! `+` of the offset arrives as `%2B`); `reverse=1`; `limit` (> 0); `materialized`,
//! `being_dropped` and `logs_removed` as `True`/`False`. Unknown parameters are
//! ignored, as on the platform.

use neuro_types::endpoints::query;
use neuro_types::jobs::JobStatus;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use super::model::datetime_to_us;

/// What a listed job must match. Every present criterion must hold; within a
/// repeated criterion any value matches, except tags, which must all be present.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFilter {
    /// Any of these statuses (empty: any status).
    pub statuses: Vec<JobStatus>,
    /// Exactly this job name.
    pub name: Option<String>,
    /// Any of these owners (empty: every owner the caller may see).
    pub owners: Vec<String>,
    /// All of these tags.
    pub tags: Vec<String>,
    /// Created at or after this time (microseconds since the epoch).
    pub since_us: Option<i64>,
    /// Created at or before this time (microseconds since the epoch).
    pub until_us: Option<i64>,
    /// Any of these clusters (empty: any cluster).
    pub clusters: Vec<String>,
    /// The `materialized` flag.
    pub materialized: Option<bool>,
    /// The `being_dropped` flag.
    pub being_dropped: Option<bool>,
    /// The `logs_removed` flag.
    pub logs_removed: Option<bool>,
}

/// A parsed `GET jobs` query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Which jobs.
    pub filter: JobFilter,
    /// Newest first.
    pub reverse: bool,
    /// At most this many jobs.
    pub limit: Option<u64>,
}

impl ListQuery {
    /// Parses a raw (still percent-encoded) query string. The error is the message
    /// of a `400` answer.
    pub fn parse(raw: &str) -> Result<ListQuery, String> {
        let mut query = ListQuery::default();
        for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            let value = value.into_owned();
            let f = &mut query.filter;
            match key.as_ref() {
                query::STATUS => f.statuses.push(
                    JobStatus::parse_known(&value)
                        .map_err(|_| format!("'{value}' is not a valid JobStatus"))?,
                ),
                query::NAME if !value.is_empty() => f.name = Some(value),
                query::OWNER => f.owners.push(value),
                query::TAG => f.tags.push(value),
                query::CLUSTER_NAME => f.clusters.push(value),
                query::SINCE => f.since_us = Some(parse_time("since", &value)?),
                query::UNTIL => f.until_us = Some(parse_time("until", &value)?),
                query::REVERSE => query.reverse = parse_bool("reverse", &value)?,
                query::LIMIT => {
                    let limit: i64 = value.trim().parse().map_err(|_| {
                        format!("invalid literal for int() with base 10: '{value}'")
                    })?;
                    if limit <= 0 {
                        return Err("limit should be > 0".to_owned());
                    }
                    query.limit = u64::try_from(limit).ok();
                }
                query::MATERIALIZED => f.materialized = Some(parse_bool("materialized", &value)?),
                query::BEING_DROPPED => {
                    f.being_dropped = Some(parse_bool("being_dropped", &value)?)
                }
                query::LOGS_REMOVED => f.logs_removed = Some(parse_bool("logs_removed", &value)?),
                _ => {}
            }
        }
        Ok(query)
    }
}

/// `True`/`False` as Python's `str(bool)` writes them, plus `1`/`0`, `yes`/`no`
/// and any capitalisation.
fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("invalid boolean value for {key}: '{value}'")),
    }
}

/// ISO 8601 with an offset (`2022-01-01T00:00:00+00:00`, `...Z`); a time without
/// an offset or a bare date is taken as UTC, as the platform's `iso8601` parser
/// does. A literal `+` sent unencoded arrives as a space and is put back.
fn parse_time(key: &str, value: &str) -> Result<i64, String> {
    let text = value.trim();
    parse_time_text(text)
        .or_else(|| parse_time_text(&text.replace(' ', "+")))
        .map(datetime_to_us)
        .ok_or_else(|| format!("Unable to parse date string '{value}' in {key}"))
}

fn parse_time_text(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let naive_formats = [
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    ];
    for format in naive_formats {
        if let Ok(t) = PrimitiveDateTime::parse(text, format) {
            return Some(t.assume_utc());
        }
    }
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .ok()
        .map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sdk_default_query() {
        let q = ListQuery::parse("cluster_name=default&being_dropped=False&logs_removed=False")
            .unwrap();
        assert_eq!(q.filter.clusters, ["default"]);
        assert_eq!(q.filter.being_dropped, Some(false));
        assert_eq!(q.filter.logs_removed, Some(false));
        assert_eq!(q.filter.materialized, None);
        assert!(!q.reverse);
        assert_eq!(q.limit, None);
    }

    #[test]
    fn repeated_and_typed_params() {
        let q = ListQuery::parse(
            "status=running&status=pending&name=my-job&owner=alice&owner=bob&tag=a&tag=b\
             &since=2022-01-01T00:00:00%2B00:00&until=2022-01-02T00:00:00Z&reverse=1&limit=5\
             &materialized=True&whatever=x",
        )
        .unwrap();
        assert_eq!(q.filter.statuses, [JobStatus::Running, JobStatus::Pending]);
        assert_eq!(q.filter.name.as_deref(), Some("my-job"));
        assert_eq!(q.filter.owners, ["alice", "bob"]);
        assert_eq!(q.filter.tags, ["a", "b"]);
        assert_eq!(q.filter.since_us, Some(1_640_995_200_000_000));
        assert_eq!(q.filter.until_us, Some(1_641_081_600_000_000));
        assert!(q.reverse);
        assert_eq!(q.limit, Some(5));
        assert_eq!(q.filter.materialized, Some(true));
    }

    #[test]
    fn lenient_times() {
        let plus_as_space = ListQuery::parse("since=2022-01-01T01:00:00+01:00").unwrap();
        assert_eq!(plus_as_space.filter.since_us, Some(1_640_995_200_000_000));
        let naive = ListQuery::parse("since=2022-01-01T00:00:00.5").unwrap();
        assert_eq!(naive.filter.since_us, Some(1_640_995_200_500_000));
        let date = ListQuery::parse("until=2022-01-01").unwrap();
        assert_eq!(date.filter.until_us, Some(1_640_995_200_000_000));
    }

    #[test]
    fn bad_values() {
        assert_eq!(
            ListQuery::parse("limit=0").unwrap_err(),
            "limit should be > 0"
        );
        assert!(ListQuery::parse("limit=-3").is_err());
        assert!(ListQuery::parse("limit=x").is_err());
        assert_eq!(
            ListQuery::parse("status=bogus").unwrap_err(),
            "'bogus' is not a valid JobStatus"
        );
        // The client-side placeholder is not a status the server knows.
        assert!(ListQuery::parse("status=unknown").is_err());
        assert!(ListQuery::parse("since=yesterday").is_err());
        assert!(ListQuery::parse("reverse=maybe").is_err());
    }
}
