//! The image registry at the cluster's `registry_url`: the registry v2 API
//! (OCI distribution) that `docker`, `podman`, `skopeo` and the SDKs push to and
//! pull from (wire-protocol-core §9).
//!
//! * Blobs arrive monolithically (`POST ...?digest=`) or in chunks (`POST`, then
//!   `PATCH`es, then `PUT ...?digest=`); their digest is verified before they
//!   are stored, once by digest, in [`store::BlobStore`]. A repository sees only
//!   the blobs pushed or mounted into it.
//! * Manifests (Docker v2 schema 2, OCI, lists and indexes) are stored by tag
//!   and by digest once every blob they reference is in the repository.
//! * A repository `[org/]owner/name` is the resource `image://<cluster>/[org/]owner/name`
//!   of the permission tree: reading needs `read`, pushing and deleting `write`;
//!   `_catalog` lists only what the caller may read.

pub mod auth;
pub mod digest;
pub mod error;
mod handlers;
pub mod manifest;
pub mod route;
pub mod store;

use axum::routing::get;
use axum::Router;
use neuro_types::endpoints;

use crate::app::EndpointRoutes as _;
use crate::permissions::ResourcePath;
use crate::state::AppState;

pub use store::migrate;

/// The registry's routes (`/v2/...`).
pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(&endpoints::REGISTRY_BASE, handlers::base)
        // `/v2/` is the version check clients call; the table's path has no
        // trailing slash.
        .route(
            &format!("{}/", endpoints::REGISTRY_BASE.route),
            get(handlers::base),
        )
        .endpoint(&endpoints::REGISTRY_CATALOG, handlers::catalog)
        .endpoint(&endpoints::REGISTRY_GET, handlers::get)
        .endpoint(&endpoints::REGISTRY_HEAD, handlers::get)
        .endpoint(&endpoints::REGISTRY_POST, handlers::post)
        .endpoint(&endpoints::REGISTRY_PATCH, handlers::patch)
        .endpoint(&endpoints::REGISTRY_PUT, handlers::put)
        .endpoint(&endpoints::REGISTRY_DELETE, handlers::delete)
}

/// `image://<cluster>/<repo>`, the permission tree's name of a repository.
pub fn image_path(cluster: &str, repo: &str) -> ResourcePath {
    ResourcePath::in_cluster("image", cluster, repo)
}
