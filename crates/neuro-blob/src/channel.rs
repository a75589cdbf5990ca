//! What every provider protocol shares: temporary credentials renewed before
//! they expire (and once more when the provider says they have), requests
//! sent through neuro-http's transport, the clock difference with the
//! provider measured from its `Date` headers, and error answers decoded by
//! the provider's [`Dialect`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::Stream;
use neuro_http::{header, Method, Response, Transport};
use neuro_storage::clock::{Clock, TimeDiff};
use neuro_types::{Bucket, BucketCredentials};
use time::OffsetDateTime;
use url::Url;

use crate::BlobError;

/// Renew temporary credentials when less than this is left of them (or half
/// their lifetime, if that is shorter).
const REFRESH_MARGIN: Duration = Duration::from_secs(10 * 60);

/// Asks the platform for fresh credentials of the bucket.
pub(crate) type Refresher =
    Arc<dyn Fn() -> BoxFuture<'static, Result<BucketCredentials, BlobError>> + Send + Sync>;

/// How one provider reads its credentials and its error answers.
pub(crate) trait Dialect: Send + Sync + 'static {
    /// The credentials requests are authorised with.
    type Credentials: Send + Sync + 'static;

    /// The credentials in `creds` and when they expire (`None`: never).
    fn credentials(
        creds: &BucketCredentials,
    ) -> Result<(Self::Credentials, Option<OffsetDateTime>), BlobError>;

    /// The error a failed answer stands for: `code` is the provider's error
    /// code header when it sends one, `text` the body.
    fn error(
        operation: &'static str,
        key: &str,
        status: u16,
        code: Option<&str>,
        text: &str,
    ) -> BlobError;

    /// Whether `error` says the credentials are no longer valid.
    fn is_expired(error: &BlobError) -> bool;
}

/// A value of `creds` by name, or [`BlobError::MissingCredential`].
pub(crate) fn required<'a>(
    creds: &'a BucketCredentials,
    key: &'static str,
) -> Result<&'a str, BlobError> {
    creds
        .credentials
        .get(key)
        .map(String::as_str)
        .ok_or(BlobError::MissingCredential(key))
}

/// The time in the credential `key` (RFC 3339 / ISO 8601), if present.
pub(crate) fn expiry(
    creds: &BucketCredentials,
    key: &'static str,
) -> Result<Option<OffsetDateTime>, BlobError> {
    creds
        .credentials
        .get(key)
        .map(|t| {
            neuro_types::wire::serde_util::iso8601::parse(t).map_err(|e| {
                BlobError::InvalidArgument(format!("invalid credential {key} {t:?}: {e}"))
            })
        })
        .transpose()
}

/// A request body, made once per attempt.
pub(crate) enum Body {
    /// No body.
    Empty,
    /// Bytes in memory.
    Bytes(Bytes),
    /// A stream of exactly `len` bytes.
    Stream {
        /// The data.
        stream: BodyStream,
        /// Its length (sent as `Content-Length`).
        len: u64,
    },
}

/// A streamed request body.
pub(crate) type BodyStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static>>;

/// An authorised request: its URL and the headers carrying the credentials.
pub(crate) struct Authorized {
    /// Where to send it (for presigned protocols, with the signature).
    pub(crate) url: Url,
    /// `Authorization` and the like.
    pub(crate) headers: Vec<(header::HeaderName, String)>,
}

impl Authorized {
    /// A URL that carries its own authorisation.
    pub(crate) fn url(url: Url) -> Self {
        Self {
            url,
            headers: Vec::new(),
        }
    }
}

/// The credentials in use and when to replace them.
struct Current<C> {
    credentials: Arc<C>,
    refresh_at: Option<OffsetDateTime>,
}

fn current<D: Dialect>(creds: &BucketCredentials) -> Result<Current<D::Credentials>, BlobError> {
    let (credentials, expires) = D::credentials(creds)?;
    let refresh_at = expires.map(|expires| {
        let left: time::Duration = expires - OffsetDateTime::now_utc();
        let most = time::Duration::try_from(REFRESH_MARGIN).unwrap_or_default();
        let half: time::Duration = left / 2_i32;
        expires - half.min(most)
    });
    Ok(Current {
        credentials: Arc::new(credentials),
        refresh_at,
    })
}

/// One bucket at its provider: credentials, transport and clock.
pub(crate) struct Channel<D: Dialect> {
    bucket: Arc<Bucket>,
    transport: Transport,
    current: tokio::sync::Mutex<Current<D::Credentials>>,
    refresher: Option<Refresher>,
    clock: Clock,
}

