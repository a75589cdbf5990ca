//! Logs and telemetry of a job: [`Jobs::monitor`] and [`Jobs::top`].

use bytes::Bytes;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use neuro_http::{Message, WsStream};
use neuro_types::endpoints::{self, paths};
use neuro_types::jobs::JobTelemetry;
use neuro_types::wire::JobTelemetryPayload;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::jobs::check_id;
use crate::{Jobs, JobsError};

/// Socket reads of a log stream: the size of the server's log frames.
const LOG_READ_SIZE: usize = 1024 * 1024;

/// Options of [`Jobs::monitor`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MonitorOptions {
    /// Only lines that arrived at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Prefix every line with its arrival time (RFC 3339).
    pub timestamps: bool,
    /// Sent between the archived logs and the live ones.
    pub separator: Option<String>,
    /// Ask the server for debug output.
    pub debug: bool,
}

impl MonitorOptions {
    /// No filter, no timestamps, no separator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only lines that arrived at or after `since`.
    pub fn since(mut self, since: OffsetDateTime) -> Self {
        self.since = Some(since);
        self
    }

    /// Prefix every line with its arrival time.
    pub fn timestamps(mut self, on: bool) -> Self {
        self.timestamps = on;
        self
    }

    /// Put `separator` between archived and live logs.
    pub fn separator(mut self, separator: impl Into<String>) -> Self {
        self.separator = Some(separator.into());
        self
    }
}

pub(crate) fn ws_error(e: neuro_http::tungstenite::Error) -> JobsError {
    JobsError::WebSocket(Box::new(e))
}

impl Jobs {
    /// The job's log as a stream of byte chunks (`log_ws`), from its start until
    /// the job ends and the server closes the stream. Chunks need not end on
    /// line or UTF-8 boundaries.
    ///
    /// ```no_run
    /// # // no_run: `job-1` stands for a running job of the caller (docs/jobs.md runs this call on a real one)
    /// # async fn demo(jobs: neuro_jobs::Jobs) -> Result<(), neuro_jobs::JobsError> {
    /// use futures::TryStreamExt;
    /// use neuro_jobs::MonitorOptions;
    ///
    /// let mut logs = std::pin::pin!(jobs.monitor("job-1", MonitorOptions::new().timestamps(true)));
    /// while let Some(chunk) = logs.try_next().await? {
    ///     print!("{}", String::from_utf8_lossy(&chunk));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn monitor(
        &self,
        id: &str,
        options: MonitorOptions,
    ) -> impl Stream<Item = Result<Bytes, JobsError>> + Send + 'static {
        let this = self.clone();
        let id = id.to_owned();
        futures::stream::once(async move { this.log_socket(&id, &options).await })
            .map_ok(|ws| {
                ws.filter_map(|message| async move {
                    match message {
                        Ok(Message::Binary(data)) if data.is_empty() => None,
                        Ok(Message::Binary(data)) => Some(Ok(data)),
                        Ok(Message::Text(_)) => Some(Err(JobsError::Protocol(
                            "a text frame in a log stream".into(),
                        ))),
                        Ok(_) => None,
                        Err(e) => Some(Err(ws_error(e))),
                    }
                })
            })
            .try_flatten()
    }

    async fn log_socket(&self, id: &str, options: &MonitorOptions) -> Result<WsStream, JobsError> {
        let mut request = self
            .config()
            .transport()
            .ws_connect(self.url(
                &endpoints::MONITORING_LOG_WS,
                &paths::monitoring_log_ws(check_id(id)?),
            )?)
            .read_buffer_size(LOG_READ_SIZE);
        if let Some(since) = options.since {
            let text = since
                .format(&Rfc3339)
                .map_err(|e| JobsError::InvalidArgument(format!("invalid since: {e}")))?;
            request = request.query("since", text);
        }
        if options.timestamps {
            request = request.query("timestamps", "true");
        }
        if let Some(separator) = &options.separator {
            request = request.query("separator", separator);
        }
        if options.debug {
            request = request.query("debug", "true");
        }
        Ok(request.send().await?)
    }

    /// Telemetry of the running job (`top`), about one sample a second until
    /// the job ends. A job that is not running ends the stream with
    /// [`JobsError::NotRunning`].
    pub fn top(
        &self,
        id: &str,
    ) -> impl Stream<Item = Result<JobTelemetry, JobsError>> + Send + 'static {
        let this = self.clone();
        let id = id.to_owned();
        let start = async move {
            let url = this.url(
                &endpoints::MONITORING_TOP,
                &paths::monitoring_top(check_id(&id)?),
            )?;
            let ws = this.config().transport().ws_connect(url).send().await?;
            Ok::<_, JobsError>((ws, id))
        };
        futures::stream::once(start)
            .map_ok(|(ws, id)| {
                futures::stream::unfold(Some((ws, id, false)), |state| async move {
                    let (mut ws, id, received) = state?;
                    loop {
                        let item = match ws.next().await {
                            None | Some(Ok(Message::Close(_))) if !received => {
                                Err(JobsError::NotRunning(id.clone()))
                            }
                            None | Some(Ok(Message::Close(_))) => return None,
                            Some(Ok(Message::Text(text))) => serde_json::from_str::<
                                JobTelemetryPayload,
                            >(&text)
                            .map(JobTelemetry::from)
                            .map_err(|e| JobsError::Protocol(format!("invalid telemetry: {e}"))),
                            Some(Ok(Message::Binary(_))) => Err(JobsError::Protocol(
                                "a binary frame in a telemetry stream".into(),
                            )),
                            Some(Ok(_)) => continue,
                            Some(Err(e)) => Err(ws_error(e)),
                        };
                        let next = item.is_ok().then_some((ws, id, true));
                        return Some((item, next));
                    }
                })
            })
            .try_flatten()
    }
}
