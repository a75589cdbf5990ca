//! Static settings of one running platform: data directory, URLs and presets.

use std::path::{Path, PathBuf};

use neuro_types::endpoints::Base;
use neuro_types::wire::PresetPayload;
use rust_decimal::Decimal;
use url::Url;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// Everything a service needs to know about this platform instance.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Root of all persistent state (`state.db`, `jwt.key`, `storage/`, `jobs/`).
    pub data_dir: PathBuf,
    /// `http://127.0.0.1:PORT`, without a path.
    pub base_url: Url,
    /// Name of the single cluster, `default`.
    pub cluster_name: String,
    /// Resource presets: `cpu-small`, `cpu-medium`, `cpu-large`, sized from this machine.
    pub presets: Vec<PresetPayload>,
    /// CPU capacity for accounting, in cores.
    pub total_cpu: f64,
    /// Memory capacity for accounting, in bytes.
    pub total_memory: u64,
    /// Orgs of the default cluster in `/config` (`None` = "no org"); default `[None]`.
    pub orgs: Vec<Option<String>>,
    /// Further clusters listed in `/config` (opt-in; none by default). They share
    /// this platform's services, so `switch_cluster` can be exercised for real.
    pub extra_clusters: Vec<ClusterSpec>,
    /// The user the OAuth authorize page approves without asking (`None`: the
    /// browser and headless logins are refused).
    pub oauth_user: Option<String>,
    /// `expires_in` of the access tokens the OAuth token endpoint issues.
    pub access_token_ttl: std::time::Duration,
    /// A registry advertised in `/config` instead of the built-in one (jobs
    /// still run only images of the built-in registry in their root file system).
    pub external_registry: Option<Url>,
    /// Lifetime of the temporary bucket credentials `make_tmp_credentials`
    /// hands out.
    pub bucket_credentials_ttl: std::time::Duration,
}

/// Name and orgs of an extra cluster listed in `/config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// Cluster name.
    pub name: String,
    /// Orgs of the cluster (`None` = "no org"), in order; the first is picked at login.
    pub orgs: Vec<Option<String>>,
}

/// Default lifetime of an access token issued by the OAuth endpoints: one day.
pub const DEFAULT_ACCESS_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(86_400);

impl Settings {
    /// Settings for a platform serving `base_url` from `data_dir`, with presets sized
    /// from this machine's CPU count and memory.
    pub fn new(data_dir: PathBuf, base_url: Url) -> Settings {
        let machine = Machine::detect();
        Settings {
            data_dir,
            base_url,
            cluster_name: "default".to_owned(),
            presets: machine.presets(),
            total_cpu: machine.cpu,
            total_memory: machine.memory,
            orgs: vec![None],
            extra_clusters: Vec::new(),
            oauth_user: None,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            external_registry: None,
            bucket_credentials_ttl: crate::buckets::keys::TMP_CREDENTIALS_TTL,
        }
    }

    /// `{base}/api/v1`.
    pub fn api_url(&self) -> Url {
        self.url(Base::ApiUrl)
    }

    /// `{base}/api/v1/storage`.
    pub fn storage_url(&self) -> Url {
        self.url(Base::StorageUrl)
    }

    /// `{base}/api/v1/jobs`: logs, top, exec and the other monitoring calls.
    pub fn monitoring_url(&self) -> Url {
        self.url(Base::MonitoringUrl)
    }

    /// `{base}/`: the registry v2 API lives at `/v2/`; or the external
    /// registry advertised instead.
    pub fn registry_url(&self) -> Url {
        self.external_registry
            .clone()
            .unwrap_or_else(|| self.own_registry_url())
    }

    /// `{base}/`: the built-in registry, whatever `/config` advertises.
    pub fn own_registry_url(&self) -> Url {
        self.url(Base::RegistryUrl)
    }

    /// `{base}/api/v1/users`.
    pub fn users_url(&self) -> Url {
        self.url(Base::UsersUrl)
    }

    /// `{base}/api/v1/secrets`.
    pub fn secrets_url(&self) -> Url {
        self.url(Base::SecretsUrl)
    }

    /// `{base}/api/v1/disk`.
    pub fn disks_url(&self) -> Url {
        self.url(Base::DisksUrl)
    }

    /// `{base}/api/v1/buckets`.
    pub fn buckets_url(&self) -> Url {
        self.url(Base::BucketsUrl)
    }

