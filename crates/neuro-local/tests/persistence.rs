//! Restarting on the same data directory, file modes, the client config.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use common::{st, Client};
use http::{Method, StatusCode};
use neuro_local::LocalPlatform;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o777
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let p = LocalPlatform::builder()
        .data_dir(data.clone())
        .start()
        .await
        .unwrap();
    let admin_token = p.admin_token().to_owned();
    let bob = p.create_user("bob").await.unwrap();
    let gone = p.create_user("carol").await.unwrap();
    let c = Client::new(&p);
    let r = c
        .req(
            Method::PUT,
            &st("bob/keep.txt?op=CREATE"),
            Some(&bob),
            &[],
            "kept",
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    p.delete_user("carol").await.unwrap();
    p.shutdown().await;

    let p = LocalPlatform::builder()
        .data_dir(data.clone())
        .start()
        .await
        .unwrap();
    assert_eq!(p.admin_token(), admin_token, "admin token is reused");
    let c = Client::new(&p);
    let r = c.get(&st("bob/keep.txt"), &bob).await;
    assert_eq!((r.status, &r.body[..]), (StatusCode::OK, &b"kept"[..]));
    let r = c.get("/api/v1/config", &admin_token).await;
    assert_eq!(r.json()["authorized"], true);
    let r = c.get(&st("carol?op=GETFILESTATUS"), &gone).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    p.shutdown().await;
}

#[tokio::test]
async fn secrets_have_private_modes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("cfg");
    let p = LocalPlatform::builder()
        .data_dir(data.clone())
        .client_config_dir(cfg.clone())
        .admin_user("root1")
        .start()
        .await
        .unwrap();
    assert_eq!(p.admin_user(), "root1");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("jwt.key")), 0o600);
    assert_eq!(mode(&data.join("admin.token")), 0o600);
    assert_eq!(mode(&data.join("state.db")), 0o600);
    assert_eq!(
        std::fs::read_to_string(data.join("admin.token"))
            .unwrap()
            .trim(),
        p.admin_token()
    );
    assert_eq!(mode(&cfg), 0o700);
    assert_eq!(mode(&cfg.join("db")), 0o600);
    // the stored login works against the server
    let conn = rusqlite::Connection::open(cfg.join("db")).unwrap();
    let (token, url): (String, String) = conn
        .query_row("SELECT token, url FROM main", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(token, p.admin_token());
    assert_eq!(url, p.api_url().as_str());
    // Debug output never shows the token
    assert!(!format!("{p:?}").contains(p.admin_token()));
    p.shutdown().await;
}

#[tokio::test]
async fn temporary_data_dir_is_removed_on_drop() {
    let p = LocalPlatform::builder().start().await.unwrap();
    let dir = p.data_dir().to_path_buf();
    let addr = p.local_addr();
    assert!(dir.is_dir());
    assert!(p.api_url().as_str().ends_with("/api/v1"));
    assert!(p.api_url().as_str().starts_with("http://127.0.0.1:"));
    drop(p);
    assert!(!dir.exists());
    // the listener is gone soon after
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "server still listening after drop");
}
