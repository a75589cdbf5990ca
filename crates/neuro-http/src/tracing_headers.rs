//! Distributed-tracing headers (`b3`, `sentry-trace`) sent with platform requests.
//!
//! Wire notes §1.2: `b3: <trace_id>-<span_id>` and
//! `sentry-trace: <trace_id>-<span_id>-<sampled>`, where `<sampled>` is `1`, `0` or empty.

use std::time::{SystemTime, UNIX_EPOCH};

/// Name of the Zipkin single-header.
pub const B3: &str = "b3";
/// Name of the Sentry tracing header.
pub const SENTRY_TRACE: &str = "sentry-trace";

/// A new trace id: 32 lower-case hex digits, the high 32 bits being the Unix time in
/// seconds and the low 96 bits random (AWS X-Ray compatible, like the Python SDK).
pub fn gen_trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let high = u128::from(secs) & 0xffff_ffff;
    let low = rand::random::<u128>() & ((1u128 << 96) - 1);
    format!("{:032x}", (high << 96) | low)
}

/// A new span id: 16 random lower-case hex digits.
pub fn gen_span_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The values of the `b3` and `sentry-trace` headers for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeaders {
    /// Value of `b3`.
    pub b3: String,
    /// Value of `sentry-trace`.
    pub sentry_trace: String,
}

impl TraceHeaders {
    /// Formats the headers for a trace id, span id and sampling decision
    /// (`None` = unknown, which leaves `sentry-trace` ending in `-`).
    pub fn new(trace_id: &str, span_id: &str, sampled: Option<bool>) -> Self {
        let sampled = match sampled {
            Some(true) => "1",
            Some(false) => "0",
            None => "",
        };
        TraceHeaders {
            b3: format!("{trace_id}-{span_id}"),
            sentry_trace: format!("{trace_id}-{span_id}-{sampled}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_lower_hex(s: &str) -> bool {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    #[test]
    fn trace_id_format() {
        let id = gen_trace_id();
        assert_eq!(id.len(), 32);
        assert!(is_lower_hex(&id));
        let high = u64::from_str_radix(&id[..8], 16).unwrap_or_default();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        assert!(now.abs_diff(high) <= 2, "high bits {high} vs now {now}");
        assert_ne!(gen_trace_id()[8..], id[8..]);
    }

    #[test]
    fn span_id_format() {
        let id = gen_span_id();
        assert_eq!(id.len(), 16);
        assert!(is_lower_hex(&id));
        assert_ne!(gen_span_id(), id);
    }

    #[test]
    fn header_values() {
        let t = "0123456789abcdef0123456789abcdef";
        let s = "fedcba9876543210";
        let h = TraceHeaders::new(t, s, None);
        assert_eq!(h.b3, format!("{t}-{s}"));
        assert_eq!(h.sentry_trace, format!("{t}-{s}-"));
        assert_eq!(
            TraceHeaders::new(t, s, Some(true)).sentry_trace,
            format!("{t}-{s}-1")
        );
        assert_eq!(
            TraceHeaders::new(t, s, Some(false)).sentry_trace,
            format!("{t}-{s}-0")
        );
    }
}