    /// `{data_dir}/jobs`.
    pub fn jobs_dir(&self) -> PathBuf {
        self.data_dir.join("jobs")
    }

    /// `{data_dir}/storage`: one sub-directory per user.
    pub fn storage_dir(&self) -> PathBuf {
        self.data_dir.join("storage")
    }

    /// `{data_dir}/state.db`.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("state.db")
    }

    /// The preset called `name`, if any.
    pub fn preset(&self, name: &str) -> Option<&PresetPayload> {
        self.presets.iter().find(|p| p.name == name)
    }

    /// The public URL of the service `base`: the base URL with the path where
    /// the endpoint table says neuro-local serves it.
    pub fn url(&self, base: Base) -> Url {
        let mut url = self.base_url.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.set_path(base.local_path());
        if url.path().is_empty() {
            url.set_path("/");
        }
        url
    }
}

/// CPU count and memory of this machine.
#[derive(Debug, Clone, Copy)]
struct Machine {
    cpu: f64,
    memory: u64,
}

impl Machine {
    fn detect() -> Machine {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let memory = read_meminfo_total(Path::new("/proc/meminfo")).unwrap_or(4 * GIB);
        Machine {
            cpu: cpus as f64,
            memory,
        }
    }

    fn presets(self) -> Vec<PresetPayload> {
        let small_cpu = round_cpu((self.cpu * 0.1).max(0.1));
        let medium_cpu = round_cpu((self.cpu * 0.5).max(small_cpu));
        let large_cpu = self.cpu;
        let large_mem = round_mib((self.memory / 2).max(256 * MIB));
        let small_mem = round_mib(GIB.min(large_mem / 4).max(128 * MIB));
        let medium_mem = round_mib((2 * GIB).min(large_mem / 2).max(small_mem));
        vec![
            preset("cpu-small", small_cpu, small_mem, Decimal::new(5, 2)),
            preset("cpu-medium", medium_cpu, medium_mem, Decimal::new(25, 2)),
            preset("cpu-large", large_cpu, large_mem, Decimal::new(1, 0)),
        ]
    }
}

fn preset(name: &str, cpu: f64, memory: u64, credits_per_hour: Decimal) -> PresetPayload {
    PresetPayload {
        name: name.to_owned(),
        cpu,
        memory,
        credits_per_hour,
        gpu: None,
        gpu_model: None,
        scheduler_enabled: false,
        preemptible_node: false,
        tpu: None,
        memory_mb: Some(memory / MIB),
    }
}

fn round_cpu(cpu: f64) -> f64 {
    (cpu * 10.0).round() / 10.0
}

fn round_mib(bytes: u64) -> u64 {
    bytes / MIB * MIB
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn read_meminfo_total(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix("MemTotal:")?;
        let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib * 1024)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let base = Url::parse("http://127.0.0.1:8080").unwrap();
        Settings::new(PathBuf::from("/tmp/x"), base)
    }

    #[test]
    fn urls() {
        let s = settings();
        assert_eq!(s.api_url().as_str(), "http://127.0.0.1:8080/api/v1");
        assert_eq!(
            s.storage_url().as_str(),
            "http://127.0.0.1:8080/api/v1/storage"
        );
        assert_eq!(
            s.monitoring_url().as_str(),
            "http://127.0.0.1:8080/api/v1/jobs"
        );
        assert_eq!(s.registry_url().as_str(), "http://127.0.0.1:8080/");
        assert_eq!(s.jobs_dir(), PathBuf::from("/tmp/x/jobs"));
    }

    #[test]
    fn presets_fit_the_machine() {
        let s = settings();
        let names: Vec<_> = s.presets.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["cpu-small", "cpu-medium", "cpu-large"]);
        for p in &s.presets {
            assert!(p.cpu <= s.total_cpu.max(0.1));
            assert!(p.memory <= s.total_memory.max(256 * MIB));
        }
        assert!(s.preset("cpu-small").is_some());
        assert!(s.preset("gpu").is_none());
    }

    #[test]
    fn meminfo() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meminfo");
        std::fs::write(&p, "MemTotal:       16318412 kB\nMemFree: 1 kB\n").unwrap();
        assert_eq!(read_meminfo_total(&p), Some(16318412 * 1024));
    }
}
