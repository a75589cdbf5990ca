//! [`Buckets`]: the platform's buckets API (`{buckets_url}/buckets`,
//! `{buckets_url}/persistent_credentials`).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::{Stream, StreamExt as _, TryStreamExt as _};
use neuro_config::Config;
use neuro_http::RequestBuilder;
use neuro_types::endpoints::{self, paths, Endpoint};
use neuro_types::jobs::OrgSelection;
use neuro_types::uri::join_path;
use neuro_types::wire::{
    BucketCredentialsPayload, BucketPayload, CreateBucketRequest,
    CreatePersistentCredentialsRequest, ImportBucketRequest, PatchBucketRequest,
    PersistentCredentialsPayload, SignBlobUrlRequest, SignedUrlPayload,
};
use neuro_types::{
    Bucket, BucketCredentials, BucketProvider, BucketUsage, PersistentBucketCredentials, Scheme,
};
use url::Url;

use crate::channel::Refresher;
use crate::store::Store;
use crate::BlobError;

/// A bucket to create.
///
/// ```
/// use neuro_blob::BucketCreate;
///
/// let create = BucketCreate::new().name("data");
/// assert_eq!(create.name.as_deref(), Some("data"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketCreate {
    /// Name, unique per owner.
    pub name: Option<String>,
    /// The cluster; `None` is the current one.
    pub cluster_name: Option<String>,
    /// The org.
    pub org: OrgSelection,
}

impl BucketCreate {
    /// A bucket without a name on the current cluster and org.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the bucket.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Creates it on cluster `name`.
    pub fn cluster(mut self, name: impl Into<String>) -> Self {
        self.cluster_name = Some(name.into());
        self
    }

    /// Creates it for `org`.
    pub fn org(mut self, org: OrgSelection) -> Self {
        self.org = org;
        self
    }
}

/// An external bucket to import: its provider, its name there and the
/// credentials that open it (wire-protocol-data §4.1). `Debug` redacts the
/// credentials.
///
/// ```
/// use neuro_blob::BucketImport;
/// use neuro_types::BucketProvider;
///
/// let import = BucketImport::new(BucketProvider::Minio, "photos")
///     .credential("endpoint_url", "http://127.0.0.1:8333")
///     .credential("access_key_id", "key")
///     .credential("secret_access_key", "secret")
///     .name("photos");
/// assert!(!format!("{import:?}").contains("secret\""));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BucketImport {
    /// The provider.
    pub provider: Option<BucketProvider>,
    /// The bucket's name at the provider.
    pub provider_bucket_name: String,
    /// Provider-specific credentials.
    pub credentials: BTreeMap<String, String>,
    /// Name on the platform.
    pub name: Option<String>,
    /// The cluster; `None` is the current one.
    pub cluster_name: Option<String>,
    /// The org.
    pub org: OrgSelection,
}

impl std::fmt::Debug for BucketImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketImport")
            .field("provider", &self.provider)
            .field("provider_bucket_name", &self.provider_bucket_name)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .field("name", &self.name)
            .field("cluster_name", &self.cluster_name)
            .finish_non_exhaustive()
    }
}

impl BucketImport {
    /// Imports `provider_bucket_name` of `provider`.
    pub fn new(provider: BucketProvider, provider_bucket_name: impl Into<String>) -> Self {
        Self {
            provider: Some(provider),
            provider_bucket_name: provider_bucket_name.into(),
            ..Self::default()
        }
    }

    /// Adds one credential key.
    pub fn credential(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.credentials.insert(key.into(), value.into());
        self
    }

    /// Names the bucket on the platform.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Imports it on cluster `name`.
    pub fn cluster(mut self, name: impl Into<String>) -> Self {
        self.cluster_name = Some(name.into());
        self
    }

    /// Imports it for `org`.
    pub fn org(mut self, org: OrgSelection) -> Self {
        self.org = org;
        self
    }
}

/// Which cluster to ask and whose bucket a name refers to (default: the
/// current cluster and user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketLookup {
    /// The cluster; `None` is the current one.
    pub cluster_name: Option<String>,
    /// The owner of a bucket given by name; `None` is the user.
    pub owner: Option<String>,
}

impl BucketLookup {
    /// The bucket named so, of `owner`.
    pub fn owner(owner: impl Into<String>) -> Self {
        Self {
            owner: Some(owner.into()),
            ..Self::default()
        }
    }
}

