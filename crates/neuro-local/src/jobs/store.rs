//! The jobs tables of the platform database and every query on them.
//!
//! `jobs` holds one row per job: the immutable spec as JSON plus the columns the
//! list filters and the service update. `job_transitions` holds the status history.
//! A partial unique index on `(owner, name)` over unfinished jobs makes "a name is
//! unique among the owner's unfinished jobs" atomic.
//!
//! Statuses are stored by their wire spelling (`pending`, ...); a stored status
//! the server does not know is a conversion error, never a guess. The `priority`
//! column holds the platform's integers (`-1`, `0`, `1`); the spec keeps the
//! spelling.

use neuro_types::jobs::{JobPriority, JobStatus};
use rusqlite::types::{Type, Value};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::list::JobFilter;
use super::model::{JobRecord, JobSpec, Transition};

/// Creates the jobs tables (idempotent). Called by `Db::open`.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS jobs (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             id TEXT NOT NULL UNIQUE,
             owner TEXT NOT NULL,
             cluster_name TEXT NOT NULL,
             org_name TEXT,
             name TEXT,
             status TEXT NOT NULL,
             created_at INTEGER NOT NULL,
             priority INTEGER NOT NULL DEFAULT 0,
             tags TEXT NOT NULL DEFAULT '[]',
             spec TEXT NOT NULL,
             max_run_time_minutes INTEGER,
             materialized INTEGER NOT NULL DEFAULT 0,
             being_dropped INTEGER NOT NULL DEFAULT 0,
             logs_removed INTEGER NOT NULL DEFAULT 0,
             passed_config TEXT,
             pid INTEGER,
             pid_start INTEGER
         );
         CREATE INDEX IF NOT EXISTS jobs_owner_seq ON jobs(owner, seq);
         CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
         CREATE UNIQUE INDEX IF NOT EXISTS jobs_active_name ON jobs(owner, name)
             WHERE name IS NOT NULL AND status IN ('pending', 'suspended', 'running');
         CREATE TABLE IF NOT EXISTS job_transitions (
             job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
             idx INTEGER NOT NULL,
             status TEXT NOT NULL,
             time INTEGER NOT NULL,
             reason TEXT NOT NULL DEFAULT '',
             description TEXT NOT NULL DEFAULT '',
             exit_code INTEGER,
             PRIMARY KEY (job_id, idx)
         );
         CREATE TABLE IF NOT EXISTS job_quotas (
             user_name TEXT PRIMARY KEY NOT NULL REFERENCES users(name) ON DELETE CASCADE,
             running_jobs INTEGER NOT NULL
         );",
    )
}

