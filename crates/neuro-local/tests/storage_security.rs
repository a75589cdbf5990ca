//! Storage confinement: other users' trees, path traversal and symlink escapes
//! must never give access to anything outside the caller's tree.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::storage_env::{assert_text, env};
use common::{raw, raw_get, raw_status};
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn other_users_paths_are_not_found() {
    let e = env().await;
    let bob = e.p.create_user("bob").await.unwrap();
    e.create_as(&bob, "bob/secret", "s").await;
    for (method, path) in [
        (Method::GET, "bob?op=LISTSTATUS"),
        (Method::GET, "bob/secret?op=OPEN"),
        (Method::GET, "bob/secret?op=GETFILESTATUS"),
        (Method::PUT, "bob/x?op=MKDIRS"),
        (Method::PUT, "bob/secret?op=CREATE"),
        (Method::DELETE, "bob/secret?op=DELETE&recursive=true"),
        (
            Method::POST,
            "bob/secret?op=RENAME&destination=/alice/stolen",
        ),
        (Method::GET, "admin?op=LISTSTATUS"),
    ] {
        let r = e.req(method, path, &[], "x").await;
        assert_text(&r, 404, "404: Not Found");
    }
    // moving one's own file into someone else's tree
    e.put("alice/mine", "CREATE", b"m").await;
    let r = e
        .req(
            Method::POST,
            "alice/mine?op=RENAME&destination=/bob/mine",
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        std::fs::read(e.p.data_dir().join("storage/bob/secret")).unwrap(),
        b"s"
    );
}

#[tokio::test]
async fn traversal_is_rejected() {
    let e = env().await;
    let bob = e.p.create_user("bob").await.unwrap();
    e.create_as(&bob, "bob/secret", "bobsecret").await;
    // a secret right next to the storage dir
    std::fs::write(e.p.data_dir().join("outside.txt"), "outside").unwrap();
    e.put("alice/ok.txt", "CREATE", b"fine").await;

    let paths = [
        "/api/v1/storage/alice/../bob?op=LISTSTATUS",
        "/api/v1/storage/alice/../bob/secret",
        "/api/v1/storage/alice/%2e%2e/bob/secret",
        "/api/v1/storage/alice/%2E%2E/bob/secret",
        "/api/v1/storage/alice/%2E./bob/secret",
        "/api/v1/storage/alice/.%2e/.%2e/outside.txt",
        "/api/v1/storage/alice/%2F../bob/secret",
        "/api/v1/storage/alice/..%2F..%2Foutside.txt",
        "/api/v1/storage/alice/..%2fbob%2fsecret",
        "/api/v1/storage/alice/..%5Cbob%5Csecret",
        "/api/v1/storage/alice/ok.txt%00",
        "/api/v1/storage/alice/./ok.txt",
        "/api/v1/storage//etc/passwd",
        "/api/v1/storage/etc/passwd",
        "/api/v1/storage/%2Fetc%2Fpasswd",
        "/api/v1/storage/alice/../../outside.txt",
        "/api/v1/storage/alice/../../../../../../etc/passwd",
        "/api/v1/storage/alice/%252e%252e/bob/secret",
    ];
    for path in paths {
        let answer = raw_get(e.c.addr, path, &e.t).await;
        let status = raw_status(&answer);
        assert!(
            status == 404 || status == 403 || status == 400,
            "{path}: {answer}"
        );
        for secret in ["bobsecret", "outside", "root:"] {
            assert!(!answer.contains(secret), "{path} leaked: {answer}");
        }
    }
    // backslash sent raw
    let answer = raw_get(e.c.addr, "/api/v1/storage/alice/..\\bob\\secret", &e.t).await;
    assert!(!answer.contains("bobsecret"));
    assert!(raw_status(&answer) >= 400);
    // the legitimate file is still served
    let answer = raw_get(e.c.addr, "/api/v1/storage/alice/ok.txt", &e.t).await;
    assert_eq!(raw_status(&answer), 200);
    assert!(answer.ends_with("fine"));
    // writes are refused too
    let answer = raw(
        e.c.addr,
        format!(
            "PUT /api/v1/storage/alice/%2e%2e/bob/secret?op=CREATE HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer {}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad",
            e.t
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(raw_status(&answer), 404);
    assert_eq!(
        std::fs::read(e.p.data_dir().join("storage/bob/secret")).unwrap(),
        b"bobsecret"
    );
}

#[tokio::test]
async fn symlinks_do_not_escape() {
    let e = env().await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "topsecret").unwrap();
    e.put("alice/in/real.txt", "CREATE", b"inside").await;
    let root = e.root();
    std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), root.join("sec")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("passwd")).unwrap();
    std::os::unix::fs::symlink(root.join("in/real.txt"), root.join("inlink")).unwrap();

    for (path, op) in [
        ("alice/out/secret", "OPEN"),
        ("alice/out", "LISTSTATUS"),
        ("alice/out/secret", "GETFILESTATUS"),
        ("alice/sec", "OPEN"),
        ("alice/passwd", "OPEN"),
    ] {
        let r = e.get(path, op).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path} {op}: {}", r.text());
        assert!(!r.text().contains("topsecret") && !r.text().contains("root:"));
    }
    // writes through an outside link are refused and touch nothing outside
    assert_eq!(
        e.put("alice/out/new", "CREATE", b"x").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        e.put("alice/out/newdir", "MKDIRS", b"").await.status,
        StatusCode::NOT_FOUND
    );
    let r = e
        .req(
            Method::PATCH,
            "alice/sec?op=WRITE",
            &[("Content-Range", "bytes 0-0/*")],
            "X",
        )
        .await;
    assert!(r.status.is_client_error());
    assert!(!outside.path().join("new").exists());
    assert!(!outside.path().join("newdir").exists());
    assert_eq!(
        std::fs::read(outside.path().join("secret")).unwrap(),
        b"topsecret"
    );

    // symlinks are reported as such, with their target
    let r = e.get("alice/sec", "GETFILESTATUS").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["FileStatus"]["type"], "SYMLINK");
    assert_eq!(
        r.json()["FileStatus"]["target"],
        outside.path().join("secret").to_str().unwrap()
    );
    let r = e.get("alice", "LISTSTATUS").await;
    let list = r.json()["FileStatuses"]["FileStatus"]
        .as_array()
        .unwrap()
        .clone();
    let out = list.iter().find(|s| s["path"] == "out").unwrap();
    assert_eq!(out["type"], "SYMLINK");
    // a link inside the tree works
    assert_eq!(&e.get("alice/inlink", "OPEN").await.body[..], b"inside");
    // deleting removes the link, not the target
    let r = e.delete("alice/out", true).await;
    assert_eq!(r.ndjson(), [json!({"path": "/alice/out", "is_dir": false})]);
    assert_eq!(
        std::fs::read(outside.path().join("secret")).unwrap(),
        b"topsecret"
    );
    // CREATE over a link replaces the link, never writes through it
    assert_text(
        &e.put("alice/sec", "CREATE", b"mine").await,
        201,
        "201: Created",
    );
    assert_eq!(
        std::fs::read(outside.path().join("secret")).unwrap(),
        b"topsecret"
    );
    assert_eq!(std::fs::read(root.join("sec")).unwrap(), b"mine");
}
