//! The storage operations against a real server on 127.0.0.1, compared with
//! the recorded answers of the real platform-storage-api.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::storage_env::{assert_os_error, assert_text, env, JSON};
use common::{chunked, st};
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn mkdirs() {
    let e = env().await;
    let r = e.put("alice/conf/a/b", "MKDIRS", b"").await;
    assert_text(&r, 201, "201: Created");
    assert!(r.header("date").is_some());
    assert!(e.root().join("conf/a/b").is_dir());
    // idempotent
    assert_text(
        &e.put("alice/conf/a/b", "MKDIRS", b"").await,
        201,
        "201: Created",
    );
    assert_text(&e.put("alice", "MKDIRS", b"").await, 201, "201: Created");
    assert_text(
        &e.put("alice/hello.txt", "CREATE", b"hi").await,
        201,
        "201: Created",
    );
    assert_os_error(
        &e.put("alice/hello.txt/x", "MKDIRS", b"").await,
        "Predecessor is not a directory",
        "ENOTDIR",
    );
    assert_os_error(
        &e.put("alice/hello.txt", "MKDIRS", b"").await,
        "File exists",
        "EEXIST",
    );
}

#[tokio::test]
async fn create_write_open() {
    let e = env().await;
    assert_text(
        &e.put("alice/conf/f.txt", "CREATE", b"0123456789").await,
        201,
        "201: Created",
    );
    let write = |range: Option<&'static str>, body: &'static [u8]| {
        let mut headers = vec![];
        if let Some(range) = range {
            headers.push(("Content-Range", range));
        }
        let c = &e.c;
        let t = e.t.clone();
        async move {
            c.req(
                Method::PATCH,
                &st("alice/conf/f.txt?op=WRITE"),
                Some(&t),
                &headers,
                body,
            )
            .await
        }
    };
    assert_text(&write(Some("bytes 2-4/*"), b"abc").await, 200, "200: OK");
    assert_text(
        &write(None, b"abc").await,
        400,
        "400: Required header Content-Range",
    );
    assert_eq!(
        write(Some("bytes 2-5/*"), b"abc").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        write(Some("garbage"), b"abc").await.status,
        StatusCode::BAD_REQUEST
    );
    // WRITE past the end extends the file
    assert_text(&write(Some("bytes 10-11/*"), b"XY").await, 200, "200: OK");
    assert_eq!(
        std::fs::read(e.root().join("conf/f.txt")).unwrap(),
        b"01abc56789XY"
    );
    let r = e
        .req(
            Method::PATCH,
            "alice/conf/none?op=WRITE",
            &[("Content-Range", "bytes 0-0/*")],
            "x",
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // OPEN, whole
    for path in ["alice/conf/f.txt?op=OPEN", "alice/conf/f.txt"] {
        let r = e.c.get(&st(path), &e.t).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(&r.body[..], b"01abc56789XY");
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        assert_eq!(r.header("content-length"), Some("12"));
        assert_eq!(r.header("x-file-type"), Some("FILE"));
        assert_eq!(r.header("x-file-length"), Some("12"));
        assert_eq!(r.header("x-file-permission"), Some("read"));
        assert_eq!(r.header("accept-range"), Some("bytes"));
        assert!(r.header("last-modified").is_some());
        assert!(r.header("content-range").is_none());
    }
    // ranges
    let r = e
        .get_h("alice/conf/f.txt", "OPEN", &[("Range", "bytes=3-5")])
        .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&r.body[..], b"bc5");
    assert_eq!(r.header("content-range"), Some("bytes 3-5/12"));
    assert_eq!(r.header("content-length"), Some("3"));
    let r = e
        .get_h("alice/conf/f.txt", "OPEN", &[("Range", "bytes=8-")])
        .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&r.body[..], b"89XY");
    assert_eq!(r.header("content-range"), Some("bytes 8-11/12"));
    let r = e
        .get_h("alice/conf/f.txt", "OPEN", &[("Range", "bytes=0-0")])
        .await;
    assert_eq!(
        (r.status, &r.body[..]),
        (StatusCode::PARTIAL_CONTENT, &b"0"[..])
    );
    let r = e
        .get_h("alice/conf/f.txt", "OPEN", &[("Range", "bytes=100-200")])
        .await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.header("content-range"), Some("bytes */12"));
    assert!(r.body.is_empty());

    // HEAD
    let r = e.req(Method::HEAD, "alice/conf/f.txt", &[], "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length"), Some("12"));
    assert_eq!(r.header("x-file-type"), Some("FILE"));

    // CREATE truncates
    assert_text(
        &e.put("alice/conf/f.txt", "CREATE", b"new").await,
        201,
        "201: Created",
    );
    assert_eq!(&e.get("alice/conf/f.txt", "OPEN").await.body[..], b"new");
    // empty file
    assert_text(
        &e.put("alice/empty", "CREATE", b"").await,
        201,
        "201: Created",
    );
    let r = e.get("alice/empty", "OPEN").await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0));
    // errors
    assert_eq!(
        e.get("alice/conf/nope", "OPEN").await.status,
        StatusCode::NOT_FOUND
    );
    assert_os_error(
        &e.get("alice/conf", "OPEN").await,
        "Is a directory",
        "EISDIR",
    );
    assert_os_error(
        &e.put("alice/conf", "CREATE", b"x").await,
        "Is a directory",
        "EISDIR",
    );
    // CREATE makes missing parents
    assert_text(
        &e.put("alice/new/dir/f", "CREATE", b"x").await,
        201,
        "201: Created",
    );
}

