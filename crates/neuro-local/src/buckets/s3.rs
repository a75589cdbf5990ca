//! The S3-compatible endpoint of this cluster's buckets (provider `minio`):
//! the `s3s` crate speaks the protocol and checks SigV4 signatures (headers and
//! presigned URLs, expiry included), `s3s-fs` keeps the objects under
//! `{data_dir}/buckets/<bucket id>`. This module only decides who may do what:
//! a key opens the buckets it was issued for (read-only keys only read), a
//! temporary key must come with its session token and is refused once
//! expired, and anonymous requests may only read buckets with public access.
//!
//! Requests reach it path-style on the platform's own address: a path whose
//! first segment is a bucket id (`/bucket-…`) is an S3 request.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse as _, Response};
use http::StatusCode;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{s3_error, S3Result};

use super::keys::{AccessKey, KeyCache};
use super::store;
use crate::db::Db;
use crate::settings::Settings;

/// The first characters of every bucket id, and so of every S3 request path.
pub const BUCKET_PREFIX: &str = "bucket-";

/// `{data_dir}/buckets`: one directory per bucket of this cluster.
pub fn buckets_dir(settings: &Settings) -> std::path::PathBuf {
    settings.data_dir.join("buckets")
}

/// The S3 service over `settings`' data directory, with access decided from
/// `db`.
pub fn service(settings: &Settings, db: &Db) -> std::io::Result<S3Service> {
    let root = buckets_dir(settings);
    std::fs::create_dir_all(&root)?;
    let mut builder = S3ServiceBuilder::new(super::objects::Objects::new(&root)?);
    let cache = Arc::new(KeyCache::default());
    builder.set_auth(Keys {
        db: db.clone(),
        cache: Arc::clone(&cache),
    });
    builder.set_access(Access {
        db: db.clone(),
        cache,
        root: root.clone(),
    });
    Ok(builder.build())
}

/// Looks up the secret of an access key.
struct Keys {
    db: Db,
    cache: Arc<KeyCache>,
}

/// The key `access_key`, read through `cache`.
async fn load_key(db: &Db, cache: &KeyCache, access_key: &str) -> S3Result<Option<AccessKey>> {
    cache
        .get(db, access_key)
        .await
        .map_err(|_| s3_error!(InternalError, "cannot read the access keys"))
}

#[async_trait::async_trait]
impl S3Auth for Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match load_key(&self.db, &self.cache, access_key).await? {
            Some(key) if key.expired() => {
                Err(s3_error!(ExpiredToken, "The access key has expired"))
            }
            Some(key) => Ok(SecretKey::from(key.secret)),
            None => Err(s3_error!(InvalidAccessKeyId)),
        }
    }
}

/// Decides whether an authenticated (or anonymous) request may proceed.
struct Access {
    db: Db,
    cache: Arc<KeyCache>,
    /// `{data_dir}/buckets`.
    root: std::path::PathBuf,
}

impl Access {
    /// Whether `key` of `bucket` is a folder on disk: the filesystem backend
    /// keeps `a/b` and `a/b/c` as a directory and a file, so the key `a/b`
    /// names no object (S3 answers `NoSuchKey`, not an error).
    async fn is_folder(&self, bucket: &str, key: &str) -> bool {
        if key.is_empty() || key.ends_with('/') || key.split('/').any(|s| s == "..") {
            return false;
        }
        tokio::fs::metadata(self.root.join(bucket).join(key))
            .await
            .is_ok_and(|m| m.is_dir())
    }

    /// A read of a folder key is `NoSuchKey`.
    async fn check_object(&self, cx: &S3AccessContext<'_>, bucket: &str) -> S3Result<()> {
        let op = cx.s3_op().name();
        if let S3Path::Object { key, .. } = cx.s3_path() {
            if matches!(op, "GetObject" | "HeadObject") && self.is_folder(bucket, key).await {
                return Err(s3_error!(NoSuchKey));
            }
        }
        Ok(())
    }
}

/// Operations that only read.
fn is_read(op: &str) -> bool {
    op.starts_with("Get") || op.starts_with("Head") || op.starts_with("List")
}

/// The session token sent with a request (header or presigned query).
fn session_token(cx: &S3AccessContext<'_>) -> Option<String> {
    if let Some(value) = cx.headers().get("x-amz-security-token") {
        return value.to_str().ok().map(str::to_owned);
    }
    let query = cx.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "X-Amz-Security-Token")
        .map(|(_, v)| v.into_owned())
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op = cx.s3_op().name();
        let bucket = match cx.s3_path() {
            S3Path::Bucket { bucket } | S3Path::Object { bucket, .. } => bucket.to_string(),
            S3Path::Root => return Err(s3_error!(AccessDenied, "Listing buckets is not allowed")),
        };
        if matches!(op, "CreateBucket" | "DeleteBucket") || op.contains("Bucket") && !is_read(op) {
            return Err(s3_error!(
                AccessDenied,
                "Buckets are managed by the buckets API"
            ));
        }
        let Some(credentials) = cx.credentials() else {
            // Anonymous: reading objects of a public bucket only.
            let id = bucket.clone();
            let row = self
                .db
                .read(move |conn| store::find(conn, &id, ""))
                .await
                .map_err(|_| s3_error!(InternalError))?;
            let public = row.is_some_and(|r| r.public && !r.imported);
            if public && matches!(op, "GetObject" | "HeadObject") {
                return self.check_object(cx, &bucket).await;
            }
            return Err(s3_error!(AccessDenied, "Anonymous access is not allowed"));
        };
        let access_key = credentials.access_key.clone();
        let Some(key) = load_key(&self.db, &self.cache, &access_key).await? else {
            return Err(s3_error!(InvalidAccessKeyId));
        };
        if key.expired() {
            return Err(s3_error!(ExpiredToken, "The access key has expired"));
        }
        if let Some(expected) = &key.session_token {
            if session_token(cx).as_deref() != Some(expected.as_str()) {
                return Err(s3_error!(
                    InvalidToken,
                    "The session token is missing or wrong"
                ));
            }
        }
        if !key.opens(&bucket, !is_read(op)) {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        self.check_object(cx, &bucket).await
    }
}

/// The S3 service for the platform's state, or `None` (then S3 requests are
/// answered `503`) when its directory cannot be prepared.
pub fn endpoint(settings: &Settings, db: &Db) -> Option<S3Service> {
    match service(settings, db) {
        Ok(service) => Some(service),
        Err(e) => {
            tracing::error!(error = %e, "the S3 endpoint of buckets is unavailable");
            None
        }
    }
}

/// Whether `request` is an S3 request: its first path segment names a
/// bucket (`bucket-…`).
pub fn is_s3_request(request: &Request) -> bool {
    request
        .uri()
        .path()
        .strip_prefix('/')
        .is_some_and(|p| p.starts_with(BUCKET_PREFIX))
}

/// Answers an S3 request with `service` (`503` without one).
pub async fn serve(service: Option<&S3Service>, request: Request) -> Response {
    let Some(service) = service else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let request = request.map(s3s::Body::http_body_unsync);
    match service.call(request).await {
        Ok(response) => response.map(Body::new),
        Err(e) => {
            tracing::warn!("S3 request failed: {e:?}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
