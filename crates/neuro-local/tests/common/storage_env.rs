//! A platform with user `alice` and request helpers for the storage tests.

use http::{Method, StatusCode};
use neuro_local::RunningPlatform;
use serde_json::json;

use super::{st, start, Client, Resp};

pub const TEXT: &str = "text/plain; charset=utf-8";
pub const JSON: &str = "application/json; charset=utf-8";

pub struct Env {
    pub p: RunningPlatform,
    pub c: Client,
    pub t: String,
}

pub async fn env() -> Env {
    let p = start().await;
    let c = Client::new(&p);
    let t = p.create_user("alice").await.unwrap();
    Env { p, c, t }
}

impl Env {
    /// Any request as alice: `target` is the storage path with its query.
    pub async fn req(
        &self,
        method: Method,
        target: &str,
        headers: &[(&str, &str)],
        body: &'static str,
    ) -> Resp {
        self.c
            .req(method, &st(target), Some(&self.t), headers, body)
            .await
    }
    /// Creates `path` with `body` as the user holding `token`.
    pub async fn create_as(&self, token: &str, path: &str, body: &'static str) -> Resp {
        self.c
            .req(
                Method::PUT,
                &format!("{}?op=CREATE", st(path)),
                Some(token),
                &[],
                body,
            )
            .await
    }
    pub async fn put(&self, path: &str, op: &str, body: &'static [u8]) -> Resp {
        self.c
            .req(
                Method::PUT,
                &format!("{}?op={op}", st(path)),
                Some(&self.t),
                &[],
                body,
            )
            .await
    }
    pub async fn get(&self, path: &str, op: &str) -> Resp {
        self.c.get(&format!("{}?op={op}", st(path)), &self.t).await
    }
    pub async fn get_h(&self, path: &str, op: &str, headers: &[(&str, &str)]) -> Resp {
        self.c
            .req(
                Method::GET,
                &format!("{}?op={op}", st(path)),
                Some(&self.t),
                headers,
                "",
            )
            .await
    }
    pub async fn delete(&self, path: &str, recursive: bool) -> Resp {
        self.c
            .req(
                Method::DELETE,
                &format!("{}?op=DELETE&recursive={recursive}", st(path)),
                Some(&self.t),
                &[("Accept", "application/x-ndjson")],
                "",
            )
            .await
    }
    pub fn root(&self) -> std::path::PathBuf {
        self.p.data_dir().join("storage/alice")
    }
}

pub fn assert_text(r: &Resp, status: u16, text: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some(TEXT));
    assert_eq!(r.text(), text);
}

pub fn assert_os_error(r: &Resp, error: &str, errno: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.header("content-type"), Some(JSON));
    assert_eq!(r.json(), json!({"error": error, "errno": errno}));
}
