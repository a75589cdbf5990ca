//! The job sandbox under other privileges than the root the suite runs as: a
//! neuro-local running as an unprivileged user (jobs with volumes get a user
//! namespace of their own), and one that cannot create namespaces at all
//! (a job that asks for mounts fails and says why, instead of running without
//! them): `nobody` in a user namespace whose `user.max_user_namespaces` is 0.
//!
//! Each test re-runs itself (this test binary, this one test) as a child
//! process with the privileges to test, so the platform, its jobs and the SDK
//! client all live in that child and talk over real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::process::CommandExt as _;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use common::{shell_job, volume, wait_finished, Env};
use futures::TryStreamExt as _;
use neuro_sdk::JobStatus;

const TIMEOUT: Duration = Duration::from_secs(120);

/// Set in the child: the test body runs there.
const CHILD: &str = "NEURO_TEST_PRIVILEGE_CHILD";

/// The unprivileged user (`nobody`).
const NOBODY: u32 = 65534;

async fn logs(env: &Env, id: &str) -> String {
    common::job_logs(&env.client, id).await
}

/// Runs the test `name` of this binary in a child set up by `configure`,
/// with a private temporary directory it may write; fails with the child's
/// output if the child fails.
fn run_child(name: &str, configure: impl FnOnce(&mut Command, &std::path::Path)) {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .env("TMPDIR", tmp.path())
        .env("HOME", tmp.path());
    configure(&mut cmd, tmp.path());
    let out = cmd.output().expect("run the test as a child process");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the child failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
}

/// Whether the user `uid` may create a user namespace here (the kernel's
/// `user.max_user_namespaces` and distribution switches decide).
fn unprivileged_user_namespaces_allowed(uid: u32) -> bool {
    Command::new("unshare")
        .args(["--user", "true"])
        .uid(uid)
        .gid(uid)
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn an_unprivileged_server_runs_jobs_with_read_only_volumes() {
    if std::env::var_os(CHILD).is_none() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test starts its child as user {NOBODY}, which needs root"
        );
        assert!(
            unprivileged_user_namespaces_allowed(NOBODY),
            "this kernel does not let user {NOBODY} create user namespaces \
             (see /proc/sys/user/max_user_namespaces): the unprivileged path cannot be tested"
        );
        run_child(
            "an_unprivileged_server_runs_jobs_with_read_only_volumes",
            |cmd, tmp| {
                nix::unistd::chown(
                    tmp,
                    Some(nix::unistd::Uid::from_raw(NOBODY)),
                    Some(nix::unistd::Gid::from_raw(NOBODY)),
                )
                .unwrap();
                cmd.uid(NOBODY).gid(NOBODY);
            },
        );
        return;
    }

    // In the child, as `nobody`.
    assert_eq!(nix::unistd::geteuid().as_raw(), NOBODY);
    let env = Env::start().await;
    let storage = env.client.storage();
    storage.mkdir("storage:inputs", false, false).await.unwrap();
    let data = futures::stream::iter([Ok(Bytes::from_static(b"input bytes\n"))]);
    storage.create("storage:inputs/in.txt", data).await.unwrap();
    let mut job = shell_job(
        "sh -c 'cat /mnt/neuro/in/in.txt > /mnt/neuro/out/out.txt; \
         if touch /mnt/neuro/in/new 2>/dev/null; then echo ro-writable; \
         else echo ro-refused; fi; id -u'",
    );
    job.container.volumes = vec![
        volume("storage:inputs", "/mnt/neuro/in", true),
        volume("storage:outputs", "/mnt/neuro/out", false),
    ];
    let job = env.client.jobs().start(job).await.unwrap();
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    let text = logs(&env, &job.id).await;
    assert_eq!(
        done.status,
        JobStatus::Succeeded,
        "{text} {:?}",
        done.history
    );
    // The job runs as the server's user, mapped to itself.
    assert_eq!(text, format!("ro-refused\n{NOBODY}\n"));
    let out: Vec<Bytes> = storage
        .open("storage:outputs/out.txt", 0, None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(out.concat(), b"input bytes\n");
    assert!(storage.stat("storage:inputs/new").await.is_err());
}

/// Runs the test `name` of this binary as `nobody` inside a user namespace of
/// its own whose `user.max_user_namespaces` is 0: the child can create no user
/// namespace, and as an unprivileged user no mount namespace either. The
/// namespace is made by `unshare(1)`; its id maps (root and `nobody`, each to
/// itself) are written from here, as only a process outside it may.
fn run_child_without_namespaces(name: &str) {
    let tmp = tempfile::tempdir().unwrap();
    nix::unistd::chown(
        tmp.path(),
        Some(nix::unistd::Uid::from_raw(NOBODY)),
        Some(nix::unistd::Gid::from_raw(NOBODY)),
    )
    .unwrap();
    // The shell started before its ids were mapped, so without capabilities:
    // once mapped it starts another one, as root of the namespace.
    let script = format!(
        "read go && exec sh -c 'echo 0 > /proc/sys/user/max_user_namespaces && \
         exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups \"$0\" \"$@\"' \"$0\" \"$@\""
    );
    let mut child = Command::new("unshare")
        .args(["--user", "--", "sh", "-c", &script])
        .arg(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .env("TMPDIR", tmp.path())
        .env("HOME", tmp.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run unshare(1) (util-linux)");
    // Wait for the child to be in its new user namespace, then map its ids.
    let own = std::fs::read_link("/proc/self/ns/user").unwrap();
    let ns = format!("/proc/{}/ns/user", child.id());
    let deadline = std::time::Instant::now() + TIMEOUT;
    while std::fs::read_link(&ns).is_ok_and(|n| n == own) {
        assert!(
            std::time::Instant::now() < deadline,
            "unshare never entered a user namespace"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let maps = format!("0 0 1\n{NOBODY} {NOBODY} 1\n");
    std::fs::write(format!("/proc/{}/uid_map", child.id()), &maps).unwrap();
    std::fs::write(format!("/proc/{}/gid_map", child.id()), &maps).unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the child failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
}

#[tokio::test]
async fn without_namespaces_a_job_with_mounts_fails_and_says_why() {
    if std::env::var_os(CHILD).is_none() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test maps ids into a user namespace, which needs root"
        );
        run_child_without_namespaces("without_namespaces_a_job_with_mounts_fails_and_says_why");
        return;
    }

    // In the child: no namespace can be created.
    assert_eq!(nix::unistd::geteuid().as_raw(), NOBODY);
    assert!(nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).is_err());
    assert!(nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).is_err());
    let env = Env::start().await;
    env.client
        .storage()
        .mkdir("storage:data", false, false)
        .await
        .unwrap();
    let jobs = env.client.jobs();
    let mut job = shell_job("sh -c 'echo ran-without-mounts'");
    job.container.volumes = vec![volume("storage:data", "/mnt/neuro/data", true)];
    let job = jobs.start(job).await.unwrap();
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Failed, "{:?}", done.history);
    let description = done.history.description.clone();
    assert!(
        description.contains("namespaces") && description.contains("volumes"),
        "{:?}",
        done.history
    );
    assert!(!logs(&env, &job.id).await.contains("ran-without-mounts"));

    // A job without mounts still runs.
    let plain = jobs.start(shell_job("sh -c 'echo plain'")).await.unwrap();
    let done = wait_finished(&env.client, &plain.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.history);
    assert_eq!(logs(&env, &plain.id).await, "plain\n");
}
