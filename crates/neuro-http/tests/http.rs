//! HTTP requests against a real server on a real socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use neuro_http::{
    ApiErrorKind, Errno, Error, Method, StatusCode, TimeoutPhase, Transport, TransportOptions,
};
use serde::Deserialize;
use serde_json::{json, Value};

use common::{echo_value, serve, transport, transport_with};

fn header(v: &Value, name: &str) -> Option<String> {
    v["headers"][name].as_str().map(str::to_owned)
}

#[tokio::test]
async fn json_request_carries_headers_and_replaced_query() {
    let base = serve().await;
    let url = base.join("echo?old=1").unwrap();
    let v: Value = transport()
        .post(url)
        .query("status", "running")
        .query("status", "pending")
        .query("since", "2022-01-01T00:00:00+00:00")
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(
        v["query"],
        "status=running&status=pending&since=2022-01-01T00:00:00%2B00:00"
    );
    assert_eq!(v["body"], r#"{"a":1}"#);
    assert_eq!(
        header(&v, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        header(&v, "authorization").as_deref(),
        Some("Bearer test-token")
    );
    let ua = header(&v, "user-agent").unwrap();
    assert!(ua.starts_with("neuro-rs/") && ua.ends_with(')'), "{ua}");
    assert_eq!(header(&v, "accept").as_deref(), Some("*/*"));

    let b3 = header(&v, "b3").unwrap();
    let sentry = header(&v, "sentry-trace").unwrap();
    let (trace, span) = b3.split_once('-').unwrap();
    assert_eq!(trace.len(), 32);
    assert_eq!(span.len(), 16);
    assert_eq!(sentry, format!("{b3}-"));
}

#[tokio::test]
async fn url_query_kept_without_params_and_flag_query() {
    let base = serve().await;
    let t = transport();
    let v: Value = t
        .get(base.join("echo?keep=1&x=a%2Bb").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["query"], "keep=1&x=a%2Bb");
    assert_eq!(v["method"], "GET");
    assert_eq!(header(&v, "content-type"), None);

    let v: Value = t
        .post(base.join("echo").unwrap())
        .query_flag("from_preset")
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["query"], "from_preset");
}

#[tokio::test]
async fn fixed_trace_id_and_sampling() {
    let base = serve().await;
    let trace_id = "0123456789abcdef0123456789abcdef".to_owned();
    let t = transport_with(TransportOptions {
        trace_id: Some(trace_id.clone()),
        trace_sampled: Some(true),
        ..TransportOptions::default()
    });
    let mut spans = Vec::new();
    for _ in 0..2 {
        let v: Value = t
            .get(base.join("echo").unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let b3 = header(&v, "b3").unwrap();
        assert!(b3.starts_with(&format!("{trace_id}-")));
        assert_eq!(header(&v, "sentry-trace").unwrap(), format!("{b3}-1"));
        spans.push(b3);
    }
    assert_ne!(spans[0], spans[1], "span ids are per request");

    let v: Value = t
        .get(base.join("echo").unwrap())
        .no_trace()
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(header(&v, "b3"), None);
    assert_eq!(header(&v, "sentry-trace"), None);
}

#[tokio::test]
async fn authorization_modes() {
    let base = serve().await;
    let t = transport();
    let url = base.join("echo").unwrap();
    let auth_of = |b: neuro_http::RequestBuilder| async move {
        let v: Value = b.send().await.unwrap().json().await.unwrap();
        header(&v, "authorization")
    };
    assert_eq!(auth_of(t.get(url.clone()).no_auth()).await, None);
    assert_eq!(
        auth_of(t.get(url.clone()).authorization("Basic dTpw"))
            .await
            .as_deref(),
        Some("Basic dTpw")
    );
    // One word is not a scheme plus credential: not sent, like the Python SDK.
    assert_eq!(
        auth_of(t.get(url.clone()).authorization("token")).await,
        None
    );
    let anonymous = t.clone().without_auth();
    assert_eq!(auth_of(anonymous.get(url.clone())).await, None);
}

#[tokio::test]
async fn post_without_body_is_octet_stream() {
    let base = serve().await;
    let v: Value = transport()
        .post(base.join("echo").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        header(&v, "content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(v["body"], "");
}

#[tokio::test]
async fn empty_bytes_body_has_content_length_zero() {
    let base = serve().await;
    for body in [&b""[..], &b"abc"[..]] {
        let v: Value = transport()
            .put(base.join("echo").unwrap())
            .body_bytes(body.to_vec())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            header(&v, "content-length"),
            Some(body.len().to_string()),
            "{v}"
        );
        assert_eq!(header(&v, "transfer-encoding"), None);
    }
}

#[tokio::test]
async fn error_statuses_are_mapped() {
    let base = serve().await;
    let t = transport();
    let cases = [
        (400, ApiErrorKind::IllegalArgument),
        (401, ApiErrorKind::Authentication),
        (403, ApiErrorKind::Authorization),
        (404, ApiErrorKind::ResourceNotFound),
        (405, ApiErrorKind::Client),
        (409, ApiErrorKind::IllegalArgument),
        (500, ApiErrorKind::IllegalArgument),
        (502, ApiErrorKind::ServerNotAvailable),
        (503, ApiErrorKind::IllegalArgument),
    ];
    for (code, kind) in cases {
        let err = t
            .get(base.join(&format!("status/{code}")).unwrap())
            .send()
            .await
            .unwrap_err();
        let api = err.as_api().unwrap_or_else(|| panic!("{code}: {err:?}"));
        assert_eq!(api.kind, kind, "{code}");
        assert_eq!(api.status, code);
        assert_eq!(api.message, format!("status {code}"));
        assert_eq!(err.to_string(), format!("status {code}"));
        assert!(!err.is_retryable_transport());
    }
}

#[tokio::test]
async fn errno_errors() {
    let base = serve().await;
    let t = transport();
    let err = t
        .get(base.join("status/400?errno=ENOENT").unwrap())
        .send()
        .await
        .unwrap_err();
    let api = err.as_api().unwrap();
    assert_eq!(api.kind, ApiErrorKind::Os);
    assert_eq!(api.errno, Some(Errno::Name("ENOENT".into())));
    assert!(err.is_not_found());
    assert_eq!(err.io_error_kind(), Some(std::io::ErrorKind::NotFound));
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);

    let err = t
        .get(base.join("status/400?errno=17").unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.errno(), Some(&Errno::Code(17)));
    assert_eq!(err.io_error_kind(), Some(std::io::ErrorKind::AlreadyExists));

    // errno only counts on 400
    let err = t
        .get(base.join("status/404?errno=ENOENT").unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.as_api().unwrap().kind, ApiErrorKind::ResourceNotFound);
    assert_eq!(err.errno(), None);
}

#[tokio::test]
async fn raw_bodies_are_kept() {
    let base = serve().await;
    let t = transport();
    let mut url = base.join("status/400").unwrap();
    url.query_pairs_mut()
        .append_pair("body", r#"{"message": "hi"}"#);
    let err = t.get(url).send().await.unwrap_err();
    assert_eq!(err.as_api().unwrap().message, r#"{"message": "hi"}"#);

    let mut url = base.join("status/500").unwrap();
    url.query_pairs_mut()
        .append_pair("body", "500: Internal Server Error");
    let err = t.get(url).send().await.unwrap_err();
    assert_eq!(err.as_api().unwrap().message, "500: Internal Server Error");

    // HEAD: no body at all
    let err = t
        .head(base.join("status/404").unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.as_api().unwrap().message, "");
    assert!(err.is_not_found());
}

#[tokio::test]
async fn send_raw_does_not_map() {
    let base = serve().await;
    let resp = transport()
        .request(Method::GET, base.join("status/404").unwrap())
        .send_raw()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "status 404");
}

#[derive(Debug, Deserialize, PartialEq)]
struct Job {
    id: String,
    status: String,
    n: u32,
}

#[tokio::test]
async fn ndjson_streams_slowly_in_odd_chunks() {
    let base = serve().await;
    let resp = transport()
        .get(base.join("ndjson/jobs").unwrap())
        .header("Accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert!(resp.is_ndjson());
    let jobs: Vec<Job> = resp.ndjson().try_collect().await.unwrap();
    assert_eq!(jobs.len(), 20);
    for (i, job) in jobs.iter().enumerate() {
        assert_eq!(job.id, format!("job-{i}"));
        assert_eq!(job.status, "running");
        assert_eq!(job.n as usize, i);
    }
}

#[tokio::test]
async fn ndjson_error_line_ends_the_stream() {
    let base = serve().await;
    let resp = transport()
        .get(base.join("ndjson/error").unwrap())
        .send()
        .await
        .unwrap();
    let items: Vec<Result<Job, Error>> = resp.ndjson().collect().await;
    assert_eq!(items.len(), 3);
    assert!(items[0].is_ok() && items[1].is_ok());
    match &items[2] {
        Err(Error::Ndjson { message, errno }) => {
            assert_eq!(message, "database is gone");
            assert_eq!(errno, &Some(Errno::Name("EIO".into())));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn ndjson_or_json_falls_back() {
    let base = serve().await;
    let t = transport();
    let legacy = |body: Value| {
        serde_json::from_value::<Vec<Job>>(body["jobs"].clone())
            .map_err(|e| Error::json("job list", e))
    };
    let resp = t
        .get(base.join("legacy/jobs").unwrap())
        .send()
        .await
        .unwrap();
    assert!(!resp.is_ndjson());
    let jobs: Vec<Job> = resp.ndjson_or_json(legacy).try_collect().await.unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["job-a", "job-b"]
    );

    let resp = t
        .get(base.join("ndjson/jobs").unwrap())
        .send()
        .await
        .unwrap();
    let jobs: Vec<Job> = resp.ndjson_or_json(legacy).try_collect().await.unwrap();
    assert_eq!(jobs.len(), 20);
}

#[tokio::test]
async fn large_body_streams_correctly() {
    let base = serve().await;
    let resp = transport()
        .get(base.join("large").unwrap())
        .read_timeout(None)
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut offset = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        for (i, b) in chunk.iter().enumerate() {
            let at = offset + i as u64;
            if *b != common::large_byte(at) {
                panic!("byte {at} differs");
            }
        }
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, common::LARGE_SIZE);
}

#[tokio::test]
async fn read_timeout_mid_body() {
    let base = serve().await;
    let t = transport_with(TransportOptions {
        read_timeout: Some(Duration::from_millis(300)),
        ..TransportOptions::default()
    });
    let resp = t.get(base.join("stall").unwrap()).send().await.unwrap();
    let started = Instant::now();
    let err = resp.bytes().await.unwrap_err();
    assert!(
        matches!(err, Error::Timeout(TimeoutPhase::ResponseBody)),
        "{err:?}"
    );
    assert!(err.is_retryable_transport());
    assert!(started.elapsed() < Duration::from_millis(1500));

    // Without a read timeout the same body arrives in full.
    let body = t
        .get(base.join("stall").unwrap())
        .read_timeout(None)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body, Bytes::from_static(b"{\"partial\": true}"));
}

#[tokio::test]
async fn read_timeout_waiting_for_head() {
    let base = serve().await;
    let t = transport_with(TransportOptions {
        connect_timeout: Some(Duration::from_millis(200)),
        read_timeout: Some(Duration::from_millis(300)),
        ..TransportOptions::default()
    });
    let err = t
        .get(base.join("stall-head").unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Timeout(TimeoutPhase::ResponseHead)),
        "{err:?}"
    );
}

#[tokio::test]
async fn streamed_upload_is_chunked() {
    let base = serve().await;
    let pieces: Vec<Result<Bytes, std::io::Error>> = (0..100u8)
        .map(|i| Ok(Bytes::from(vec![i; 10_000])))
        .collect();
    let mut expected_sum = 0u64;
    for i in 0..100u8 {
        for _ in 0..10_000 {
            expected_sum = expected_sum.wrapping_mul(31).wrapping_add(u64::from(i));
        }
    }
    let v: Value = transport()
        .put(base.join("count").unwrap())
        .read_timeout(None)
        .body_stream(futures::stream::iter(pieces))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 1_000_000);
    assert_eq!(v["sum"], expected_sum);
    assert_eq!(v["transfer-encoding"], "chunked");

    let v: Value = transport()
        .put(base.join("count").unwrap())
        .body_bytes(vec![1u8; 1234])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 1234);
    assert_eq!(v["content-length"], "1234");
}

#[tokio::test]
async fn redirects_are_followed_like_aiohttp() {
    let base = serve().await;
    let t = transport();
    // 302 after POST becomes GET without body
    let resp = t
        .post(base.join("redirect/302").unwrap())
        .json(&json!({"x": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().path(), "/echo");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["method"], "GET");
    assert_eq!(v["query"], "redirected=1");
    assert_eq!(v["body"], "");
    assert_eq!(
        header(&v, "authorization").as_deref(),
        Some("Bearer test-token")
    );

    // 307 keeps method and body
    let v: Value = t
        .post(base.join("redirect/307").unwrap())
        .json(&json!({"x": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["body"], r#"{"x":1}"#);

    // another origin does not get the credentials
    let other = serve().await;
    let mut url = base.join("redirect/301").unwrap();
    url.query_pairs_mut()
        .append_pair("to", other.join("echo").unwrap().as_str());
    let v: Value = t.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["path"], "/echo");
    assert_eq!(header(&v, "authorization"), None);

    // not followed on request
    let resp = t
        .get(base.join("redirect/302").unwrap())
        .follow_redirects(false)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);

    // loops end with an error
    let err = t.get(base.join("loop").unwrap()).send().await.unwrap_err();
    assert!(matches!(err, Error::Redirect(_)), "{err:?}");
}

#[tokio::test]
async fn refused_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let t = Transport::new(TransportOptions::default()).unwrap();
    let err = t
        .get(format!("http://{addr}/").parse().unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.is_retryable_transport());
    assert!(!err.may_have_been_sent());
    assert_eq!(err.to_string(), format!("cannot connect to {addr}"));
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn invalid_inputs_fail_before_sending() {
    let t = transport();
    let err = t
        .get("ftp://example.com/x".parse().unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    let err = t
        .get("http://127.0.0.1:1/".parse().unwrap())
        .header("bad header", "x")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(!err.may_have_been_sent());
}

#[tokio::test]
async fn builders_and_streams_are_send_static() {
    fn check<T: Send + 'static>(_: &T) {}
    let base = serve().await;
    let builder = transport().get(base.join("ndjson/jobs").unwrap());
    check(&builder);
    let handle = tokio::spawn(async move {
        let resp = builder.send().await.unwrap();
        let stream = resp.ndjson::<Job>();
        check(&stream);
        stream.try_collect::<Vec<_>>().await.unwrap().len()
    });
    assert_eq!(handle.await.unwrap(), 20);
    let _ = echo_value(&json!({}), "x");
}