impl<D: Dialect> Channel<D> {
    /// A channel with the credentials `creds`, renewed with `refresher`.
    pub(crate) fn new(
        bucket: Arc<Bucket>,
        creds: &BucketCredentials,
        transport: Transport,
        refresher: Option<Refresher>,
    ) -> Result<Self, BlobError> {
        Ok(Self {
            bucket,
            transport,
            current: tokio::sync::Mutex::new(current::<D>(creds)?),
            refresher,
            clock: Clock::default(),
        })
    }

    /// The platform bucket.
    pub(crate) fn bucket(&self) -> &Arc<Bucket> {
        &self.bucket
    }

    /// The last measured clock difference with the provider.
    pub(crate) fn time_diff(&self) -> TimeDiff {
        self.clock.get()
    }

    /// The credentials to use, renewed first when due (or when `stale` is
    /// the set the provider just refused).
    pub(crate) async fn credentials(
        &self,
        stale: Option<&Arc<D::Credentials>>,
    ) -> Result<Arc<D::Credentials>, BlobError> {
        let mut current = self.current.lock().await;
        let refused = stale.is_some_and(|s| Arc::ptr_eq(s, &current.credentials));
        let due = current
            .refresh_at
            .is_some_and(|at| OffsetDateTime::now_utc() >= at);
        if refused || due {
            if let Some(refresher) = &self.refresher {
                tracing::debug!(bucket = %self.bucket.id, "renewing bucket credentials");
                *current = self::current::<D>(&refresher().await?)?;
            }
        }
        Ok(Arc::clone(&current.credentials))
    }

    /// Authorises (with `authorize`) and sends one request. A refusal
    /// because the credentials expired is retried once with fresh ones.
    /// Statuses ≥ 400 become the dialect's errors.
    pub(crate) async fn send<F>(
        &self,
        operation: &'static str,
        key: &str,
        method: Method,
        authorize: F,
        body: impl Fn() -> Body,
        headers: &[(header::HeaderName, String)],
    ) -> Result<Response, BlobError>
    where
        F: Fn(&D::Credentials) -> Result<Authorized, BlobError>,
    {
        let mut stale = None;
        loop {
            let creds = self.credentials(stale.as_ref()).await?;
            let authorized = authorize(&creds)?;
            let mut request = self
                .transport
                .request(method.clone(), authorized.url)
                .no_auth()
                .no_trace()
                .follow_redirects(false);
            for (name, value) in authorized.headers.iter().chain(headers) {
                request = request.header(name.clone(), value.as_str());
            }
            request = match body() {
                Body::Empty => request,
                Body::Bytes(bytes) => request.body_bytes(bytes),
                Body::Stream { stream, len } => request
                    .header(header::CONTENT_LENGTH, len.to_string())
                    .body_stream(stream),
            };
            let sent = SystemTime::now();
            let response = request.send_raw().await?;
            self.clock.observe(sent, response.header_str(header::DATE));
            let status = response.status().as_u16();
            if status < 400 {
                return Ok(response);
            }
            let code = response.header_str("x-ms-error-code").map(str::to_owned);
            let text = response.text().await.unwrap_or_default();
            let error = D::error(operation, key, status, code.as_deref(), &text);
            let retry = stale.is_none() && self.refresher.is_some() && D::is_expired(&error);
            if !retry {
                return Err(error);
            }
            stale = Some(creds);
        }
    }

    /// A provider 404 on `key` becomes [`BlobError::NotFound`].
    pub(crate) fn not_found(&self, key: &str, error: BlobError) -> BlobError {
        if error.is_not_found() {
            BlobError::NotFound {
                bucket: self
                    .bucket
                    .name
                    .clone()
                    .unwrap_or_else(|| self.bucket.id.clone()),
                key: key.to_owned(),
            }
        } else {
            error
        }
    }
}

/// The `Range` header value for `len` bytes from `offset` (to the end when
/// `len` is `None`); `None` when the whole object is wanted.
pub(crate) fn range(offset: u64, len: Option<u64>) -> Option<String> {
    match len {
        Some(0) => None,
        Some(n) => Some(format!("bytes={offset}-{}", offset + n - 1)),
        None if offset > 0 => Some(format!("bytes={offset}-")),
        None => None,
    }
}

/// The text of the first `<tag>` of a small XML error document.
pub(crate) fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find("</")? + start;
    Some(text[start..end].to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_documents_give_code_and_message() {
        let doc = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code>\
                   <Message>The key does not exist</Message></Error>";
        assert_eq!(xml_tag(doc, "Code").as_deref(), Some("NoSuchKey"));
        assert_eq!(
            xml_tag(doc, "Message").as_deref(),
            Some("The key does not exist")
        );
        assert_eq!(xml_tag(doc, "Resource"), None);
    }
}