/// The Buckets API of one logged-in client, with blob operations and
/// transfers. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let example = neuro_local::examples::start().await?;
/// # let config = neuro_config::ConfigFactory::new().load().await?;
/// use futures::TryStreamExt as _;
/// use neuro_blob::{BucketCreate, BucketLookup, Buckets};
///
/// let buckets = Buckets::new(config);
/// let bucket = buckets.create(BucketCreate::new().name("data")).await?;
/// buckets.put_blob(&bucket.id, "hello.txt", "hi!".into(), &BucketLookup::default()).await?;
/// let uri = "blob:data/".parse().unwrap();
/// let entries: Vec<_> = buckets.list_blobs(&uri, false, None).try_collect().await?;
/// assert_eq!(entries[0].key, "hello.txt");
/// # drop(buckets); example.shutdown().await; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Buckets {
    config: Config,
}

impl Buckets {
    /// The Buckets API for `config`'s user.
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// The configuration this API uses.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn request(
        &self,
        endpoint: &Endpoint,
        path: &str,
        cluster_name: Option<&str>,
    ) -> Result<RequestBuilder, BlobError> {
        let cluster = self.config.cluster(cluster_name)?;
        let base = endpoint.base.of_cluster(cluster).ok_or_else(|| {
            BlobError::InvalidArgument(format!("{} is not a cluster service", endpoint.name))
        })?;
        let url = join_path(base, path).map_err(neuro_types::ModelError::from)?;
        Ok(self
            .config
            .transport()
            .request(endpoint.method.clone(), url))
    }

    fn decode(&self, payload: BucketPayload) -> Result<Bucket, BlobError> {
        // As in the Python SDK, a bucket carries the client's current cluster.
        Ok(Bucket::from_payload(payload, self.config.cluster_name())?)
    }

    fn decode_persistent(
        &self,
        payload: PersistentCredentialsPayload,
    ) -> Result<PersistentBucketCredentials, BlobError> {
        Ok(PersistentBucketCredentials::from_payload(
            payload,
            self.config.cluster_name(),
        )?)
    }

    /// The buckets the user may read on `cluster_name` (default: the current
    /// one). Nothing is sent until the stream is polled.
    pub fn list(
        &self,
        cluster_name: Option<&str>,
    ) -> impl Stream<Item = Result<Bucket, BlobError>> + Send + 'static {
        self.list_of(
            &endpoints::BUCKETS_LIST,
            cluster_name,
            "bucket list",
            Self::decode,
        )
    }

    /// The stream of one NDJSON (or JSON array) listing of the buckets
    /// service, each item decoded by `decode`. Nothing is sent until the
    /// stream is polled.
    fn list_of<P, T>(
        &self,
        endpoint: &'static Endpoint,
        cluster_name: Option<&str>,
        what: &'static str,
        decode: fn(&Self, P) -> Result<T, BlobError>,
    ) -> impl Stream<Item = Result<T, BlobError>> + Send + 'static
    where
        P: serde::de::DeserializeOwned + Send + 'static,
        T: Send + 'static,
    {
        let this = self.clone();
        let cluster = cluster_name.map(str::to_owned);
        futures::stream::once(async move {
            let response = this
                .request(endpoint, endpoint.path, cluster.as_deref())?
                .header("Accept", neuro_http::NDJSON_CONTENT_TYPE)
                .send()
                .await?;
            let items = response
                .ndjson_or_json::<P, _>(move |v| {
                    serde_json::from_value(v).map_err(|e| neuro_http::Error::json(what, e))
                })
                .map_err(BlobError::from)
                .and_then(move |p| futures::future::ready(decode(&this, p)));
            Ok::<_, BlobError>(items)
        })
        .try_flatten()
        .boxed()
    }

    /// Creates a bucket.
    pub async fn create(&self, create: BucketCreate) -> Result<Bucket, BlobError> {
        let body = CreateBucketRequest {
            name: create.name,
            org_name: create.org.resolve(&self.config.uri_context()),
        };
        let payload: BucketPayload = self
            .request(
                &endpoints::BUCKETS_CREATE,
                endpoints::BUCKETS_CREATE.path,
                create.cluster_name.as_deref(),
            )?
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        self.decode(payload)
    }

    /// Records an external bucket on the platform.
    pub async fn import_external(&self, import: BucketImport) -> Result<Bucket, BlobError> {
        let provider = import
            .provider
            .ok_or_else(|| BlobError::InvalidArgument("an import needs a provider".into()))?;
        let body = ImportBucketRequest {
            name: import.name,
            provider: provider.as_str().to_owned(),
            provider_bucket_name: import.provider_bucket_name,
            credentials: import.credentials,
            org_name: import.org.resolve(&self.config.uri_context()),
        };
        let payload: BucketPayload = self
            .request(
                &endpoints::BUCKETS_IMPORT_EXTERNAL,
                endpoints::BUCKETS_IMPORT_EXTERNAL.path,
                import.cluster_name.as_deref(),
            )?
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        self.decode(payload)
    }

    fn by_id_or_name(
        &self,
        endpoint: &Endpoint,
        path: String,
        lookup: &BucketLookup,
    ) -> Result<RequestBuilder, BlobError> {
        let mut request = self.request(endpoint, &path, lookup.cluster_name.as_deref())?;
        if let Some(owner) = lookup.owner.as_deref().filter(|o| !o.is_empty()) {
            request = request.query(endpoints::query::OWNER, owner);
        }
        Ok(request)
    }

    /// The bucket with this id, or with this name (of `lookup.owner`, default
    /// the user).
    pub async fn get(&self, id_or_name: &str, lookup: &BucketLookup) -> Result<Bucket, BlobError> {
        let path = paths::buckets_get(check_id(id_or_name)?);
        let payload: BucketPayload = self
            .by_id_or_name(&endpoints::BUCKETS_GET, path, lookup)?
            .send()
            .await?
            .json()
            .await?;
        self.decode(payload)
    }

    /// Removes a bucket (for a bucket of the cluster, with its objects).
    pub async fn rm(&self, id_or_name: &str, lookup: &BucketLookup) -> Result<(), BlobError> {
        let path = paths::buckets_delete(check_id(id_or_name)?);
        self.by_id_or_name(&endpoints::BUCKETS_DELETE, path, lookup)?
            .send()
            .await?;
        Ok(())
    }

    /// Turns anonymous reads on or off; the updated bucket.
    pub async fn set_public_access(
        &self,
        id_or_name: &str,
        public_access: bool,
        lookup: &BucketLookup,
    ) -> Result<Bucket, BlobError> {
        let path = paths::buckets_set_public(check_id(id_or_name)?);
        let payload: BucketPayload = self
            .by_id_or_name(&endpoints::BUCKETS_SET_PUBLIC, path, lookup)?
            .json(&PatchBucketRequest {
                public: public_access,
            })
            .send()
            .await?
            .json()
            .await?;
        self.decode(payload)
    }

    /// Short-lived credentials for the bucket at its provider.
    pub async fn request_tmp_credentials(
        &self,
        id_or_name: &str,
        lookup: &BucketLookup,
    ) -> Result<BucketCredentials, BlobError> {
        let path = paths::buckets_tmp_credentials(check_id(id_or_name)?);
        let payload: BucketCredentialsPayload = self
            .by_id_or_name(&endpoints::BUCKETS_TMP_CREDENTIALS, path, lookup)?
            .send()
            .await?
            .json()
            .await?;
        Ok(BucketCredentials::from_payload(payload)?)
    }

    /// The bucket holding the blob `uri` (`find/by_path`).
    pub(crate) async fn bucket_for_uri(&self, uri: &Url) -> Result<Bucket, BlobError> {
        let path = uri.path().trim_start_matches('/');
        let payload: BucketPayload = self
            .request(
                &endpoints::BUCKETS_FIND_BY_PATH,
                endpoints::BUCKETS_FIND_BY_PATH.path,
                uri.host_str(),
            )?
            .query(endpoints::query::PATH, path)
            .send()
            .await?
            .json()
            .await?;
        self.decode(payload)
    }

    /// `uri` made absolute (`blob:name/key` → `blob://<cluster>/<user>/name/key`).
    pub(crate) fn normalize(&self, uri: &Url) -> Result<Url, BlobError> {
        Ok(
            neuro_types::normalize_uri(uri, &[Scheme::Blob], &self.config.uri_context())
                .map_err(neuro_types::ModelError::from)?,
        )
    }

    /// A client of `bucket`'s provider with fresh temporary credentials,
    /// renewed when they expire.
    pub(crate) async fn open(&self, bucket: Bucket) -> Result<Store, BlobError> {
        let lookup = BucketLookup::default();
        let creds = self.request_tmp_credentials(&bucket.id, &lookup).await?;
        let this = self.clone();
        let id = bucket.id.clone();
        let refresher: Refresher = Arc::new(move || {
            let this = this.clone();
            let id = id.clone();
            Box::pin(async move {
                this.request_tmp_credentials(&id, &BucketLookup::default())
                    .await
            })
        });
        Store::open(
            Arc::new(bucket),
            &creds,
            self.config.transport().clone(),
            Some(refresher),
        )
    }

    /// [`Buckets::open`] for the bucket holding `uri`, and the key `uri`
    /// names in it.
    pub(crate) async fn open_uri(&self, uri: &Url) -> Result<(Store, String), BlobError> {
        let uri = self.normalize(uri)?;
        let bucket = self.bucket_for_uri(&uri).await?;
        let key = bucket.key_for_uri(&uri)?;
        Ok((self.open(bucket).await?, key))
    }

    /// [`Buckets::open`] for a bucket given by id or name.
    pub(crate) async fn open_exact(
        &self,
        id_or_name: &str,
        lookup: &BucketLookup,
    ) -> Result<Store, BlobError> {
        let bucket = self.get(id_or_name, lookup).await?;
        self.open(bucket).await
    }

    /// The bucket's usage, as a running total after every object (there is no
    /// platform endpoint: the objects are listed at the provider).
    pub fn get_disk_usage(
        &self,
        id_or_name: &str,
        lookup: &BucketLookup,
    ) -> impl Stream<Item = Result<BucketUsage, BlobError>> + Send + 'static {
        let this = self.clone();
        let id_or_name = id_or_name.to_owned();
        let lookup = lookup.clone();
        futures::stream::once(async move {
            let store = this.open_exact(&id_or_name, &lookup).await?;
            let mut usage = BucketUsage::default();
            let totals = crate::list::entries(store, String::new(), true, None).map_ok(move |e| {
                usage.total_bytes += e.size;
                usage.object_count += 1;
                usage
            });
            Ok::<_, BlobError>(totals)
        })
        .try_flatten()
        .boxed()
    }

    /// A URL anyone can fetch `uri` with until `expires_in` passes.
    pub async fn make_signed_url(
        &self,
        uri: &Url,
        expires_in: std::time::Duration,
    ) -> Result<Url, BlobError> {
        let uri = self.normalize(uri)?;
        let bucket = self.bucket_for_uri(&uri).await?;
        let body = SignBlobUrlRequest {
            key: bucket.key_for_uri(&uri)?,
            expires_in_sec: i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX),
        };
        let payload: SignedUrlPayload = self
            .request(
                &endpoints::BUCKETS_SIGN_BLOB_URL,
                &paths::buckets_sign_blob_url(&bucket.id),
                Some(&bucket.cluster_name),
            )?
            .query(endpoints::query::OWNER, &bucket.owner)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        Url::parse(&payload.url)
            .map_err(|e| BlobError::InvalidArgument(format!("invalid signed URL: {e}")))
    }

    /// The user's persistent credentials on `cluster_name`.
    pub fn persistent_credentials_list(
        &self,
        cluster_name: Option<&str>,
    ) -> impl Stream<Item = Result<PersistentBucketCredentials, BlobError>> + Send + 'static {
        self.list_of(
            &endpoints::PERSISTENT_CREDENTIALS_LIST,
            cluster_name,
            "persistent credentials list",
            Self::decode_persistent,
        )
    }

    /// Creates long-lived credentials for `bucket_ids`.
    pub async fn persistent_credentials_create(
        &self,
        bucket_ids: impl IntoIterator<Item = impl Into<String>>,
        name: Option<&str>,
        read_only: bool,
        cluster_name: Option<&str>,
    ) -> Result<PersistentBucketCredentials, BlobError> {
        let body = CreatePersistentCredentialsRequest {
            name: name.map(str::to_owned),
            bucket_ids: bucket_ids.into_iter().map(Into::into).collect(),
            read_only,
        };
        let payload: PersistentCredentialsPayload = self
            .request(
                &endpoints::PERSISTENT_CREDENTIALS_CREATE,
                endpoints::PERSISTENT_CREDENTIALS_CREATE.path,
                cluster_name,
            )?
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        self.decode_persistent(payload)
    }

    /// Persistent credentials by id or name.
    pub async fn persistent_credentials_get(
        &self,
        id_or_name: &str,
        cluster_name: Option<&str>,
    ) -> Result<PersistentBucketCredentials, BlobError> {
        let payload: PersistentCredentialsPayload = self
            .request(
                &endpoints::PERSISTENT_CREDENTIALS_GET,
                &paths::persistent_credentials_get(check_id(id_or_name)?),
                cluster_name,
            )?
            .send()
            .await?
            .json()
            .await?;
        self.decode_persistent(payload)
    }

    /// Revokes persistent credentials.
    pub async fn persistent_credentials_rm(
        &self,
        id_or_name: &str,
        cluster_name: Option<&str>,
    ) -> Result<(), BlobError> {
        self.request(
            &endpoints::PERSISTENT_CREDENTIALS_DELETE,
            &paths::persistent_credentials_delete(check_id(id_or_name)?),
            cluster_name,
        )?
        .send()
        .await?;
        Ok(())
    }
}

/// An id or name that stays one path segment.
fn check_id(id_or_name: &str) -> Result<&str, BlobError> {
    if id_or_name.is_empty() || id_or_name.contains('/') {
        return Err(BlobError::InvalidArgument(format!(
            "invalid id or name {id_or_name:?}"
        )));
    }
    Ok(id_or_name)
}
