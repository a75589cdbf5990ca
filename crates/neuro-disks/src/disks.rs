//! [`Disks`]: create, list, get and remove disks.

use std::time::Duration;

use futures::{Stream, StreamExt, TryStreamExt};
use neuro_config::Config;
use neuro_http::RequestBuilder;
use neuro_types::endpoints::{self, paths, query, Endpoint};
use neuro_types::jobs::OrgSelection;
use neuro_types::uri::join_path;
use neuro_types::wire::{CreateDiskRequest, DiskPayload};
use neuro_types::Disk;

use crate::DisksError;

/// A disk to create: its capacity and optional settings.
///
/// ```
/// use std::time::Duration;
/// use neuro_disks::DiskCreate;
///
/// let disk = DiskCreate::new(1 << 30)
///     .name("data")
///     .timeout_unused(Duration::from_secs(24 * 3600));
/// assert_eq!(disk.storage, 1 << 30);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskCreate {
    /// Capacity in bytes.
    pub storage: u64,
    /// Time without use after which the platform deletes the disk.
    pub timeout_unused: Option<Duration>,
    /// Name, unique per owner.
    pub name: Option<String>,
    /// The cluster; `None` is the current one.
    pub cluster_name: Option<String>,
    /// The org.
    pub org: OrgSelection,
}

impl DiskCreate {
    /// A disk of `storage` bytes.
    pub fn new(storage: u64) -> Self {
        Self {
            storage,
            ..Self::default()
        }
    }

    /// Names the disk.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Deletes the disk after `timeout` without use.
    pub fn timeout_unused(mut self, timeout: Duration) -> Self {
        self.timeout_unused = Some(timeout);
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

/// Which cluster to ask and whose disk a name refers to (default: the current
/// cluster and user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskLookup {
    /// The cluster; `None` is the current one.
    pub cluster_name: Option<String>,
    /// The owner of a disk given by name; `None` is the user.
    pub owner: Option<String>,
}

/// The Disks API of one logged-in client. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let example = neuro_local::examples::start().await?;
/// # let config = neuro_config::ConfigFactory::new().load().await?;
/// use neuro_disks::{DiskCreate, DiskLookup, Disks};
///
/// let disks = Disks::new(config);
/// let disk = disks.create(DiskCreate::new(1 << 30).name("data")).await?;
/// let again = disks.get("data", &DiskLookup::default()).await?;
/// assert_eq!(again.id, disk.id);
/// disks.rm(&disk.id, &DiskLookup::default()).await?;
/// # drop(disks); example.shutdown().await; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Disks {
    config: Config,
}

impl Disks {
    /// The Disks API for `config`'s user.
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// A request for `endpoint` on `cluster_name`, its path filled in as `path`.
    fn request(
        &self,
        endpoint: &Endpoint,
        cluster_name: Option<&str>,
        path: &str,
    ) -> Result<RequestBuilder, DisksError> {
        let base = self.config.base_url_on(endpoint.base, cluster_name)?;
        let url = join_path(base, path).map_err(|e| DisksError::Model(e.into()))?;
        Ok(self
            .config
            .transport()
            .request(endpoint.method.clone(), url))
    }

    /// A request for `endpoint` on one disk (its path made by `path`), with
    /// its `owner` query.
    fn disk_request(
        &self,
        endpoint: &Endpoint,
        path: fn(&str) -> String,
        id_or_name: &str,
        lookup: &DiskLookup,
    ) -> Result<RequestBuilder, DisksError> {
        if id_or_name.is_empty() || id_or_name.contains('/') {
            return Err(DisksError::InvalidArgument(format!(
                "invalid disk id or name {id_or_name:?}"
            )));
        }
        let mut request =
            self.request(endpoint, lookup.cluster_name.as_deref(), &path(id_or_name))?;
        if let Some(owner) = lookup.owner.as_deref().filter(|o| !o.is_empty()) {
            request = request.query(query::OWNER, owner);
        }
        Ok(request)
    }

    fn decode(&self, payload: DiskPayload) -> Result<Disk, DisksError> {
        // As in the Python SDK, a disk carries the client's current cluster.
        Ok(Disk::from_payload(payload, self.config.cluster_name())?)
    }

    /// The disks the user may read on `cluster_name` (default: the current one).
    /// Nothing is sent until the stream is polled.
    pub fn list(
        &self,
        cluster_name: Option<&str>,
    ) -> impl Stream<Item = Result<Disk, DisksError>> + Send + 'static {
        let this = self.clone();
        let cluster = cluster_name.map(str::to_owned);
        futures::stream::once(async move {
            let payloads: Vec<DiskPayload> = this
                .request(
                    &endpoints::DISKS_LIST,
                    cluster.as_deref(),
                    endpoints::DISKS_LIST.path,
                )?
                .send()
                .await?
                .json()
                .await?;
            let items: Vec<_> = payloads.into_iter().map(|p| this.decode(p)).collect();
            Ok::<_, DisksError>(futures::stream::iter(items))
        })
        .try_flatten()
        .boxed()
    }

    /// Creates a disk.
    pub async fn create(&self, disk: DiskCreate) -> Result<Disk, DisksError> {
        if disk.storage == 0 {
            return Err(DisksError::InvalidArgument(
                "a disk needs a positive size".into(),
            ));
        }
        let body = CreateDiskRequest {
            storage: disk.storage,
            life_span: disk.timeout_unused.map(|d| d.as_secs_f64()),
            name: disk.name,
            org_name: disk.org.resolve(&self.config.uri_context()),
        };
        let payload: DiskPayload = self
            .request(
                &endpoints::DISKS_CREATE,
                disk.cluster_name.as_deref(),
                endpoints::DISKS_CREATE.path,
            )?
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        self.decode(payload)
    }

    /// The disk with this id, or with this name (of `lookup.owner`, default the user).
    pub async fn get(&self, id_or_name: &str, lookup: &DiskLookup) -> Result<Disk, DisksError> {
        let payload: DiskPayload = self
            .disk_request(&endpoints::DISKS_GET, paths::disks_get, id_or_name, lookup)?
            .send()
            .await?
            .json()
            .await?;
        self.decode(payload)
    }

    /// Removes the disk with this id or name, and its data.
    pub async fn rm(&self, id_or_name: &str, lookup: &DiskLookup) -> Result<(), DisksError> {
        self.disk_request(&endpoints::DISKS_RM, paths::disks_rm, id_or_name, lookup)?
            .send()
            .await?;
        Ok(())
    }
}