/// The running-jobs quota of every user that has one.
pub(crate) fn running_jobs_quotas(
    conn: &Connection,
) -> rusqlite::Result<std::collections::HashMap<String, u32>> {
    let mut stmt = conn.prepare_cached("SELECT user_name, running_jobs FROM job_quotas")?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// The running-jobs quota of `user`, if any.
pub(crate) fn running_jobs_quota(conn: &Connection, user: &str) -> rusqlite::Result<Option<u32>> {
    conn.query_row(
        "SELECT running_jobs FROM job_quotas WHERE user_name = ?1",
        params![user],
        |row| row.get(0),
    )
    .optional()
}

/// Sets (or, with `None`, removes) the running-jobs quota of `user`, an
/// existing user (the `neuro-local user quota` command).
pub fn set_running_jobs_quota(
    conn: &Connection,
    user: &str,
    limit: Option<u32>,
) -> rusqlite::Result<()> {
    match limit {
        Some(limit) => conn.execute(
            "INSERT INTO job_quotas (user_name, running_jobs) VALUES (?1, ?2)
             ON CONFLICT(user_name) DO UPDATE SET running_jobs = excluded.running_jobs",
            params![user, limit],
        )?,
        None => conn.execute("DELETE FROM job_quotas WHERE user_name = ?1", params![user])?,
    };
    Ok(())
}

/// How many unfinished jobs (pending, suspended or running) `owner` has.
pub(crate) fn active_jobs_of(conn: &Connection, owner: &str) -> rusqlite::Result<u32> {
    conn.query_row(
        &format!("SELECT COUNT(*) FROM jobs WHERE owner = ?1 AND status IN {ACTIVE_STATUSES_SQL}"),
        params![owner],
        |row| row.get(0),
    )
}

/// Statuses of unfinished jobs, as SQL text.
const ACTIVE_STATUSES_SQL: &str = "('pending', 'suspended', 'running')";

/// A job about to be inserted.
#[derive(Debug, Clone)]
pub(crate) struct NewJob {
    pub id: String,
    pub owner: String,
    pub cluster_name: String,
    pub spec: JobSpec,
    pub max_run_time_minutes: Option<i64>,
    pub first: Transition,
    /// Base64 `NEURO_PASSED_CONFIG` value, injected at start and never returned.
    pub passed_config: Option<String>,
}

/// Why a job could not be inserted.
#[derive(Debug)]
pub(crate) enum InsertError {
    /// Another unfinished job of the owner has that name; carries its id.
    NameTaken(String),
    /// The database failed.
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for InsertError {
    fn from(err: rusqlite::Error) -> Self {
        InsertError::Db(err)
    }
}

fn to_sql_err(err: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(err))
}

/// The `priority` column: the integer the platform stores.
fn priority_rank(priority: JobPriority) -> i64 {
    match priority {
        JobPriority::Low => -1,
        JobPriority::Normal => 0,
        JobPriority::High => 1,
    }
}

/// Reads the status stored in column `idx` of `row`.
fn status_column(row: &Row<'_>, idx: usize) -> rusqlite::Result<JobStatus> {
    let text: String = row.get(idx)?;
    JobStatus::parse_known(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

/// Inserts a new job with its first transition; returns its `seq`.
pub(crate) fn insert_job(conn: &mut Connection, job: &NewJob) -> Result<i64, InsertError> {
    let spec = serde_json::to_string(&job.spec).map_err(to_sql_err)?;
    let tags = serde_json::to_string(&job.spec.tags).map_err(to_sql_err)?;
    let tx = conn.transaction()?;
    let inserted = tx.execute(
        "INSERT INTO jobs (id, owner, cluster_name, org_name, name, status, created_at,
                           priority, tags, spec, max_run_time_minutes, passed_config)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            job.id,
            job.owner,
            job.cluster_name,
            job.spec.org_name,
            job.spec.name,
            job.first.status.as_str(),
            job.first.time_us,
            priority_rank(job.spec.priority),
            tags,
            spec,
            job.max_run_time_minutes,
            job.passed_config,
        ],
    );
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            drop(tx);
            let existing = match &job.spec.name {
                Some(name) => active_job_named(conn, &job.owner, name)?,
                None => None,
            };
            return Err(match existing {
                Some(id) => InsertError::NameTaken(id),
                None => InsertError::Db(rusqlite::Error::SqliteFailure(e, None)),
            });
        }
        Err(err) => return Err(err.into()),
    }
    let seq = tx.last_insert_rowid();
    insert_transition(&tx, &job.id, 0, &job.first)?;
    tx.commit()?;
    Ok(seq)
}

fn active_job_named(
    conn: &Connection,
    owner: &str,
    name: &str,
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        &format!(
            "SELECT id FROM jobs WHERE owner = ?1 AND name = ?2 AND status IN {ACTIVE_STATUSES_SQL}"
        ),
        params![owner, name],
        |row| row.get(0),
    )
    .optional()
}

fn insert_transition(
    conn: &Connection,
    id: &str,
    idx: i64,
    t: &Transition,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO job_transitions (job_id, idx, status, time, reason, description, exit_code)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            idx,
            t.status.as_str(),
            t.time_us,
            t.reason,
            t.description,
            t.exit_code
        ],
    )?;
    Ok(())
}

