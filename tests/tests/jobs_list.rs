//! `GET jobs` streamed page by page: order, `reverse`, `limit` counted after
//! the caller's permission filter, and the plain JSON form; and the caller's
//! job tags, against a real neuro-local.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::Env;
use futures::{StreamExt as _, TryStreamExt as _};
use neuro_sdk::{Action, Client, Container, JobFilter, JobRun, Permission, RemoteImage, Resources};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const TIMEOUT: Duration = Duration::from_secs(120);

/// More than the server's first page, so a listing spans several pages.
const COUNT: usize = 45;

/// Submits [`COUNT`] jobs that cannot fit the machine (so no process runs);
/// their ids in submission order.
async fn seed(client: &Client) -> Vec<String> {
    let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
    let mut run = JobRun::new(Container::new(image, Resources::new(64 << 20, 100_000.0)));
    run.options.tags = vec!["paged".into()];
    run.options.schedule_timeout = Some(1.0);
    let mut ids = Vec::new();
    for _ in 0..COUNT {
        ids.push(client.jobs().run(run.clone()).await.unwrap().id);
    }
    ids
}

async fn ids(client: &Client, filter: JobFilter) -> Vec<String> {
    client
        .jobs()
        .list(filter)
        .map_ok(|j| j.id)
        .try_collect()
        .await
        .unwrap()
}

/// `GET /api/v1/jobs?{query}` without asking for NDJSON, over HTTP/1.0 (so
/// the streamed body ends with the connection): the ids of `{"jobs": [...]}`.
async fn json_form_ids(env: &Env, query: &str) -> Vec<String> {
    let addr = env.platform.api_url().socket_addrs(|| None).unwrap()[0];
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /api/v1/jobs?{query} HTTP/1.0\r\nAuthorization: Bearer {}\r\n\r\n",
        env.platform.admin_token()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn listing_spans_pages_in_order_and_limits_after_the_permission_filter() {
    let env = Env::start().await;
    let all = seed(&env.client).await;
    let tagged = || JobFilter::default().tag("paged");

    // Every job once, in order, across pages; newest first with `reverse`.
    assert_eq!(ids(&env.client, tagged()).await, all);
    let mut reversed = all.clone();
    reversed.reverse();
    assert_eq!(ids(&env.client, tagged().reverse(true)).await, reversed);
    assert_eq!(ids(&env.client, tagged().limit(40)).await, all[..40]);
    assert_eq!(
        ids(&env.client, tagged().reverse(true).limit(3)).await,
        reversed[..3]
    );

    // The first item arrives before the stream is read further.
    let mut stream = std::pin::pin!(env.client.jobs().list(tagged()));
    assert_eq!(stream.next().await.unwrap().unwrap().id, all[0]);

    // Bob sees the two jobs shared with him, both past the first page; a
    // limit counts the jobs he may see, not the rows read.
    let bob = env.user("bob").await;
    let shared = [all[COUNT - 6].clone(), all[COUNT - 2].clone()];
    for id in &shared {
        let uri = env.client.jobs().status(id).await.unwrap().uri;
        env.client
            .users()
            .share(
                "bob",
                &Permission {
                    uri,
                    action: Action::Read,
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(ids(&bob, JobFilter::default()).await, shared);
    assert_eq!(ids(&bob, JobFilter::default().limit(1)).await, shared[..1]);
    assert_eq!(
        ids(&bob, JobFilter::default().reverse(true).limit(1)).await,
        shared[1..]
    );
    assert_eq!(
        ids(&bob, JobFilter::default().owner("admin").limit(2)).await,
        shared
    );

    // The plain JSON form is streamed the same way.
    assert_eq!(json_form_ids(&env, "tag=paged").await, all);
    assert_eq!(json_form_ids(&env, "tag=paged&limit=35").await, all[..35]);
    assert!(json_form_ids(&env, "tag=nothing").await.is_empty());
}

#[tokio::test]
async fn tags_lists_the_callers_tags_most_recent_first() {
    let env = Env::start().await;
    let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
    let mut run = JobRun::new(Container::new(image, Resources::new(64 << 20, 100_000.0)));
    run.options.schedule_timeout = Some(1.0);
    for tags in [&["old", "shared"][..], &["new"], &["shared"]] {
        run.options.tags = tags.iter().map(|t| t.to_string()).collect();
        env.client.jobs().run(run.clone()).await.unwrap();
    }
    assert_eq!(
        env.client.jobs().tags().await.unwrap(),
        ["shared", "new", "old"]
    );
    // Another user's tags are their own.
    let bob = env.user("bob").await;
    assert!(bob.jobs().tags().await.unwrap().is_empty());
}
