//! Listings: every page of the provider's listing, as one stream of entries.

use futures::stream::{self, BoxStream, StreamExt as _};

use crate::entry::BucketEntry;
use crate::store::Store;
use crate::BlobError;

/// One page of a listing.
pub(crate) struct Page {
    /// Its entries.
    pub(crate) entries: Vec<BucketEntry>,
    /// The token of the next page; `None` on the last one.
    pub(crate) next: Option<String>,
}

/// What the listing has still to do.
enum State {
    /// Fetch the page after this token (`None`: the first one).
    Next(Option<String>),
    /// The last page was read.
    Done,
}

/// The entries under `prefix` (the prefix used verbatim, as the SDK does):
/// non-recursive listings yield common prefixes first, then objects, page
/// after page; at most `limit` entries when given.
pub(crate) fn entries(
    store: Store,
    prefix: String,
    recursive: bool,
    limit: Option<usize>,
) -> BoxStream<'static, Result<BucketEntry, BlobError>> {
    let pages = stream::unfold(State::Next(None), move |state| {
        let store = store.clone();
        let prefix = prefix.clone();
        async move {
            let State::Next(token) = state else {
                return None;
            };
            match store.list_page(&prefix, recursive, token.as_deref()).await {
                Ok(page) => {
                    let next = match page.next {
                        Some(token) => State::Next(Some(token)),
                        None => State::Done,
                    };
                    let items: Vec<Result<BucketEntry, BlobError>> =
                        page.entries.into_iter().map(Ok).collect();
                    Some((stream::iter(items), next))
                }
                Err(e) => Some((stream::iter(vec![Err(e)]), State::Done)),
            }
        }
    })
    .flatten();
    match limit {
        Some(n) => pages.take(n).boxed(),
        None => pages.boxed(),
    }
}
