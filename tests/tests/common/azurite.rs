//! Azurite (Microsoft's Azure Storage emulator, `azurite-blob`) on 127.0.0.1
//! with a free port and a private data directory, for the Azure blob tests.
//! It checks SAS signatures with the emulator account's well-known key, so
//! the SAS tokens made here are real ones. Installed by `tests/setup.sh`
//! (npm package `azurite`); without it the test fails saying so.

use std::path::Path;
use std::process::Stdio;

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::process::{Child, Command};

use super::raw::{free_ports, request, tool, wait_until};

/// The emulator's account.
pub const ACCOUNT: &str = "devstoreaccount1";
/// Its published key (the same in every Azurite).
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The SAS version signed here.
const SAS_VERSION: &str = "2019-12-12";

/// A running emulator; dropping it kills it.
pub struct Azurite {
    child: Child,
    port: u16,
}

impl Azurite {
    /// Starts the blob service storing under `dir` and waits until it answers.
    pub async fn start(dir: &Path) -> Azurite {
        let binary = tool(
            ".azurite/node_modules/.bin/azurite-blob",
            "azurite-blob",
            "Azurite",
        );
        let data = dir.join("azurite");
        std::fs::create_dir_all(&data).unwrap();
        let log = dir.join("azurite.log");
        let port = free_ports(1)[0];
        let child = Command::new(binary)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(&data)
            .arg("--silent")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Azurite: {e}"));
        let azurite = Azurite { child, port };
        wait_until("Azurite", &log, || async {
            request(port, "GET", &format!("/{ACCOUNT}?comp=list"), &[], b"")
                .await
                .is_some()
        })
        .await;
        azurite
    }

    /// `http://127.0.0.1:<port>/devstoreaccount1`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// An account SAS token for blobs valid until `expiry` (read, write,
    /// delete, list, add, create).
    pub fn sas(&self, expiry: OffsetDateTime) -> String {
        let (permissions, services, types) = ("rwdlac", "b", "sco");
        let expiry = expiry
            .replace_nanosecond(0)
            .unwrap()
            .format(&Rfc3339)
            .unwrap();
        let to_sign = format!(
            "{ACCOUNT}\n{permissions}\n{services}\n{types}\n\n{expiry}\n\n\n{SAS_VERSION}\n"
        );
        let key = base64::engine::general_purpose::STANDARD
            .decode(ACCOUNT_KEY)
            .unwrap();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let signature = base64::engine::general_purpose::STANDARD
            .encode(ring::hmac::sign(&key, to_sign.as_bytes()).as_ref());
        let encode = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        format!(
            "sv={SAS_VERSION}&ss={services}&srt={types}&sp={permissions}&se={}&sig={}",
            encode(&expiry),
            encode(&signature)
        )
    }

    /// Creates the container `name` with a SAS token; returns its name.
    pub async fn create_container(&self, name: &str) -> String {
        let sas = self.sas(OffsetDateTime::now_utc() + time::Duration::hours(1));
        let path = format!("/{ACCOUNT}/{name}?restype=container&{sas}");
        let status = request(
            self.port,
            "PUT",
            &path,
            &[("x-ms-version", "2021-08-06")],
            b"",
        )
        .await;
        assert_eq!(status, Some(201), "Azurite did not create container {name}");
        name.to_owned()
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
