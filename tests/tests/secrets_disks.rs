//! Secrets and disks through the SDK against a real neuro-local running real
//! processes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::time::Duration;

use common::{http_status, shell_job, wait_finished, Env};
use futures::TryStreamExt;
use neuro_sdk::{
    DiskCreate, DiskLookup, DiskStatus, DiskVolume, JobStatus, SecretFile, SecretOptions,
};
use url::Url;

const TIMEOUT: Duration = Duration::from_secs(60);

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn secret_env_reaches_the_job_and_is_never_stored_in_clear() {
    let env = Env::start().await;
    let alice = env.user("alice").await;
    let value = "v3ry-s3cret-VALUE-7f1c";
    let opts = SecretOptions::default();
    alice
        .secrets()
        .add("api-token", b"first", &opts)
        .await
        .unwrap();
    // add replaces the value
    alice
        .secrets()
        .add("api-token", value.as_bytes(), &opts)
        .await
        .unwrap();
    alice.secrets().add("other", b"x", &opts).await.unwrap();

    let secrets: Vec<_> = alice
        .secrets()
        .list(&SecretOptions::default())
        .try_collect()
        .await
        .unwrap();
    let keys: Vec<&str> = secrets.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["api-token", "other"]);
    assert_eq!(secrets[0].owner, "alice");
    assert_eq!(secrets[0].cluster_name, "default");
    assert_eq!(
        secrets[0].uri().unwrap().as_str(),
        "secret://default/alice/api-token"
    );

    let out = env.dir.path().join("secret.out");
    let file_out = env.dir.path().join("secret-file.out");
    let secret = Url::parse("secret://default/alice/api-token").unwrap();
    let mut start = shell_job(&format!(
        "sh -c 'printf %s \"$TOKEN\" > {}; cat /var/run/neuro/token > {}; \
         test $(stat -c %a /var/run/neuro/token) = 600 || exit 5; \
         if echo x 2>/dev/null > /var/run/neuro/token; then exit 7; fi'",
        out.display(),
        file_out.display()
    ));
    start
        .container
        .secret_env
        .insert("TOKEN".into(), secret.clone());
    start.container.secret_files.push(SecretFile {
        secret_uri: secret,
        container_path: "/var/run/neuro/token".into(),
    });
    let started = alice.jobs().start(start).await.unwrap();
    let done = wait_finished(&alice, &started.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.history);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), value);
    assert_eq!(std::fs::read_to_string(&file_out).unwrap(), value);
    assert_eq!(
        started.container.settings.secret_files[0].container_path,
        "/var/run/neuro/token"
    );

    // Nowhere in the data directory (database, WAL, logs, job files) in clear:
    // the decrypted secret file goes with the job's end, which its supervisor
    // finishes just after recording the final status.
    let data_dir = env.platform.data_dir();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let found = files_containing(data_dir, value.as_bytes());
        if found.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "secret in clear in {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!data_dir
        .join("jobs")
        .join(&started.id)
        .join("secrets")
        .exists());
    let key_mode = std::fs::metadata(data_dir.join("secrets.key"))
        .unwrap()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);

    // A job referring to a missing secret fails instead of running without it.
    let mut missing = shell_job("true");
    missing.container.secret_env.insert(
        "X".into(),
        Url::parse("secret://default/alice/nope").unwrap(),
    );
    let started = alice.jobs().start(missing).await.unwrap();
    let done = wait_finished(&alice, &started.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Failed);

    alice.secrets().rm("other", &opts).await.unwrap();
    let err = alice.secrets().rm("other", &opts).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let keys: Vec<String> = alice
        .secrets()
        .list(&SecretOptions::default())
        .map_ok(|s| s.key)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(keys, ["api-token"]);
    assert_eq!(
        http_status(alice.secrets().add("bad key!", b"x", &opts).await),
        400
    );
}

