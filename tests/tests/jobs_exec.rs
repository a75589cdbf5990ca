//! attach, exec and port forwarding through the SDK against real processes in
//! a real neuro-local.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{shell_job, start_running, wait_finished, Env};
use neuro_sdk::jobs::{StdStream, StdStreamOptions};
use neuro_sdk::JobStatus;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const TIMEOUT: Duration = Duration::from_secs(120);

/// Reads output (all channels, or only `fileno`) until it contains `needle`.
async fn read_until(session: &mut StdStream, fileno: Option<u8>, needle: &str) -> String {
    let mut seen = String::new();
    let read = async {
        while !seen.contains(needle) {
            let message = session.read_out().await.unwrap();
            let message = message.unwrap_or_else(|| panic!("ended before {needle:?}: {seen:?}"));
            if fileno.is_none_or(|f| f == message.fileno) {
                seen.push_str(&String::from_utf8_lossy(&message.data));
            }
        }
    };
    tokio::time::timeout(TIMEOUT, read)
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} in {seen:?}"));
    seen
}

/// Reads to the end of the session and returns the exit code.
async fn exit_code(session: &mut StdStream) -> i32 {
    let drain = async { while session.read_out().await.unwrap().is_some() {} };
    tokio::time::timeout(TIMEOUT, drain).await.unwrap();
    session.exit_status().expect("an exit message").code
}

#[tokio::test]
async fn exec_runs_in_the_jobs_environment_with_exit_codes() {
    let env = Env::start().await;
    let mut job = shell_job("sleep 300");
    job.container
        .env
        .insert("GREETING".into(), "hello from the job".into());
    let job = start_running(&env.client, job, TIMEOUT).await;
    let jobs = env.client.jobs();

    // stdout and stderr on their channels, and a non-zero exit code.
    let mut session = jobs
        .exec(
            &job.id,
            "sh -c 'echo \"$GREETING\"; echo oops >&2; exit 3'",
            StdStreamOptions::pipes(),
        )
        .await
        .unwrap();
    read_until(&mut session, Some(1), "hello from the job\n").await;
    read_until(&mut session, Some(2), "oops\n").await;
    assert_eq!(exit_code(&mut session).await, 3);
    // After the end, reads return None and writes do nothing.
    assert!(session.read_out().await.unwrap().is_none());

    // Exit code 0 is reported too.
    let mut session = jobs
        .exec(&job.id, "true", StdStreamOptions::pipes())
        .await
        .unwrap();
    assert_eq!(exit_code(&mut session).await, 0);
    assert!(session.exit_status().unwrap().success());

    // stdin: cat echoes what is written, in a terminal; ^D ends it with 0.
    let mut session = jobs
        .exec(&job.id, "cat", StdStreamOptions::terminal())
        .await
        .unwrap();
    session.write_in(b"echo me\n").await.unwrap();
    let seen = read_until(&mut session, None, "echo me\r\necho me\r\n").await;
    assert!(seen.contains("echo me"), "{seen:?}");
    session.write_in(b"\x04").await.unwrap();
    assert_eq!(exit_code(&mut session).await, 0);

    // stdin through pipes, with the halves in different tasks.
    let session = jobs
        .exec(&job.id, "head -n 2", StdStreamOptions::pipes())
        .await
        .unwrap();
    let (mut reader, mut writer) = session.into_split();
    let writing = tokio::spawn(async move {
        writer.write_in(b"one\ntwo\nthree\n").await.unwrap();
        writer
    });
    let mut out = Vec::new();
    while let Some(message) = reader.read_out().await.unwrap() {
        out.extend_from_slice(&message.data);
    }
    assert_eq!(out, b"one\ntwo\n");
    assert_eq!(reader.exit_status().unwrap().code, 0);
    writing.await.unwrap().close().await.unwrap();

    // A job that does not run cannot be exec'd into.
    jobs.kill(&job.id).await.unwrap();
    wait_finished(&env.client, &job.id, TIMEOUT).await;
    let err = jobs
        .exec(&job.id, "true", StdStreamOptions::pipes())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn attach_to_a_tty_job_resizes_its_terminal() {
    let env = Env::start().await;
    let mut job = shell_job("sh");
    job.container.tty = true;
    let job = start_running(&env.client, job, TIMEOUT).await;
    let jobs = env.client.jobs();
    let mut session = jobs
        .attach(&job.id, StdStreamOptions::terminal())
        .await
        .unwrap();
    session.resize(33, 101).await.unwrap();
    session.write_in(b"stty size\n").await.unwrap();
    read_until(&mut session, Some(1), "33 101").await;
    session.resize(40, 120).await.unwrap();
    session.write_in(b"stty size; exit 5\n").await.unwrap();
    read_until(&mut session, Some(1), "40 120").await;
    assert_eq!(exit_code(&mut session).await, 5);
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.history.exit_code, Some(5));
}

