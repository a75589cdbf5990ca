//! The secrets service answers the recorded requests of the real one
//! (`secrets-api-22.6.0` transcript): status, content type and body, over real TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{start, Client};
use http::Method;
use serde_json::json;

const JSON: &str = "application/json; charset=utf-8";

#[tokio::test]
async fn answers_like_the_recorded_service() {
    let p = start().await;
    let c = Client::new(&p);
    let alice = p.create_user("alice").await.unwrap();
    let t = Some(alice.as_str());
    let post = |body: &'static str| {
        c.req(
            Method::POST,
            "/api/v1/secrets",
            t,
            &[("Content-Type", "application/json")],
            body,
        )
    };

    let r = post(r#"{"key": "alicekey", "value": "eA=="}"#).await;
    assert_eq!(r.status.as_u16(), 201);
    // add
    let r = post(r#"{"key": "k1", "value": "djE="}"#).await;
    assert_eq!(r.status.as_u16(), 201);
    assert_eq!(r.header("content-type"), Some(JSON));
    assert_eq!(
        r.json(),
        json!({"key": "k1", "owner": "alice", "org_name": null})
    );
    // add_bad_key
    let r = post(r#"{"key": "bad key!", "value": "eA=="}"#).await;
    assert_eq!(r.status.as_u16(), 400);
    assert_eq!(r.header("content-type"), Some(JSON));
    assert_eq!(
        r.json(),
        json!({"error": r"{'key': DataError('does not match pattern \A(?!\.\Z|\.\.)[a-zA-Z0-9_\-.]+\Z')}"})
    );
    // list, and list with an NDJSON Accept header: the same JSON array
    let expected = json!([
        {"key": "alicekey", "owner": "alice", "org_name": null},
        {"key": "k1", "owner": "alice", "org_name": null}
    ]);
    for headers in [&[][..], &[("Accept", "application/x-ndjson")][..]] {
        let r = c.req(Method::GET, "/api/v1/secrets", t, headers, "").await;
        assert_eq!(r.status.as_u16(), 200);
        assert_eq!(r.header("content-type"), Some(JSON));
        assert_eq!(r.json(), expected);
    }
    // delete
    let r = c
        .req(Method::DELETE, "/api/v1/secrets/k1", t, &[], "")
        .await;
    assert_eq!(r.status.as_u16(), 204);
    assert!(r.body.is_empty());
    // delete_missing
    let r = c
        .req(Method::DELETE, "/api/v1/secrets/k1", t, &[], "")
        .await;
    assert_eq!(r.status.as_u16(), 404);
    assert_eq!(r.header("content-type"), Some(JSON));
    assert_eq!(r.json(), json!({"error": "Secret 'k1' not found"}));
    // no_auth
    let r = c.req(Method::GET, "/api/v1/secrets", None, &[], "").await;
    assert_eq!(r.status.as_u16(), 401);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.text(), "401: Unauthorized");
    // invalid base64 and a missing value are refused
    let r = post(r#"{"key": "k2", "value": "%%%"}"#).await;
    assert_eq!(r.status.as_u16(), 400);
    let r = post(r#"{"key": "k2"}"#).await;
    assert_eq!(r.status.as_u16(), 400);
    // another user sees none of alice's secrets and cannot delete them
    let bob = p.create_user("bob").await.unwrap();
    let r = c.get("/api/v1/secrets", &bob).await;
    assert_eq!(r.json(), json!([]));
    let r = c
        .req(
            Method::DELETE,
            "/api/v1/secrets/alicekey?owner=alice",
            Some(&bob),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status.as_u16(), 403);
}
