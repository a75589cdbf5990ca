//! Websocket handshakes against a real server on a real socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use futures::{SinkExt, StreamExt};
use neuro_http::{tungstenite, ApiErrorKind, Errno, Error, Message};

use common::{serve, transport};

#[tokio::test]
async fn echo_with_auth_and_protocol_not_echoed() {
    let base = serve().await;
    let mut ws = transport()
        .ws_connect(base.join("ws/echo").unwrap())
        .protocol("v2.channels.neu.ro")
        .send()
        .await
        .unwrap();
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let got = ws.next().await.unwrap().unwrap();
    assert_eq!(got, Message::binary(vec![1u8, 2, 3]));
    ws.send(Message::text("hello")).await.unwrap();
    let got = ws.next().await.unwrap().unwrap();
    assert_eq!(got, Message::text("hello"));
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn echo_with_protocol_echoed_and_ws_scheme() {
    let base = serve().await;
    let mut url = base.join("ws/echo-protocol").unwrap();
    url.set_scheme("ws").unwrap();
    let mut ws = transport()
        .ws_connect(url)
        .protocol("v2.channels.neu.ro")
        .send()
        .await
        .unwrap();
    ws.send(Message::text("x")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("x"));
}

#[tokio::test]
async fn missing_auth_is_rejected() {
    let base = serve().await;
    let err = transport()
        .ws_connect(base.join("ws/echo").unwrap())
        .protocol("v2.channels.neu.ro")
        .no_auth()
        .send()
        .await
        .unwrap_err();
    let api = err.as_api().unwrap();
    assert_eq!(api.kind, ApiErrorKind::Authentication);
    assert!(err.is_auth());
}

#[tokio::test]
async fn rejection_with_x_error_errno() {
    let base = serve().await;
    let err = transport()
        .ws_connect(base.join("ws/reject").unwrap())
        .send()
        .await
        .unwrap_err();
    let api = err.as_api().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(api.status, 400);
    assert_eq!(api.kind, ApiErrorKind::Os);
    assert_eq!(api.message, "bad");
    assert_eq!(api.errno, Some(Errno::Name("ENOENT".into())));
    assert_eq!(err.io_error_kind(), Some(std::io::ErrorKind::NotFound));
}

#[tokio::test]
async fn rejection_without_x_error() {
    let base = serve().await;
    let url = base.join("ws/reject-plain").unwrap();
    let err = transport()
        .ws_connect(url.clone())
        .query("a", "1")
        .send()
        .await
        .unwrap_err();
    let api = err.as_api().unwrap();
    assert_eq!(api.kind, ApiErrorKind::ResourceNotFound);
    assert_eq!(
        api.message,
        format!("404, message='Invalid response status', url=URL('{url}?a=1')")
    );
}

#[tokio::test]
async fn message_size_limit() {
    let base = serve().await;
    let t = transport();
    // 4 MiB fits
    let mut ws = t
        .ws_connect(base.join("ws/big").unwrap())
        .query("size", (4 * 1024 * 1024).to_string())
        .send()
        .await
        .unwrap();
    let got = ws.next().await.unwrap().unwrap();
    assert_eq!(got.len(), 4 * 1024 * 1024);

    // over 4 MiB is refused by default
    let mut ws = t
        .ws_connect(base.join("ws/big").unwrap())
        .query("size", (4 * 1024 * 1024 + 1).to_string())
        .send()
        .await
        .unwrap();
    let err = ws.next().await.unwrap().unwrap_err();
    assert!(matches!(err, tungstenite::Error::Capacity(_)), "{err:?}");
    let err: Error = err.into();
    assert!(matches!(err, Error::WebSocket(_)));

    // unless allowed
    let mut ws = t
        .ws_connect(base.join("ws/big").unwrap())
        .query("size", (5 * 1024 * 1024).to_string())
        .max_message_size(None)
        .send()
        .await
        .unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap().len(), 5 * 1024 * 1024);
}

#[tokio::test]
async fn refused_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = transport()
        .ws_connect(format!("ws://{addr}/x").parse().unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn handshake_runs_in_a_spawned_task() {
    let base = serve().await;
    let builder = transport()
        .ws_connect(base.join("ws/echo").unwrap())
        .protocol("v2.channels.neu.ro");
    let mut ws = tokio::spawn(builder.send()).await.unwrap().unwrap();
    ws.send(Message::text("spawned")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("spawned"));
}
