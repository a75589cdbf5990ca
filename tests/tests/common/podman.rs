//! Podman's Docker-compatible service (`podman system service`, Debian's
//! Podman 4.3) as a private Docker engine: its storage, run root, temporary
//! files, locks, events and configuration all live in one temporary directory
//! (private `containers.conf`, `storage.conf` and `registries.conf`), so it
//! neither reads nor changes the machine's Podman state and leaves nothing
//! behind. The service process is killed and reaped, and the directory
//! removed, when the value is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running private Podman service.
pub struct Podman {
    child: Child,
    /// The Docker-API socket.
    pub socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Podman {
    /// Starts the service trusting the plain-HTTP registry `registry`
    /// (`host:port`). Fails the test with Podman's log if it does not come up.
    pub async fn start(registry: &str) -> Podman {
        // Podman refuses a run root longer than 50 characters: keep the
        // directory short (`/tmp/.tmpXXXXXX`).
        let dir = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
        let at = |name: &str| dir.path().join(name);
        std::fs::write(
            at("registries.conf"),
            format!(
                "unqualified-search-registries = []\n\n\
                 [[registry]]\nlocation = \"localhost\"\ninsecure = true\n\n\
                 [[registry]]\nlocation = \"{registry}\"\ninsecure = true\n"
            ),
        )
        .unwrap();
        std::fs::write(
            at("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                at("root").display(),
                at("run").display()
            ),
        )
        .unwrap();
        // Locks in files (not the machine-wide /dev/shm/libpod_lock), events
        // in a file, no systemd: everything under `dir`.
        std::fs::write(
            at("containers.conf"),
            format!(
                "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 lock_type = \"file\"\ntmp_dir = \"{}\"\nvolume_path = \"{}\"\n\n\
                 [network]\nnetwork_config_dir = \"{}\"\n",
                at("tmp").display(),
                at("volumes").display(),
                at("networks").display()
            ),
        )
        .unwrap();
        let socket = at("podman.sock");
        let log = std::fs::File::create(at("podman.log")).unwrap();
        let child = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .envs(Self::environment(dir.path()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("podman is needed (tests/setup.sh installs it): {e}"));
        let mut podman = Podman { child, socket, dir };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while tokio::net::UnixStream::connect(&podman.socket)
            .await
            .is_err()
        {
            let exited = podman.child.try_wait().unwrap();
            assert!(
                exited.is_none() && tokio::time::Instant::now() < deadline,
                "podman system service did not start ({exited:?}): {}",
                podman.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        podman
    }

    /// The environment that points Podman at the private configuration.
    fn environment(dir: &Path) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("CONTAINERS_CONF", dir.join("containers.conf")),
            ("CONTAINERS_STORAGE_CONF", dir.join("storage.conf")),
            ("CONTAINERS_REGISTRIES_CONF", dir.join("registries.conf")),
            // Podman's compat push leaves a temporary file per push in TMPDIR.
            ("TMPDIR", dir.to_path_buf()),
            ("XDG_RUNTIME_DIR", dir.to_path_buf()),
        ]
    }

    /// The `podman` CLI on the service's storage (`podman images`, ...): its
    /// standard output; fails the test if it fails.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("podman")
            .args(args)
            .envs(Self::environment(self.dir.path()))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// What the service wrote to its standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("podman.log")).unwrap_or_default()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Reaped before the directory goes, so nothing writes into it while
        // it is removed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