#[tokio::test]
async fn attach_without_a_terminal_feeds_stdin_and_keeps_the_streams_apart() {
    let env = Env::start().await;
    // Reads its stdin line by line, answering on stdout and on stderr.
    let job = start_running(
        &env.client,
        shell_job(
            "sh -c 'while read line; do echo \"out:$line\"; echo \"err:$line\" >&2; \
             [ \"$line\" = bye ] && exit 7; done'",
        ),
        TIMEOUT,
    )
    .await;
    let jobs = env.client.jobs();

    // Output only: no stdin asked for, nothing typed reaches the job.
    let mut watcher = jobs
        .attach(
            &job.id,
            StdStreamOptions {
                stdout: true,
                ..StdStreamOptions::default()
            },
        )
        .await
        .unwrap();

    let mut session = jobs
        .attach(&job.id, StdStreamOptions::pipes())
        .await
        .unwrap();
    session.write_in(b"hello\n").await.unwrap();
    read_until(&mut session, Some(1), "out:hello\n").await;
    read_until(&mut session, Some(2), "err:hello\n").await;

    // The watcher sees stdout only, on channel 1.
    let seen = read_until(&mut watcher, None, "out:hello\n").await;
    assert!(!seen.contains("err:"), "{seen:?}");
    watcher.write_in(b"ignored\n").await.unwrap();

    session.write_in(b"bye\n").await.unwrap();
    let mut out = String::new();
    let mut err = String::new();
    let drain = async {
        while let Some(message) = session.read_out().await.unwrap() {
            let text = String::from_utf8_lossy(&message.data).into_owned();
            match message.fileno {
                1 => out.push_str(&text),
                2 => err.push_str(&text),
                other => panic!("unexpected channel {other}"),
            }
        }
    };
    tokio::time::timeout(TIMEOUT, drain).await.unwrap();
    assert_eq!(out, "out:bye\n");
    assert_eq!(err, "err:bye\n");
    assert_eq!(session.exit_status().unwrap().code, 7);
    let watched = exit_code(&mut watcher).await;
    assert_eq!(watched, 7);

    // The log holds both streams of every line, the ignored one excepted.
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.history.exit_code, Some(7));
    let log = log_text(&env, &job.id).await;
    for line in ["out:hello", "err:hello", "out:bye", "err:bye"] {
        assert!(log.contains(line), "{line} not in {log:?}");
    }
    assert!(!log.contains("ignored"), "{log:?}");
}

/// The job's whole log.
async fn log_text(env: &Env, id: &str) -> String {
    use futures::TryStreamExt as _;
    let chunks: Vec<bytes::Bytes> = env
        .client
        .jobs()
        .monitor(id, neuro_sdk::jobs::MonitorOptions::default())
        .try_collect()
        .await
        .unwrap();
    String::from_utf8(chunks.concat()).unwrap()
}

#[tokio::test]
async fn exec_in_a_terminal_sees_its_size() {
    let env = Env::start().await;
    let job = start_running(&env.client, shell_job("sleep 300"), TIMEOUT).await;
    let mut session = env
        .client
        .jobs()
        .exec(&job.id, "sh", StdStreamOptions::terminal())
        .await
        .unwrap();
    session.resize(50, 132).await.unwrap();
    session.write_in(b"stty size; tty\n").await.unwrap();
    // Both answers may come in one chunk: read to the second, check the first.
    let seen = read_until(&mut session, None, "/dev/pts/").await;
    assert!(seen.contains("50 132"), "{seen:?}");
    session.write_in(b"exit\n").await.unwrap();
    assert_eq!(exit_code(&mut session).await, 0);
    env.client.jobs().kill(&job.id).await.unwrap();
}

/// A TCP echo server in Python, the job's main process.
const ECHO_SERVER: &str = r#"python3 -c '
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(200)
print("listening", flush=True)
def echo(c):
    with c:
        while True:
            data = c.recv(65536)
            if not data:
                return
            c.sendall(data)
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
' "#;

#[tokio::test]
async fn port_forward_carries_a_hundred_parallel_connections() {
    let env = Env::start().await;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let job = start_running(
        &env.client,
        shell_job(&format!("{ECHO_SERVER}{port}")),
        TIMEOUT,
    )
    .await;
    let jobs = env.client.jobs();
    // Wait for the server to listen (its first log line).
    let mut logs = std::pin::pin!(jobs.monitor(&job.id, Default::default()));
    tokio::time::timeout(TIMEOUT, futures::TryStreamExt::try_next(&mut logs))
        .await
        .unwrap()
        .unwrap();

    let forward = jobs.port_forward(&job.id, 0, port).await.unwrap();
    let addr = forward.local_addr();
    let clients: Vec<_> = (0..100)
        .map(|i| {
            tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let payload: Vec<u8> = format!("connection {i}: ")
                    .into_bytes()
                    .into_iter()
                    .chain((0..20_000u32).map(|n| (n % 251) as u8))
                    .collect();
                stream.write_all(&payload).await.unwrap();
                let mut back = vec![0u8; payload.len()];
                stream.read_exact(&mut back).await.unwrap();
                assert_eq!(back, payload, "connection {i}");
            })
        })
        .collect();
    for client in clients {
        tokio::time::timeout(TIMEOUT, client)
            .await
            .unwrap()
            .unwrap();
    }
    // Dropping the guard stops listening.
    drop(forward);
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "still listening after the guard was dropped");

    // A closed job port: the connection is dropped at once.
    let closed = jobs.port_forward(&job.id, 0, 1).await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(closed.local_addr())
        .await
        .unwrap();
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(TIMEOUT, stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    jobs.kill(&job.id).await.unwrap();
}

#[tokio::test]
async fn exec_sessions_end_with_the_job() {
    let env = Env::start().await;
    let job = start_running(&env.client, shell_job("sleep 300"), TIMEOUT).await;
    let mut session = env
        .client
        .jobs()
        .exec(&job.id, "sleep 300", StdStreamOptions::pipes())
        .await
        .unwrap();
    env.client.jobs().kill(&job.id).await.unwrap();
    // SIGKILL, as for the processes of a stopped container.
    assert_eq!(exit_code(&mut session).await, 128 + 9);
}