#[tokio::test]
async fn chunked_create() {
    let e = env().await;
    let body = chunked(vec![b"hello ", b"chunked ", b"world"]);
    let r =
        e.c.send(
            Method::PUT,
            &st("alice/c.txt?op=CREATE"),
            Some(&e.t),
            &[],
            body,
        )
        .await;
    assert_text(&r, 201, "201: Created");
    assert_eq!(
        std::fs::read(e.root().join("c.txt")).unwrap(),
        b"hello chunked world"
    );
}

#[tokio::test]
async fn aborted_create_leaves_no_torn_file() {
    let e = env().await;
    assert_text(
        &e.put("alice/keep.txt", "CREATE", b"old content").await,
        201,
        "201: Created",
    );
    for name in ["keep.txt", "fresh.txt"] {
        let head = format!(
            "PUT /api/v1/storage/alice/{name}?op=CREATE HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            e.t
        );
        let mut s = tokio::net::TcpStream::connect(e.c.addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut s, head.as_bytes())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(s); // abort mid-upload
    }
    // give the server a moment to notice
    let mut clean = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let names: Vec<_> = std::fs::read_dir(e.root())
            .unwrap()
            .map(|d| d.unwrap().file_name().into_string().unwrap())
            .collect();
        if names == ["keep.txt"] {
            clean = true;
            break;
        }
    }
    assert!(clean, "temporary upload files left behind");
    assert_eq!(
        std::fs::read(e.root().join("keep.txt")).unwrap(),
        b"old content"
    );
    assert_eq!(
        e.get("alice/fresh.txt", "GETFILESTATUS").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn list_and_stat() {
    let e = env().await;
    e.put("alice/conf/a", "MKDIRS", b"").await;
    e.put("alice/conf/f.txt", "CREATE", b"0123456789").await;

    let r = e.get("alice/conf", "LISTSTATUS").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some(JSON));
    let mut list = r.json()["FileStatuses"]["FileStatus"]
        .as_array()
        .unwrap()
        .clone();
    list.sort_by_key(|v| v["path"].as_str().unwrap().to_owned());
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["path"], "a");
    assert_eq!(list[0]["type"], "DIRECTORY");
    assert_eq!(list[0]["length"], 0);
    assert_eq!(list[1]["path"], "f.txt");
    assert_eq!(list[1]["type"], "FILE");
    assert_eq!(list[1]["length"], 10);
    assert_eq!(list[1]["permission"], "manage");
    assert!(list[1]["modificationTime"].as_i64().unwrap() > 1_600_000_000);

    let r = e
        .get_h(
            "alice/conf",
            "LISTSTATUS",
            &[("Accept", "application/x-ndjson")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let lines = r.ndjson();
    assert_eq!(lines.len(), 2);
    assert!(lines
        .iter()
        .all(|l| l["FileStatus"]["permission"] == "manage"));

    assert_text(
        &e.get("alice/nope", "LISTSTATUS").await,
        404,
        "404: Not Found",
    );
    assert_os_error(
        &e.get("alice/conf/f.txt", "LISTSTATUS").await,
        "Not a directory",
        "ENOTDIR",
    );

    let r = e.get("alice/conf/f.txt", "GETFILESTATUS").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("date").is_some());
    let s = &r.json()["FileStatus"];
    assert_eq!(s["path"], "/alice/conf/f.txt");
    assert_eq!(s["type"], "FILE");
    assert_eq!(s["length"], 10);
    let r = e.get("alice/conf", "GETFILESTATUS").await;
    assert_eq!(r.json()["FileStatus"]["type"], "DIRECTORY");
    assert_eq!(r.json()["FileStatus"]["path"], "/alice/conf");
    assert_text(
        &e.get("alice/conf/nope", "GETFILESTATUS").await,
        404,
        "404: Not Found",
    );
}