#[tokio::test]
async fn disks_keep_data_between_jobs_and_measure_it() {
    let env = Env::start().await;
    let alice = env.user("alice").await;
    let disk = alice
        .disks()
        .create(
            DiskCreate::new(10 << 20)
                .name("data")
                .timeout_unused(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    assert!(disk.id.starts_with("disk-"));
    assert_eq!(disk.status, DiskStatus::Ready);
    assert_eq!(disk.storage, 10 << 20);
    assert_eq!(disk.owner, "alice");
    assert_eq!(disk.name.as_deref(), Some("data"));
    assert_eq!(disk.timeout_unused, Some(Duration::from_secs(3600)));
    assert_eq!(disk.used_bytes, Some(0));
    assert_eq!(disk.last_usage, None);
    assert_eq!(
        http_status(alice.disks().create(DiskCreate::new(1).name("data")).await),
        409
    );

    let by_name = alice
        .disks()
        .get("data", &DiskLookup::default())
        .await
        .unwrap();
    assert_eq!(by_name.id, disk.id);
    let listed: Vec<_> = alice.disks().list(None).try_collect().await.unwrap();
    assert_eq!(listed.len(), 1);

    // A job mounts the disk and writes to it; the disk is marked used, the data
    // is measured and the next job, mounting it read-only, finds it there.
    let host_dir = env.platform.data_dir().join("disks").join(&disk.id);
    let volume = DiskVolume {
        disk_uri: disk.uri().unwrap(),
        container_path: "/mnt/data".into(),
        read_only: false,
    };
    let mut writer = shell_job("sh -c 'head -c 4096 /dev/zero > /mnt/data/blob'");
    writer.container.disk_volumes.push(volume.clone());
    let started = alice.jobs().start(writer).await.unwrap();
    let done = wait_finished(&alice, &started.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.history);
    assert_eq!(
        std::fs::metadata(host_dir.join("blob")).unwrap().len(),
        4096
    );
    let used = alice
        .disks()
        .get(&disk.id, &DiskLookup::default())
        .await
        .unwrap();
    assert_eq!(used.used_bytes, Some(4096));
    assert!(used.last_usage.is_some());

    let mut reader = shell_job(
        "sh -c 'test $(wc -c < /mnt/ro/blob) = 4096 || exit 3; \
         if touch /mnt/ro/new 2>/dev/null; then exit 4; fi'",
    );
    reader.container.disk_volumes.push(DiskVolume {
        container_path: "/mnt/ro".into(),
        read_only: true,
        ..volume
    });
    let started = alice.jobs().start(reader).await.unwrap();
    let done = wait_finished(&alice, &started.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.history);
    assert!(!host_dir.join("new").exists());

    alice
        .disks()
        .rm("data", &DiskLookup::default())
        .await
        .unwrap();
    assert!(!host_dir.exists());
    let err = alice
        .disks()
        .get(&disk.id, &DiskLookup::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn unused_disks_expire() {
    let env = Env::start().await;
    let alice = env.user("alice").await;
    let keep = alice.disks().create(DiskCreate::new(1024)).await.unwrap();
    let disk = alice
        .disks()
        .create(DiskCreate::new(1024).timeout_unused(Duration::from_millis(500)))
        .await
        .unwrap();
    let host_dir = env.platform.data_dir().join("disks").join(&disk.id);
    assert!(host_dir.is_dir());
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let ids: Vec<String> = alice
            .disks()
            .list(None)
            .map_ok(|d| d.id)
            .try_collect()
            .await
            .unwrap();
        if !ids.contains(&disk.id) {
            assert_eq!(ids, std::slice::from_ref(&keep.id));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "disk never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!host_dir.exists());
}

#[tokio::test]
async fn secrets_are_listed_per_org_when_an_org_is_named() {
    use neuro_sdk::types::jobs::OrgSelection;
    let env = Env::start().await;
    let alice = env.user("alice").await;
    let in_org = |org: &str| SecretOptions {
        org: OrgSelection::Org(org.into()),
        ..SecretOptions::default()
    };
    alice
        .secrets()
        .add("acme-key", b"1", &in_org("acme"))
        .await
        .unwrap();
    alice
        .secrets()
        .add("plain-key", b"2", &SecretOptions::default())
        .await
        .unwrap();
    let keys = |options: SecretOptions| {
        let alice = alice.clone();
        async move {
            alice
                .secrets()
                .list(&options)
                .map_ok(|s| (s.key, s.org_name))
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        keys(in_org("acme")).await,
        [("acme-key".to_owned(), Some("acme".to_owned()))]
    );
    assert!(keys(in_org("other")).await.is_empty());
    // No org named (and none configured): every org's secrets.
    let all = keys(SecretOptions::default()).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let no_filter = SecretOptions {
        org: OrgSelection::NoOrg,
        ..SecretOptions::default()
    };
    assert_eq!(keys(no_filter).await, all);
}
