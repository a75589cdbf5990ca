//! `http_url` of jobs: neuro-local's ingress proxies to the job's HTTP port,
//! honouring `requires_auth`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{shell_job, start_running, Env};
use neuro_sdk::HttpPort;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const TIMEOUT: Duration = Duration::from_secs(120);

/// Sends `GET /hello.txt` for `host` to neuro-local; returns status and body.
async fn get(env: &Env, host: &str, token: Option<&str>) -> (u16, String) {
    let addr = env.platform.api_url().socket_addrs(|| None).unwrap()[0];
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request =
        format!("GET /hello.txt HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

#[tokio::test]
async fn http_url_reaches_the_jobs_port_with_auth_when_required() {
    let env = Env::start().await;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut job = shell_job(&format!(
        "sh -c 'echo served > hello.txt; exec python3 -m http.server --bind 127.0.0.1 {port}'"
    ));
    job.options.name = Some("web".into());
    job.container.http = Some(HttpPort {
        port: i64::from(port),
        requires_auth: true,
    });
    let job = start_running(&env.client, job, TIMEOUT).await;
    // The SDK shows the named form when the job has a name.
    let url = job.http_url.clone().expect("an http_url");
    assert_eq!(url.host_str(), Some("web--admin.jobs.localhost"));
    let host = format!("{}.jobs.localhost", job.id);
    let token = env.platform.admin_token().to_owned();

    // The server needs a moment to listen: retry on 502.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let (status, body) = get(&env, &host, Some(&token)).await;
        if status == 200 {
            assert_eq!(body, "served\n");
            break;
        }
        assert_eq!(status, 502, "{body}");
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // By name, too.
    let (status, body) = get(&env, url.host_str().unwrap(), Some(&token)).await;
    assert_eq!((status, body.as_str()), (200, "served\n"));
    // Without a token, or as someone else: refused.
    assert_eq!(get(&env, &host, None).await.0, 401);
    let bob = env.platform.create_user("bob").await.unwrap();
    assert_eq!(get(&env, &host, Some(&bob)).await.0, 403);
    // Unknown jobs.
    assert_eq!(get(&env, "job-nope.jobs.localhost", None).await.0, 404);
    env.client.jobs().kill(&job.id).await.unwrap();
}