/// Appends a transition unless the job is unknown, already finished, or the
/// transition repeats the current one. Returns whether it was recorded.
pub(crate) fn add_transition(
    conn: &mut Connection,
    id: &str,
    t: &Transition,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let Some(transitions) = load_transitions_opt(&tx, id)? else {
        return Ok(false);
    };
    if let Some(last) = transitions.last() {
        if last.status.is_finished() || last.same_as(t) {
            return Ok(false);
        }
    }
    let idx = i64::try_from(transitions.len()).unwrap_or(i64::MAX);
    // Keep timestamps monotonic even if the wall clock stepped back.
    let mut t = t.clone();
    if let Some(last) = transitions.last() {
        t.time_us = t.time_us.max(last.time_us);
    }
    insert_transition(&tx, id, idx, &t)?;
    tx.execute(
        "UPDATE jobs SET status = ?2, materialized = ?3 WHERE id = ?1",
        params![id, t.status.as_str(), t.status == JobStatus::Running],
    )?;
    if t.status.is_finished() {
        tx.execute(
            "UPDATE jobs SET pid = NULL, pid_start = NULL WHERE id = ?1",
            params![id],
        )?;
    }
    tx.commit()?;
    Ok(true)
}

/// Records the process running the job (`None` clears it).
pub(crate) fn set_process(
    conn: &Connection,
    id: &str,
    process: Option<(i32, Option<u64>)>,
) -> rusqlite::Result<()> {
    let (pid, start) = match process {
        Some((pid, start)) => (Some(pid), start.and_then(|s| i64::try_from(s).ok())),
        None => (None, None),
    };
    conn.execute(
        "UPDATE jobs SET pid = ?2, pid_start = ?3 WHERE id = ?1",
        params![id, pid, start],
    )?;
    Ok(())
}

/// The process recorded for the job: pid and its start time in clock ticks.
pub(crate) fn process_of(
    conn: &Connection,
    id: &str,
) -> rusqlite::Result<Option<(i32, Option<u64>)>> {
    let row: Option<(Option<i32>, Option<i64>)> = conn
        .query_row(
            "SELECT pid, pid_start FROM jobs WHERE id = ?1",
            params![id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    Ok(row.and_then(|(pid, start)| pid.map(|p| (p, start.and_then(|s| u64::try_from(s).ok())))))
}

/// The `NEURO_PASSED_CONFIG` value stored for the job, if it asked for one.
pub(crate) fn passed_config(conn: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT passed_config FROM jobs WHERE id = ?1",
            params![id],
            |row| row.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// Adds minutes to the job's life span (an unlimited one starts from 0). Returns
/// the new value, or `None` for an unknown job.
pub(crate) fn add_max_run_time(
    conn: &Connection,
    id: &str,
    minutes: i64,
) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "UPDATE jobs SET max_run_time_minutes = COALESCE(max_run_time_minutes, 0) + ?2
         WHERE id = ?1 RETURNING max_run_time_minutes",
        params![id, minutes],
        |row| row.get(0),
    )
    .optional()
}

/// Sets the job's life span. Returns the new value, or `None` for an unknown job.
pub(crate) fn set_max_run_time(
    conn: &Connection,
    id: &str,
    minutes: i64,
) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "UPDATE jobs SET max_run_time_minutes = ?2 WHERE id = ?1 RETURNING max_run_time_minutes",
        params![id, minutes],
        |row| row.get(0),
    )
    .optional()
}

const JOB_COLUMNS: &str = "seq, id, owner, cluster_name, status, spec, max_run_time_minutes,
                           materialized, being_dropped, logs_removed";

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let spec: String = row.get(5)?;
    let spec: JobSpec = serde_json::from_str(&spec)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(5, Type::Text, Box::new(e)))?;
    Ok(JobRecord {
        seq: row.get(0)?,
        id: row.get(1)?,
        owner: row.get(2)?,
        cluster_name: row.get(3)?,
        status: status_column(row, 4)?,
        spec,
        transitions: Vec::new(),
        max_run_time_minutes: row.get(6)?,
        materialized: row.get(7)?,
        being_dropped: row.get(8)?,
        logs_removed: row.get(9)?,
    })
}

fn load_transitions_opt(conn: &Connection, id: &str) -> rusqlite::Result<Option<Vec<Transition>>> {
    let exists: Option<i64> = conn
        .query_row("SELECT seq FROM jobs WHERE id = ?1", params![id], |row| {
            row.get(0)
        })
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    load_transitions(conn, id).map(Some)
}

