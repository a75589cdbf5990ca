//! [`JobTelemetry`]: one sample of a running job's resource usage.

use crate::wire::JobTelemetryPayload;

/// One telemetry sample of a running job (from `Jobs::top`).
#[derive(Debug, Clone, PartialEq)]
pub struct JobTelemetry {
    /// CPU in use, in cores.
    pub cpu: f64,
    /// Memory in use, in bytes.
    pub memory_bytes: u64,
    /// When the sample was taken, in Unix seconds.
    pub timestamp: f64,
    /// GPU utilisation in percent, for jobs with a GPU.
    pub gpu_duty_cycle: Option<u32>,
    /// GPU memory in use, in bytes, for jobs with a GPU.
    pub gpu_memory_bytes: Option<u64>,
}

impl JobTelemetry {
    /// Memory in use, in MiB.
    pub fn memory(&self) -> f64 {
        self.memory_bytes as f64 / f64::from(1u32 << 20)
    }
}

impl From<JobTelemetryPayload> for JobTelemetry {
    fn from(p: JobTelemetryPayload) -> Self {
        JobTelemetry {
            cpu: p.cpu,
            memory_bytes: p.memory_bytes,
            timestamp: p.timestamp,
            gpu_duty_cycle: p.gpu_duty_cycle,
            gpu_memory_bytes: p.gpu_memory_bytes,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_sdk_keys_and_ignores_the_rest() {
        let p: JobTelemetryPayload = serde_json::from_str(
            r#"{"cpu": 0.5, "memory": 2.0, "memory_bytes": 2097152, "timestamp": 1.5,
                "gpu_duty_cycle": 40, "gpu_memory": 1, "gpu_memory_bytes": 1048576}"#,
        )
        .unwrap();
        let t = JobTelemetry::from(p);
        assert_eq!(t.memory(), 2.0);
        assert_eq!(t.gpu_duty_cycle, Some(40));
        assert_eq!(t.gpu_memory_bytes, Some(1 << 20));
        let minimal: JobTelemetryPayload =
            serde_json::from_str(r#"{"cpu": 0, "memory_bytes": 0, "timestamp": 0}"#).unwrap();
        assert_eq!(JobTelemetry::from(minimal).gpu_duty_cycle, None);
    }
}
