//! `GET jobs` as a stream: the matching jobs are read page by page (by `seq`)
//! as the answer is sent, so a listing of any size holds one page in memory
//! and the first job goes out after the first small page.
//!
//! The caller's permission filter is applied to each page as it is read, and
//! the query's `limit` counts the jobs that pass it.

use std::sync::Arc;

use futures::{Stream, StreamExt as _, TryStreamExt as _};
use neuro_types::wire::JobPayload;

use crate::db::Db;
use crate::error::ApiError;
use crate::permissions::AccessView;
use crate::settings::Settings;

use super::super::access;
use super::super::list::ListQuery;
use super::super::model::now_us;
use super::super::payload::job_payload;
use super::super::store::{self, Page};

/// Rows of the first page: small, so the first job is out at once.
const FIRST_PAGE: u64 = 32;

/// Rows of the largest page.
const MAX_PAGE: u64 = 512;

/// Where a listing is between pages.
struct Cursor {
    db: Db,
    settings: Arc<Settings>,
    owners: Arc<Vec<String>>,
    view: Arc<AccessView>,
    query: Arc<ListQuery>,
    after: Option<i64>,
    size: u64,
    done: bool,
}

impl Cursor {
    /// The next page's visible jobs, or `None` after the last page.
    async fn next_page(mut self) -> Result<Option<(Vec<JobPayload>, Cursor)>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let page = Page {
            after: self.after,
            reverse: self.query.reverse,
            size: self.size,
        };
        let (owners, query) = (self.owners.clone(), self.query.clone());
        let jobs = self
            .db
            .call(move |conn| store::list_jobs(conn, &owners, &query.filter, page))
            .await?;
        self.done = (jobs.len() as u64) < page.size;
        self.after = jobs.last().map(|job| job.seq).or(self.after);
        self.size = (self.size * 4).min(MAX_PAGE);
        let now = now_us();
        let payloads = jobs
            .iter()
            .filter(|job| access::visible(&self.view, job))
            .map(|job| job_payload(job, &self.settings, now))
            .collect();
        Ok(Some((payloads, self)))
    }
}

/// The jobs `owners` hold that match `query` and the holder of `view` may see,
/// at most `query.limit` of them, read as the stream is polled.
pub(super) fn stream(
    db: Db,
    settings: Arc<Settings>,
    owners: Vec<String>,
    view: AccessView,
    query: ListQuery,
) -> impl Stream<Item = Result<JobPayload, ApiError>> + Send + 'static {
    let limit = query
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let cursor = Cursor {
        db,
        settings,
        owners: Arc::new(owners),
        view: Arc::new(view),
        query: Arc::new(query),
        after: None,
        size: FIRST_PAGE,
        done: false,
    };
    futures::stream::try_unfold(cursor, Cursor::next_page)
        .map_ok(|page| futures::stream::iter(page.into_iter().map(Ok)))
        .try_flatten()
        .take(limit)
}