fn load_transitions(conn: &Connection, id: &str) -> rusqlite::Result<Vec<Transition>> {
    let mut stmt = conn.prepare_cached(
        "SELECT status, time, reason, description, exit_code FROM job_transitions
         WHERE job_id = ?1 ORDER BY idx",
    )?;
    let rows = stmt.query_map(params![id], |row| {
        Ok(Transition {
            status: status_column(row, 0)?,
            time_us: row.get(1)?,
            reason: row.get(2)?,
            description: row.get(3)?,
            exit_code: row.get(4)?,
        })
    })?;
    rows.collect()
}

fn with_transitions(
    conn: &Connection,
    mut jobs: Vec<JobRecord>,
) -> rusqlite::Result<Vec<JobRecord>> {
    for job in &mut jobs {
        job.transitions = load_transitions(conn, &job.id)?;
    }
    Ok(jobs)
}

/// The job with this id.
pub(crate) fn get_job(conn: &Connection, id: &str) -> rusqlite::Result<Option<JobRecord>> {
    let job = conn
        .query_row(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
            params![id],
            job_from_row,
        )
        .optional()?;
    match job {
        Some(job) => Ok(with_transitions(conn, vec![job])?.pop()),
        None => Ok(None),
    }
}

/// The owner's newest job with this name, finished or not.
pub(crate) fn get_job_by_name(
    conn: &Connection,
    owner: &str,
    name: &str,
) -> rusqlite::Result<Option<JobRecord>> {
    let job = conn
        .query_row(
            &format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE owner = ?1 AND name = ?2
                 ORDER BY seq DESC LIMIT 1"
            ),
            params![owner, name],
            job_from_row,
        )
        .optional()?;
    match job {
        Some(job) => Ok(with_transitions(conn, vec![job])?.pop()),
        None => Ok(None),
    }
}

/// Jobs in any of `statuses`, in creation order.
pub(crate) fn jobs_with_status(
    conn: &Connection,
    statuses: &[JobStatus],
) -> rusqlite::Result<Vec<JobRecord>> {
    if statuses.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; statuses.len()].join(", ");
    let mut stmt = conn.prepare(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ({marks}) ORDER BY seq"
    ))?;
    let jobs = stmt
        .query_map(
            params_from_iter(statuses.iter().map(|s| s.as_str())),
            job_from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    with_transitions(conn, jobs)
}

/// The tags of `owner`'s jobs, each once, most recently used first (by the
/// newest job that carries it).
pub(crate) fn owner_tags(conn: &Connection, owner: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT tag.value, MAX(jobs.seq) AS last FROM jobs, json_each(jobs.tags) AS tag
         WHERE jobs.owner = ?1 GROUP BY tag.value ORDER BY last DESC",
    )?;
    let rows = stmt.query_map(params![owner], |row| row.get(0))?;
    rows.collect()
}

/// One page of a listing: where it starts and how many rows it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    /// Only jobs after this `seq` (before it, when newest first).
    pub after: Option<i64>,
    /// Newest first.
    pub reverse: bool,
    /// At most this many rows.
    pub size: u64,
}

