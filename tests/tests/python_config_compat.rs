//! The config directory is shared with the Python client (`neuro-sdk==22.7.1`
//! and its `neuro` CLI, from the conformance venv): a login made by either is
//! used by the other, including cluster/org switches and token refreshes.
//!
//! The venv is the one of `tests/conformance/setup.sh` (or
//! `$NEURO_CONFORMANCE_VENV`); the test runs that script, which reuses an
//! existing venv.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use neuro_local::{LocalPlatform, RunningPlatform};
use neuro_sdk::Factory;
use tempfile::TempDir;

fn venv_bin() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let conformance = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance");
        let status = Command::new("bash")
            .arg(conformance.join("setup.sh"))
            .status()
            .expect("run tests/conformance/setup.sh");
        assert!(status.success(), "tests/conformance/setup.sh failed");
        let venv = std::env::var_os("NEURO_CONFORMANCE_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| conformance.join(".venv"));
        venv.join("bin")
    })
}

/// Runs the `neuro` CLI on config directory `dir`; returns stdout.
async fn neuro(dir: &Path, args: &[&str]) -> String {
    let out = tokio::process::Command::new(venv_bin().join("neuro"))
        .args([
            "--skip-stats",
            "--disable-pypi-version-check",
            "--neuromation-config",
        ])
        .arg(dir)
        .args(args)
        .env("NEURO_CLI_DISABLE_PYPI_VERSION_CHECK", "1")
        .env("HOME", dir.parent().unwrap())
        .env_remove("NEURO_PASSED_CONFIG")
        .output()
        .await
        .expect("run neuro");
    assert!(
        out.status.success(),
        "neuro {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a Python snippet with `neuro_sdk` on config directory `dir`; the
/// snippet defines `async def main(client)`, whose result is printed.
async fn python(dir: &Path, body: &str) -> String {
    let script = format!(
        "import asyncio, neuro_sdk\nfrom yarl import URL\n{body}\n\
         async def run():\n    client = await neuro_sdk.get(path=__import__('pathlib').Path({dir:?}))\n\
         \x20   try:\n        print(await main(client))\n    finally:\n        await client.close()\n\
         asyncio.run(run())\n",
        dir = dir.display().to_string()
    );
    let out = tokio::process::Command::new(venv_bin().join("python"))
        .arg("-c")
        .arg(script)
        .env("HOME", dir.parent().unwrap())
        .env_remove("NEURO_PASSED_CONFIG")
        .output()
        .await
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn platform() -> RunningPlatform {
    LocalPlatform::builder()
        .orgs(vec![None, Some("acme".into())])
        .extra_cluster("second", vec![Some("beta".into()), Some("alpha".into())])
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_login_by_the_python_cli_serves_this_sdk() {
    let platform = platform().await;
    let home = TempDir::new().unwrap();
    let dir = home.path().join("neuro");
    let token = platform.create_user("carol").await.unwrap();
    neuro(
        &dir,
        &[
            "config",
            "login-with-token",
            &token,
            platform.api_url().as_str(),
        ],
    )
    .await;
    neuro(&dir, &["config", "switch-cluster", "second"]).await;

    let factory = Factory::with_path(&dir).project_dir(home.path());
    let client = factory.get().await.unwrap();
    assert_eq!(client.username(), "carol");
    assert_eq!(client.cluster_name(), "second");
    assert_eq!(client.config().org_name(), Some("alpha"));
    assert!(client.config().presets().get("cpu-small").is_some());

    // And back: a switch made here is what the CLI shows. (neuro-local serves
    // storage for the default cluster without an org only.)
    let mut client = client;
    client.switch_cluster("default").await.unwrap();
    client
        .storage()
        .mkdir("storage:made-by-rust", true, true)
        .await
        .unwrap();
    client.switch_org(Some("acme")).await.unwrap();
    let shown = neuro(&dir, &["config", "show"]).await;
    assert!(shown.contains("carol"), "{shown}");
    assert_eq!(
        python(
            &dir,
            "async def main(c):\n    return f'{c.config.cluster_name} {c.config.org_name}'"
        )
        .await,
        "default acme"
    );
}

#[tokio::test]
async fn a_login_by_this_sdk_serves_the_python_client() {
    let platform = platform().await;
    let home = TempDir::new().unwrap();
    let dir = home.path().join("neuro");
    let factory = Factory::with_path(&dir).project_dir(home.path());
    factory
        .login_with_token(platform.admin_token(), &platform.api_url())
        .await
        .unwrap();
    let mut client = factory.get().await.unwrap();
    client.switch_cluster("second").await.unwrap();
    client.switch_org(Some("beta")).await.unwrap();

    let shown = neuro(&dir, &["config", "show"]).await;
    assert!(shown.contains("admin"), "{shown}");
    assert_eq!(
        python(&dir,
            "async def main(c):\n    return f'{c.config.username} {c.config.cluster_name} {c.config.org_name} {sorted(c.config.clusters)}'").await,
        "admin second beta ['default', 'second']"
    );
    // The Python client can use it for requests.
    neuro(
        &dir,
        &["mkdir", "-p", "storage://default/admin/from-python"],
    )
    .await;
}

#[tokio::test]
async fn a_python_headless_login_is_refreshed_here_and_still_read_there() {
    let platform = LocalPlatform::builder()
        .oauth_user("dave")
        .start()
        .await
        .unwrap();
    let home = TempDir::new().unwrap();
    let dir = home.path().join("neuro");
    let script = format!(
        "import asyncio, re, aiohttp, neuro_sdk, pathlib\nfrom yarl import URL\n\
         async def code(url):\n    async with aiohttp.ClientSession() as s:\n        async with s.get(url) as r:\n            html = await r.text()\n    return re.search(r'<code id=\"code\">([^<]+)</code>', html).group(1)\n\
         async def main():\n    f = neuro_sdk.Factory(pathlib.Path({dir:?}))\n    await f.login_headless(code, url=URL({url:?}))\n\
         asyncio.run(main())\n",
        dir = dir.display().to_string(),
        url = platform.api_url().as_str()
    );
    let out = tokio::process::Command::new(venv_bin().join("python"))
        .arg("-c")
        .arg(script)
        .env("HOME", home.path())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let conn = rusqlite::Connection::open(dir.join("db")).unwrap();
    let (old, refresh): (String, String) = conn
        .query_row("SELECT token, refresh_token FROM main", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(!refresh.is_empty());
    conn.execute("UPDATE main SET expiration_time = 1.0", [])
        .unwrap();

    let client = Factory::with_path(&dir)
        .project_dir(home.path())
        .get()
        .await
        .unwrap();
    assert_eq!(client.username(), "dave");
    client
        .storage()
        .mkdir("storage:after-refresh", true, true)
        .await
        .unwrap();
    let (new, kept): (String, String) = conn
        .query_row("SELECT token, refresh_token FROM main", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_ne!(new, old);
    assert_eq!(kept, refresh);
    assert_eq!(
        python(&dir, "async def main(c):\n    return (await c.config.token()) == c.config._config_data.auth_token.token").await,
        "True"
    );
    assert!(neuro(&dir, &["config", "show"]).await.contains("dave"));
}
