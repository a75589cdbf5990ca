//! A disk's capacity, status and life against a real neuro-local: writes past
//! the capacity fail inside the job with ENOSPC, a disk whose image is lost is
//! Broken after a restart, and a disk a running job uses is never reaped.
//!
//! Capacity needs loop-mounted images (root with CAP_SYS_ADMIN and loop
//! devices, see `neuro_local::disks::volume`); the tests say so when the
//! machine cannot provide them instead of passing silently.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{shell_job, wait_finished, wait_for, Env};
use futures::TryStreamExt;
use neuro_local::disks::volume::{self, Backing};
use neuro_local::LocalPlatform;
use neuro_sdk::{DiskCreate, DiskLookup, DiskStatus, DiskVolume, Factory, JobStatus};

const TIMEOUT: Duration = Duration::from_secs(60);

fn require_images() {
    if let Backing::Directory(why) = volume::backing() {
        panic!(
            "disk capacity needs loop-mounted images, which this machine cannot make ({why}); \
             run the tests as root with CAP_SYS_ADMIN and /dev/loop-control"
        );
    }
}

fn mount(disk: &neuro_sdk::Disk, at: &str, read_only: bool) -> DiskVolume {
    DiskVolume {
        disk_uri: disk.uri().unwrap(),
        container_path: at.into(),
        read_only,
    }
}

#[tokio::test]
async fn writing_past_the_capacity_fails_with_enospc_inside_the_job() {
    require_images();
    let env = Env::start().await;
    let alice = env.user("alice").await;
    let capacity: u64 = 4 << 20;
    let disk = alice
        .disks()
        .create(DiskCreate::new(capacity).name("small"))
        .await
        .unwrap();
    assert_eq!(disk.status, DiskStatus::Ready);
    assert_eq!(disk.used_bytes, Some(0));
    let host_dir = env.platform.data_dir().join("disks").join(&disk.id);
    assert!(volume::is_mounted(&host_dir), "the image is not mounted");

    // 1 MiB fits; 8 MiB more does not: the write fails with ENOSPC, reported
    // by the job's own shell, and the job sees it as a failed command.
    let mut job = shell_job(
        "sh -c 'head -c 1048576 /dev/zero > /mnt/d/fits || exit 2; \
         if head -c 8388608 /dev/zero > /mnt/d/too-big 2>/tmp/err; then exit 3; fi; \
         grep -q \"No space left on device\" /tmp/err || exit 4'",
    );
    job.container
        .disk_volumes
        .push(mount(&disk, "/mnt/d", false));
    let started = alice.jobs().start(job).await.unwrap();
    let done = wait_finished(&alice, &started.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.history);

    let measured = alice
        .disks()
        .get(&disk.id, &DiskLookup::default())
        .await
        .unwrap();
    let used = measured.used_bytes.unwrap();
    assert!(
        used > capacity / 2 && used <= capacity,
        "used_bytes {used} for a disk of {capacity}"
    );
    assert_eq!(
        std::fs::metadata(host_dir.join("fits")).unwrap().len(),
        1 << 20
    );

    // After removal nothing stays mounted or on disk.
    alice
        .disks()
        .rm(&disk.id, &DiskLookup::default())
        .await
        .unwrap();
    assert!(!volume::is_mounted(&host_dir));
    assert!(!host_dir.exists());
    assert!(!volume::image_of(&host_dir).exists());
}

#[tokio::test]
async fn a_disk_whose_image_is_lost_is_broken_after_a_restart() {
    require_images();
    let data = tempfile::tempdir().unwrap();
    let start = || {
        LocalPlatform::builder()
            .data_dir(data.path().join("data"))
            .start()
    };
    let login = |dir: &str, token: String, url: url::Url| {
        let factory = Factory::with_path(data.path().join(dir));
        async move {
            factory.login_with_token(&token, &url).await.unwrap();
            factory.get().await.unwrap()
        }
    };

    let platform = start().await.unwrap();
    let token = platform.create_user("alice").await.unwrap();
    let alice = login("config-1", token, platform.api_url()).await;
    let lost = alice
        .disks()
        .create(DiskCreate::new(2 << 20).name("lost"))
        .await
        .unwrap();
    let kept = alice
        .disks()
        .create(DiskCreate::new(2 << 20).name("kept"))
        .await
        .unwrap();
    let mut writer = shell_job("sh -c 'echo hello > /mnt/k/file'");
    writer
        .container
        .disk_volumes
        .push(mount(&kept, "/mnt/k", false));
    let started = alice.jobs().start(writer).await.unwrap();
    let done = wait_finished(&alice, &started.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.history);
    let disks_dir = platform.data_dir().join("disks");
    platform.shutdown().await;
    assert!(!volume::is_mounted(&disks_dir.join(&kept.id)));
    std::fs::remove_file(volume::image_of(&disks_dir.join(&lost.id))).unwrap();

    let platform = start().await.unwrap();
    let token = platform.create_user("alice").await.unwrap();
    let alice = login("config-2", token, platform.api_url()).await;
    let get = |id: String| {
        let alice = alice.clone();
        async move {
            alice
                .disks()
                .get(&id, &DiskLookup::default())
                .await
                .unwrap()
        }
    };
    assert_eq!(get(lost.id.clone()).await.status, DiskStatus::Broken);
    let kept_now = get(kept.id.clone()).await;
    assert_eq!(kept_now.status, DiskStatus::Ready);
    assert_eq!(kept_now.used_bytes, Some(6));

    // A job cannot mount a broken disk; the ready one still has its data.
    let mut broken_job = shell_job("true");
    broken_job
        .container
        .disk_volumes
        .push(mount(&lost, "/mnt/l", false));
    let started = alice.jobs().start(broken_job).await.unwrap();
    let done = wait_finished(&alice, &started.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Failed, "{:?}", done.history);
    let mut reader = shell_job("sh -c 'test \"$(cat /mnt/k/file)\" = hello'");
    reader
        .container
        .disk_volumes
        .push(mount(&kept, "/mnt/k", true));
    let started = alice.jobs().start(reader).await.unwrap();
    let done = wait_finished(&alice, &started.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.history);

    // A broken disk can still be removed.
    alice
        .disks()
        .rm(&lost.id, &DiskLookup::default())
        .await
        .unwrap();
    platform.shutdown().await;
}

#[tokio::test]
async fn a_disk_in_use_by_a_running_job_is_not_reaped() {
    let env = Env::start().await;
    let alice = env.user("alice").await;
    let disk = alice
        .disks()
        .create(DiskCreate::new(1 << 20).timeout_unused(Duration::from_secs(1)))
        .await
        .unwrap();
    let mut job = shell_job("sleep 600");
    job.container
        .disk_volumes
        .push(mount(&disk, "/mnt/d", false));
    let started = alice.jobs().start(job).await.unwrap();
    wait_for(&alice, &started.id, TIMEOUT, |j| {
        j.status == JobStatus::Running
    })
    .await;

    // Let the life span pass several times over while the job runs; every
    // listing runs the reaper.
    let used_until = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < used_until {
        let ids: Vec<String> = alice
            .disks()
            .list(None)
            .map_ok(|d| d.id)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(ids, std::slice::from_ref(&disk.id), "reaped while in use");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Once the job is gone the disk goes unused and is reaped.
    alice.jobs().kill(&started.id).await.unwrap();
    wait_finished(&alice, &started.id, TIMEOUT).await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let ids: Vec<String> = alice
            .disks()
            .list(None)
            .map_ok(|d| d.id)
            .try_collect()
            .await
            .unwrap();
        if ids.is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "disk never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