/// One page of the jobs of `owners` that match `filter`, in `seq` order (a
/// listing walks the pages by the last `seq` it saw, so nothing is held
/// between pages and the connection is free in between).
pub(crate) fn list_jobs(
    conn: &Connection,
    owners: &[String],
    filter: &JobFilter,
    page: Page,
) -> rusqlite::Result<Vec<JobRecord>> {
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    let mut any_of = |sql: &mut String, column: &str, values: Vec<Value>| {
        let marks = vec!["?"; values.len()].join(", ");
        sql.push_str(&format!(" AND {column} IN ({marks})"));
        args.extend(values);
    };
    any_of(
        &mut sql,
        "owner",
        owners.iter().map(|o| Value::Text(o.clone())).collect(),
    );
    if !filter.statuses.is_empty() {
        any_of(
            &mut sql,
            "status",
            filter
                .statuses
                .iter()
                .map(|s| Value::Text(s.as_str().to_owned()))
                .collect(),
        );
    }
    if !filter.clusters.is_empty() {
        any_of(
            &mut sql,
            "cluster_name",
            filter
                .clusters
                .iter()
                .map(|c| Value::Text(c.clone()))
                .collect(),
        );
    }
    if let Some(name) = &filter.name {
        sql.push_str(" AND name = ?");
        args.push(Value::Text(name.clone()));
    }
    for tag in &filter.tags {
        sql.push_str(" AND EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE json_each.value = ?)");
        args.push(Value::Text(tag.clone()));
    }
    if let Some(since) = filter.since_us {
        sql.push_str(" AND created_at >= ?");
        args.push(Value::Integer(since));
    }
    if let Some(until) = filter.until_us {
        sql.push_str(" AND created_at <= ?");
        args.push(Value::Integer(until));
    }
    for (column, value) in [
        ("materialized", filter.materialized),
        ("being_dropped", filter.being_dropped),
        ("logs_removed", filter.logs_removed),
    ] {
        if let Some(value) = value {
            sql.push_str(&format!(" AND {column} = ?"));
            args.push(Value::Integer(i64::from(value)));
        }
    }
    if let Some(after) = page.after {
        sql.push_str(if page.reverse {
            " AND seq < ?"
        } else {
            " AND seq > ?"
        });
        args.push(Value::Integer(after));
    }
    sql.push_str(if page.reverse {
        " ORDER BY seq DESC LIMIT ?"
    } else {
        " ORDER BY seq ASC LIMIT ?"
    });
    args.push(Value::Integer(i64::try_from(page.size).unwrap_or(i64::MAX)));
    let mut stmt = conn.prepare_cached(&sql)?;
    let jobs = stmt
        .query_map(params_from_iter(args), job_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    with_transitions(conn, jobs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    use super::super::model::reason;
    use super::super::request::parse_submission;
    use super::*;
    use crate::settings::Settings;

    /// A database holding one pending job `job-1` submitted with `priority`.
    fn db_with_job(priority: &str) -> Connection {
        let settings = Settings::new(
            PathBuf::from("/tmp/x"),
            url::Url::parse("http://127.0.0.1:1").unwrap(),
        );
        let body = serde_json::json!({"image": "ubuntu", "priority": priority});
        let submission = parse_submission(body.to_string().as_bytes(), true, &settings).unwrap();
        let job = NewJob {
            id: "job-1".to_owned(),
            owner: "alice".to_owned(),
            cluster_name: "default".to_owned(),
            spec: submission.spec,
            max_run_time_minutes: None,
            first: Transition::now(JobStatus::Pending, reason::CREATING, ""),
            passed_config: None,
        };
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        insert_job(&mut conn, &job).map_err(|_| ()).unwrap();
        conn
    }

    #[test]
    fn statuses_and_priorities_are_stored_as_on_the_platform() {
        let conn = db_with_job("HIGH");
        let (status, priority, spec): (String, i64, String) = conn
            .query_row("SELECT status, priority, spec FROM jobs", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((status.as_str(), priority), ("pending", 1));
        let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
        assert_eq!(spec["priority"], "high");
        assert_eq!(spec["restart_policy"], "never");
        let job = get_job(&conn, "job-1").unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Pending);
        assert_eq!(job.spec.priority, JobPriority::High);
        assert_eq!(job.transitions[0].status, JobStatus::Pending);
        assert_eq!(
            [JobPriority::Low, JobPriority::Normal, JobPriority::High].map(priority_rank),
            [-1, 0, 1]
        );
    }

    #[test]
    fn an_unknown_stored_status_is_an_error() {
        let conn = db_with_job("normal");
        conn.execute("UPDATE jobs SET status = 'unknown'", [])
            .unwrap();
        assert!(matches!(
            get_job(&conn, "job-1"),
            Err(rusqlite::Error::FromSqlConversionFailure(4, Type::Text, _))
        ));
        conn.execute("UPDATE jobs SET status = 'running'", [])
            .unwrap();
        conn.execute("UPDATE job_transitions SET status = 'exploded'", [])
            .unwrap();
        assert!(matches!(
            get_job(&conn, "job-1"),
            Err(rusqlite::Error::FromSqlConversionFailure(0, Type::Text, _))
        ));
    }
}