#[tokio::test]
async fn home_directory_and_cluster_root() {
    let e = env().await;
    // The home answers before anything was created in it.
    let r = e.get("alice", "GETFILESTATUS").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["FileStatus"]["path"], "/alice");
    assert_eq!(r.json()["FileStatus"]["type"], "DIRECTORY");
    assert_eq!(r.json()["FileStatus"]["permission"], "manage");
    let r = e.get("alice", "LISTSTATUS").await;
    assert_eq!(r.json(), json!({"FileStatuses": {"FileStatus": []}}));

    // bob's tree exists but alice must not see it
    let bob = e.p.create_user("bob").await.unwrap();
    e.create_as(&bob, "bob/secret", "s").await;
    let r = e.c.get(&st("?op=LISTSTATUS"), &e.t).await;
    assert_eq!(r.status, StatusCode::OK);
    let names: Vec<_> = r.json()["FileStatuses"]["FileStatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["alice"]);
    let r = e.c.get(&st("?op=GETFILESTATUS"), &e.t).await;
    assert_eq!(r.json()["FileStatus"]["type"], "DIRECTORY");
}

#[tokio::test]
async fn rename() {
    let e = env().await;
    e.put("alice/conf/f.txt", "CREATE", b"data").await;
    let post = |q: &str| {
        let path = st(q);
        let c = &e.c;
        let t = e.t.clone();
        async move { c.req(Method::POST, &path, Some(&t), &[], "").await }
    };
    let r = post("alice/conf/f.txt?op=RENAME&destination=/alice/conf/g.txt").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());
    assert_eq!(std::fs::read(e.root().join("conf/g.txt")).unwrap(), b"data");
    assert!(!e.root().join("conf/f.txt").exists());
    // form encoding: '+' is a space
    let r = post("alice/conf/g.txt?op=RENAME&destination=/alice/a+b%2Bc").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(e.root().join("a b+c").is_file());
    assert_text(
        &post("alice/conf/zzz?op=RENAME&destination=/alice/conf/y.txt").await,
        404,
        "404: Not Found",
    );
    assert_eq!(
        post("alice/a+b%2Bc?op=RENAME&destination=/alice/missing/y")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post("alice/a%20b+c?op=RENAME&destination=/alice/../x")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post("alice/a%20b+c?op=RENAME").await.status,
        StatusCode::BAD_REQUEST
    );
    // a directory into itself
    e.put("alice/d", "MKDIRS", b"").await;
    assert_eq!(
        post("alice/d?op=RENAME&destination=/alice/d/e")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn delete() {
    let e = env().await;
    e.put("alice/conf/a/b", "MKDIRS", b"").await;
    e.put("alice/conf/g.txt", "CREATE", b"g").await;
    e.put("alice/conf/a/b/h.txt", "CREATE", b"h").await;

    assert_os_error(
        &e.delete("alice/conf", false).await,
        "Target is a directory",
        "EISDIR",
    );
    let r = e.delete("alice/conf", true).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let lines = r.ndjson();
    assert_eq!(lines.len(), 5);
    let pos = |p: &str| {
        lines
            .iter()
            .position(|l| l["path"] == p)
            .unwrap_or_else(|| panic!("{p} not in {lines:?}"))
    };
    assert!(pos("/alice/conf/a/b/h.txt") < pos("/alice/conf/a/b"));
    assert!(pos("/alice/conf/a/b") < pos("/alice/conf/a"));
    assert!(pos("/alice/conf/a") < pos("/alice/conf"));
    assert!(pos("/alice/conf/g.txt") < pos("/alice/conf"));
    assert_eq!(
        lines[pos("/alice/conf")],
        json!({"path": "/alice/conf", "is_dir": true})
    );
    assert_eq!(lines[pos("/alice/conf/g.txt")]["is_dir"], false);
    assert!(!e.root().join("conf").exists());

    assert_text(&e.delete("alice/conf", true).await, 404, "404: Not Found");
    e.put("alice/f", "CREATE", b"f").await;
    let r = e.delete("alice/f", false).await;
    assert_eq!(r.ndjson(), [json!({"path": "/alice/f", "is_dir": false})]);
    // without NDJSON
    e.put("alice/f2", "CREATE", b"f").await;
    let r = e
        .req(
            Method::DELETE,
            "alice/f2?op=DELETE&recursive=false",
            &[],
            "",
        )
        .await;
    assert!(r.status.is_success());
    assert!(!e.root().join("f2").exists());
    // the home itself is refused
    assert_eq!(e.delete("alice", true).await.status, StatusCode::FORBIDDEN);
    assert!(e.root().is_dir());
}

#[tokio::test]
async fn disk_usage_and_unknown_op() {
    let e = env().await;
    let r = e.get("alice", "GETDISKUSAGE").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some(JSON));
    let j = r.json();
    let (total, used, free) = (
        j["total"].as_u64().unwrap(),
        j["used"].as_u64().unwrap(),
        j["free"].as_u64().unwrap(),
    );
    assert!(total > 0 && used <= total && free <= total);

    let r = e.get("alice", "BOGUS").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.header("content-type"), Some(JSON));
    assert_eq!(
        r.json(),
        json!({"error": "'BOGUS' is not a valid StorageOperation"})
    );
}

#[tokio::test]
async fn method_and_op_mismatch() {
    let e = env().await;
    let r = e.get("alice", "MKDIRS").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(!e.root().join("x").exists());
}
