//! `GET {monitoring}/{id}/top`: telemetry of a running job as TEXT frames of
//! JSON, about one per second, read from `/proc` for the job's process group;
//! the server closes when the job's process ends (wire-protocol-core §8.2).
//!
//! A job that is not running gets a closed socket without frames, which the
//! SDK reports as "Job is not running".

use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use neuro_types::permission::Action;
use neuro_types::wire::JobTelemetryPayload;

use crate::auth::AuthUser;
use crate::jobs::model::MIB;
use crate::jobs::runtime::group_members;
use crate::state::AppState;

use super::logs::client_gone;
use super::WsError;

/// Between two samples.
const PERIOD: Duration = Duration::from_secs(1);

/// The window of the first sample, so it comes quickly.
const FIRST_WINDOW: Duration = Duration::from_millis(200);

/// The handler.
pub async fn top(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ws: WebSocketUpgrade,
) -> Result<Response, WsError> {
    let job = state.jobs.job(&user.name, &id, Action::Read).await?;
    let io = state.jobs.io(&job.id);
    Ok(ws.on_upgrade(move |mut socket| async move {
        if let Some(io) = io {
            let mut window = FIRST_WINDOW;
            while let Some(pgid) = io.state().pid {
                let before = Usage::of_group(pgid);
                let started = Instant::now();
                tokio::select! {
                    () = tokio::time::sleep(window) => {}
                    gone = client_gone(&mut socket) => if gone { return },
                }
                if io.state().pid != Some(pgid) {
                    break;
                }
                let after = Usage::of_group(pgid);
                let sample = after.sample(&before, started.elapsed());
                let Ok(text) = serde_json::to_string(&sample) else {
                    break;
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
                window = PERIOD;
            }
        }
        let _ = socket.send(Message::Close(None)).await;
    }))
}

/// CPU time and resident memory of a process group at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    /// User plus system time, in clock ticks.
    ticks: u64,
    /// Resident pages.
    pages: u64,
}

impl Usage {
    /// Sums `/proc/<pid>/stat` over the live members of group `pgid`.
    fn of_group(pgid: i32) -> Usage {
        group_members(pgid)
            .into_iter()
            .filter_map(proc_usage)
            .fold(Usage::default(), |a, b| Usage {
                ticks: a.ticks + b.ticks,
                pages: a.pages + b.pages,
            })
    }

    /// The sample for the interval from `before` to `self`.
    fn sample(&self, before: &Usage, elapsed: Duration) -> JobTelemetryPayload {
        let ticks_per_second = clock_ticks() as f64;
        let seconds = elapsed.as_secs_f64().max(1e-3);
        let cpu = self.ticks.saturating_sub(before.ticks) as f64 / ticks_per_second / seconds;
        let memory_bytes = self.pages * page_size();
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9;
        JobTelemetryPayload {
            cpu: (cpu * 1000.0).round() / 1000.0,
            memory: Some(memory_bytes as f64 / MIB as f64),
            memory_bytes,
            timestamp,
            gpu_duty_cycle: None,
            gpu_memory_bytes: None,
        }
    }
}

/// utime + stime (fields 14 and 15) and rss (field 24) of one process.
fn proc_usage(pid: i32) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // `fields[0]` is field 3 (state).
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Usage {
        ticks: field(14)? + field(15)?,
        pages: field(24)?,
    })
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0)
        .unwrap_or(100)
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0)
        .unwrap_or(4096)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn own_usage_is_read() {
        let me = i32::try_from(std::process::id()).unwrap();
        let usage = proc_usage(me).unwrap();
        assert!(usage.pages > 0);
        let sample = usage.sample(&Usage::default(), Duration::from_secs(1));
        assert!(sample.memory_bytes > 1024 * 1024);
        assert!(sample.cpu >= 0.0);
        assert!(sample.timestamp > 1.6e9);
    }
}
