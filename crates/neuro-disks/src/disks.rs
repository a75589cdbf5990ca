//! [`Disks`]: create, list, get and remove disks.

use std::time::Duration;

use futures::{Stream, StreamExt, TryStreamExt};
use neuro_config::Config;
use neuro_http::Method;
use neuro_types::jobs::OrgSelection;
use neuro_types::uri::join_path;
use neuro_types::wire::{CreateDiskRequest, DiskPayload};
use neuro_types::Disk;
use url::Url;

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
/// ```no_run
/// # async fn demo(config: neuro_config::Config) -> Result<(), neuro_disks::DisksError> {
/// use neuro_disks::{DiskCreate, DiskLookup, Disks};
///
/// let disks = Disks::new(config);
/// let disk = disks.create(DiskCreate::new(1 << 30).name("data")).await?;
/// let again = disks.get("data", &DiskLookup::default()).await?;
/// assert_eq!(again.id, disk.id);
/// disks.rm(&disk.id, &DiskLookup::default()).await?;
/// # Ok(()) }
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

    fn disks_url(&self, cluster_name: Option<&str>) -> Result<Url, DisksError> {
        Ok(self.config.cluster(cluster_name)?.disks_url.clone())
    }

    fn disk_url(&self, id_or_name: &str, cluster_name: Option<&str>) -> Result<Url, DisksError> {
        if id_or_name.is_empty() || id_or_name.contains('/') {
            return Err(DisksError::InvalidArgument(format!(
                "invalid disk id or name {id_or_name:?}"
            )));
        }
        join_path(&self.disks_url(cluster_name)?, id_or_name)
            .map_err(|e| DisksError::Model(e.into()))
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
            let url = this.disks_url(cluster.as_deref())?;
            let payloads: Vec<DiskPayload> = this
                .config
                .transport()
                .request(Method::GET, url)
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
            .config
            .transport()
            .request(Method::POST, self.disks_url(disk.cluster_name.as_deref())?)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        self.decode(payload)
    }

    /// The disk with this id, or with this name (of `lookup.owner`, default the user).
    pub async fn get(&self, id_or_name: &str, lookup: &DiskLookup) -> Result<Disk, DisksError> {
        let mut request = self.config.transport().request(
            Method::GET,
            self.disk_url(id_or_name, lookup.cluster_name.as_deref())?,
        );
        if let Some(owner) = lookup.owner.as_deref().filter(|o| !o.is_empty()) {
            request = request.query("owner", owner);
        }
        let payload: DiskPayload = request.send().await?.json().await?;
        self.decode(payload)
    }

    /// Removes the disk with this id or name, and its data.
    pub async fn rm(&self, id_or_name: &str, lookup: &DiskLookup) -> Result<(), DisksError> {
        let mut request = self.config.transport().request(
            Method::DELETE,
            self.disk_url(id_or_name, lookup.cluster_name.as_deref())?,
        );
        if let Some(owner) = lookup.owner.as_deref().filter(|o| !o.is_empty()) {
            request = request.query("owner", owner);
        }
        request.send().await?;
        Ok(())
    }
}
