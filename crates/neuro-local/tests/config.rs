//! `/api/v1/config` and authentication, over real TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{start, Client};
use http::{Method, StatusCode};

#[tokio::test]
async fn config_without_token() {
    let p = start().await;
    let c = Client::new(&p);
    let r = c.req(Method::GET, "/api/v1/config", None, &[], "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("date").is_some());
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let j = r.json();
    assert_eq!(j["authorized"], false);
    assert_eq!(j["clusters"], serde_json::json!([]));
    let base = p.base_url().as_str().trim_end_matches('/').to_owned();
    assert_eq!(j["auth_url"], format!("{base}/oauth/authorize"));
    assert_eq!(j["token_url"], format!("{base}/oauth/token"));
    assert_eq!(j["logout_url"], format!("{base}/oauth/logout"));
    assert_eq!(j["client_id"], "neuro-local");
    assert!(j["audience"].is_string());
    assert!(j["headless_callback_url"].is_string());
    assert_eq!(j["callback_urls"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn config_with_token() {
    let p = start().await;
    let c = Client::new(&p);
    let r = c.get("/api/v1/config", p.admin_token()).await;
    assert_eq!(r.status, StatusCode::OK);
    let j = r.json();
    assert_eq!(j["authorized"], true);
    let clusters = j["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1);
    let cl = &clusters[0];
    assert_eq!(cl["name"], "default");
    let base = p.base_url().as_str().trim_end_matches('/').to_owned();
    assert_eq!(cl["storage_url"], format!("{base}/api/v1/storage"));
    assert_eq!(cl["monitoring_url"], format!("{base}/api/v1/jobs"));
    assert_eq!(cl["registry_url"], format!("{base}/"));
    for key in ["users_url", "secrets_url", "disks_url", "buckets_url"] {
        assert!(cl[key].as_str().unwrap().starts_with(&base), "{key}");
    }
    assert_eq!(cl["orgs"], serde_json::json!([null]));
    let presets: Vec<_> = cl["resource_presets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(presets, ["cpu-small", "cpu-medium", "cpu-large"]);
    for preset in cl["resource_presets"].as_array().unwrap() {
        assert!(preset["credits_per_hour"].is_string());
        assert!(preset["memory"].as_u64().unwrap() > 0);
        assert!(preset["cpu"].as_f64().unwrap() > 0.0);
    }
}

#[tokio::test]
async fn config_with_invalid_token_is_unauthorized_but_200() {
    let p = start().await;
    let c = Client::new(&p);
    for token in ["garbage", "a.b.c", &format!("{}x", p.admin_token())] {
        let r = c.get("/api/v1/config", token).await;
        assert_eq!(r.status, StatusCode::OK);
        let j = r.json();
        assert_eq!(j["authorized"], false);
        assert_eq!(j["clusters"], serde_json::json!([]));
    }
}

#[tokio::test]
async fn storage_requires_a_token() {
    let p = start().await;
    let c = Client::new(&p);
    let path = format!("/api/v1/storage/{}?op=LISTSTATUS", p.admin_user());
    for token in [None, Some("garbage")] {
        let r = c.req(Method::GET, &path, token, &[], "").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.text(), "401: Unauthorized");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer realm=\"Storage API\"")
        );
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }
    // Basic auth is not a bearer token.
    let r = c
        .req(
            Method::GET,
            &path,
            None,
            &[("Authorization", "Basic YWRtaW46eA==")],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoked_and_deleted_users_tokens_fail() {
    let p = start().await;
    let c = Client::new(&p);
    let t1 = p.create_user("alice").await.unwrap();
    let t2 = p.issue_token("alice").await.unwrap();
    assert_ne!(t1, t2);
    let path = "/api/v1/storage/alice?op=GETFILESTATUS";
    assert_eq!(c.get(path, &t1).await.status, StatusCode::OK);
    assert!(p.revoke_token(&t1).await.unwrap());
    assert_eq!(c.get(path, &t1).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(c.get(path, &t2).await.status, StatusCode::OK);
    p.delete_user("alice").await.unwrap();
    assert_eq!(c.get(path, &t2).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        c.get("/api/v1/config", &t2).await.json()["authorized"],
        false
    );
    assert!(p.issue_token("alice").await.is_err());
    assert!(p.create_user("../etc").await.is_err());
}

#[tokio::test]
async fn unknown_route_is_404_text() {
    let p = start().await;
    let c = Client::new(&p);
    let r = c.get("/api/v1/nothing", p.admin_token()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.text(), "404: Not Found");
    // As on the real server, the cluster root needs its trailing slash.
    let r = c
        .get("/api/v1/storage?op=LISTSTATUS", p.admin_token())
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
