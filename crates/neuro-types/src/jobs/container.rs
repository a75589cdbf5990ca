//! The container of a job: image, resources, mounts and environment.

use std::collections::BTreeMap;
use std::convert::Infallible;

use url::Url;

use crate::error::{parse_url, ModelError};
use crate::image::{ImageContext, RemoteImage, TagOption};
use crate::uri::{normalize_uri, url_to_wire, Scheme, UriContext};
use crate::wire::{
    ContainerPayload, ContainerSpec, DiskVolumePayload, HttpPayload, ResourcesPayload,
    SecretVolumePayload, TpuPayload, VolumePayload,
};

/// The image name the Python SDK substitutes when a job's image cannot be parsed.
pub const INVALID_IMAGE_NAME: &str = "INVALID-IMAGE-NAME";

/// Resources requested by a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Resources {
    /// Memory in bytes.
    pub memory: u64,
    /// CPU cores (fractions allowed).
    pub cpu: f64,
    /// Whether `/dev/shm` is enlarged (default `true`).
    pub shm: bool,
    /// Number of GPUs.
    pub gpu: Option<u32>,
    /// GPU model.
    pub gpu_model: Option<String>,
    /// TPU type.
    pub tpu_type: Option<String>,
    /// TPU software version (required with a TPU type).
    pub tpu_software_version: Option<String>,
}

impl Resources {
    /// `memory` bytes and `cpu` cores, with `shm` on and no accelerators.
    pub fn new(memory: u64, cpu: f64) -> Self {
        Self {
            memory,
            cpu,
            shm: true,
            gpu: None,
            gpu_model: None,
            tpu_type: None,
            tpu_software_version: None,
        }
    }

    /// Memory in MiB, rounded down.
    pub fn memory_mb(&self) -> u64 {
        self.memory / (1 << 20)
    }

    /// Decodes `container.resources` of a job object.
    pub fn from_payload(payload: &ResourcesPayload) -> Self {
        Self {
            memory: payload.memory,
            cpu: payload.cpu,
            shm: payload.shm,
            gpu: payload.gpu,
            gpu_model: payload.gpu_model.clone(),
            tpu_type: payload.tpu.as_ref().map(|t| t.tpu_type.clone()),
            tpu_software_version: payload.tpu.as_ref().map(|t| t.software_version.clone()),
        }
    }

    fn tpu_payload(&self) -> Result<Option<TpuPayload>, ModelError> {
        match self.tpu_type.as_deref().filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(tpu_type) => match self.tpu_software_version.as_deref() {
                Some(version) if !version.is_empty() => Ok(Some(TpuPayload {
                    tpu_type: tpu_type.to_owned(),
                    software_version: version.to_owned(),
                })),
                _ => Err(ModelError::MissingTpuSoftwareVersion {
                    tpu_type: tpu_type.to_owned(),
                }),
            },
        }
    }

    /// The `resources` object of a run request (§7.4): `memory`, `cpu` and `shm`
    /// always; `gpu` and `gpu_model` when there are GPUs; `tpu` with a TPU type.
    pub fn to_payload(&self) -> Result<ResourcesPayload, ModelError> {
        Ok(ResourcesPayload {
            memory: self.memory,
            cpu: self.cpu,
            shm: self.shm,
            gpu: self.gpu.filter(|g| *g > 0),
            gpu_model: self.gpu_model.clone(),
            tpu: self.tpu_payload()?,
            memory_mb: None,
        })
    }

    /// The `resources` object a server returns: the request form plus `memory_mb`.
    /// A TPU type without a software version is left out.
    pub fn to_response_payload(&self) -> ResourcesPayload {
        ResourcesPayload {
            memory: self.memory,
            cpu: self.cpu,
            shm: self.shm,
            gpu: self.gpu.filter(|g| *g > 0),
            gpu_model: self.gpu_model.clone(),
            tpu: self.tpu_payload().ok().flatten(),
            memory_mb: Some(self.memory_mb()),
        }
    }
}

/// An HTTP port exposed by a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HttpPort {
    /// Container port (`-1` when a server omitted it).
    pub port: i64,
    /// Whether platform authentication guards the port.
    pub requires_auth: bool,
}

impl HttpPort {
    /// A port that requires authentication (the SDK's default).
    pub fn new(port: i64) -> Self {
        Self {
            port,
            requires_auth: true,
        }
    }

    /// Decodes `container.http` (missing keys: port `-1`, `requires_auth` false).
    pub fn from_payload(payload: &HttpPayload) -> Self {
        Self {
            port: payload.port,
            requires_auth: payload.requires_auth,
        }
    }

    /// Encodes `{"port": ..., "requires_auth": ...}`.
    pub fn to_payload(&self) -> HttpPayload {
        HttpPayload {
            port: self.port,
            requires_auth: self.requires_auth,
            health_check_path: None,
        }
    }
}

/// A storage folder mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Volume {
    /// `storage:` URI (short forms are normalised when a request is built).
    pub storage_uri: Url,
    /// Mount point in the container.
    pub container_path: String,
    /// Read-only mount.
    pub read_only: bool,
}

/// A secret mounted as a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretFile {
    /// `secret:` URI.
    pub secret_uri: Url,
    /// File path in the container.
    pub container_path: String,
}

/// A disk mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiskVolume {
    /// `disk:` URI.
    pub disk_uri: Url,
    /// Mount point in the container.
    pub container_path: String,
    /// Read-only mount.
    pub read_only: bool,
}

impl Volume {
    /// Mounts `storage_uri` at `container_path`.
    pub fn new(storage_uri: Url, container_path: impl Into<String>, read_only: bool) -> Self {
        Self {
            storage_uri,
            container_path: container_path.into(),
            read_only,
        }
    }
}

impl SecretFile {
    /// Mounts the secret `secret_uri` as the file `container_path`.
    pub fn new(secret_uri: Url, container_path: impl Into<String>) -> Self {
        Self {
            secret_uri,
            container_path: container_path.into(),
        }
    }
}

impl DiskVolume {
    /// Mounts `disk_uri` at `container_path`.
    pub fn new(disk_uri: Url, container_path: impl Into<String>, read_only: bool) -> Self {
        Self {
            disk_uri,
            container_path: container_path.into(),
            read_only,
        }
    }
}

/// What runs in a container and what it sees, apart from its image and
/// resources: command, environment, mounts, HTTP port and terminal.
///
/// Both forms of a job carry one: [`Container::settings`] (the explicit-resources
/// form and the container of a [`JobDescription`](super::JobDescription)) and
/// [`JobStart::container`](super::JobStart::container) (the preset form). On the
/// wire these are the keys of a [`ContainerSpec`] other than `image`, so the
/// conversions take and return the image separately. The default is an empty
/// set: the image's own entrypoint and command, no mounts, no terminal.
///
/// ```
/// use neuro_types::image::{ImageContext, RemoteImage};
/// use neuro_types::jobs::{Container, ContainerOptions, HttpPort, JobStart, Resources};
/// use neuro_types::uri::UriContext;
///
/// let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
/// let settings = ContainerOptions {
///     command: Some("python serve.py".into()),
///     http: Some(HttpPort::new(8080)),
///     ..ContainerOptions::default()
/// };
///
/// // The same settings serve both forms of a job.
/// let mut start = JobStart::new(image.clone(), "cpu-small");
/// start.container = settings.clone();
/// let container = Container {
///     settings: settings.clone(),
///     ..Container::new(image.clone(), Resources::new(1 << 30, 1.0))
/// };
///
/// let ctx = UriContext::new("alice", "default", None);
/// let spec = settings.to_spec(&image, &ctx).unwrap();
/// assert_eq!(spec.image, "ubuntu:latest");
/// assert_eq!(spec.command.as_deref(), Some("python serve.py"));
/// assert_eq!(start.to_request(&ctx).unwrap().container, spec);
/// assert_eq!(container.to_spec(&ctx).unwrap(), spec);
///
/// // Reading a spec back gives the image and the settings.
/// let images = ImageContext::new(ctx, vec![("default".into(), "registry.neu.ro".into())]);
/// let (read_image, read) = ContainerOptions::from_spec(&spec, &images).unwrap();
/// assert_eq!((read_image, read), (image, settings));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContainerOptions {
    /// Entrypoint override, one shell-like string (sent when non-empty).
    pub entrypoint: Option<String>,
    /// Command, one shell-like string (sent when non-empty).
    pub command: Option<String>,
    /// Working directory (sent when non-empty).
    pub working_dir: Option<String>,
    /// Exposed HTTP port.
    pub http: Option<HttpPort>,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Storage mounts.
    pub volumes: Vec<Volume>,
    /// Environment variables filled from secrets: name -> `secret:` URI.
    pub secret_env: BTreeMap<String, Url>,
    /// Secrets mounted as files.
    pub secret_files: Vec<SecretFile>,
    /// Disk mounts.
    pub disk_volumes: Vec<DiskVolume>,
    /// Whether the container gets a terminal.
    pub tty: bool,
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.is_empty())
}

impl ContainerOptions {
    /// The container fields of a request (§7.3, `_container_to_api` without
    /// resources) running `image`. Empty strings and collections are left out;
    /// volume, secret and disk URIs are normalised with `ctx` (relative ones get
    /// the current user, cluster and org) and must have the `storage:`, `secret:`
    /// and `disk:` schemes.
    pub fn to_spec(
        &self,
        image: &RemoteImage,
        ctx: &UriContext,
    ) -> Result<ContainerSpec, ModelError> {
        self.encode(image, non_empty, |url, scheme| {
            Ok(normalize_uri(url, &[scheme], ctx)?.to_string())
        })
    }

    /// The container fields a server returns for a job running `image`: strings
    /// and URIs as stored (no normalisation).
    pub fn to_response_spec(&self, image: &RemoteImage) -> ContainerSpec {
        let Ok(spec) =
            self.encode::<Infallible>(image, Option::clone, |url, _| Ok(url_to_wire(url)));
        spec
    }

    /// Decodes the container fields of a request or a job object (§7.8) into the
    /// image and the settings. The image is parsed like `_container_from_api`: an
    /// invalid reference becomes [`INVALID_IMAGE_NAME`], a registry of an unknown
    /// cluster is an error. `ctx` must have the job's cluster as its default (see
    /// [`ImageContext::with_cluster`]).
    pub fn from_spec(
        spec: &ContainerSpec,
        ctx: &ImageContext,
    ) -> Result<(RemoteImage, Self), ModelError> {
        let settings = Self {
            entrypoint: spec.entrypoint.clone(),
            command: spec.command.clone(),
            working_dir: spec.working_dir.clone(),
            http: spec.http.as_ref().map(HttpPort::from_payload),
            env: spec.env.clone(),
            volumes: spec
                .volumes
                .iter()
                .map(|v| {
                    Ok(Volume {
                        storage_uri: parse_url("src_storage_uri", &v.src_storage_uri)?,
                        container_path: v.dst_path.clone(),
                        read_only: v.read_only,
                    })
                })
                .collect::<Result<_, ModelError>>()?,
            secret_env: spec
                .secret_env
                .iter()
                .map(|(k, v)| Ok((k.clone(), parse_url("secret_env", v)?)))
                .collect::<Result<_, ModelError>>()?,
            secret_files: spec
                .secret_volumes
                .iter()
                .map(|s| {
                    Ok(SecretFile {
                        secret_uri: parse_url("src_secret_uri", &s.src_secret_uri)?,
                        container_path: s.dst_path.clone(),
                    })
                })
                .collect::<Result<_, ModelError>>()?,
            disk_volumes: spec
                .disk_volumes
                .iter()
                .map(|d| {
                    Ok(DiskVolume {
                        disk_uri: parse_url("src_disk_uri", &d.src_disk_uri)?,
                        container_path: d.dst_path.clone(),
                        read_only: d.read_only,
                    })
                })
                .collect::<Result<_, ModelError>>()?,
            tty: spec.tty,
        };
        Ok((parse_job_image(&spec.image, ctx)?, settings))
    }

    /// The one encoding behind [`Self::to_spec`] and [`Self::to_response_spec`]:
    /// `text` writes the entrypoint, command and working dir, `uri` each mount's
    /// or secret's URI with the scheme it must have.
    fn encode<E>(
        &self,
        image: &RemoteImage,
        text: fn(&Option<String>) -> Option<String>,
        uri: impl Fn(&Url, Scheme) -> Result<String, E>,
    ) -> Result<ContainerSpec, E> {
        Ok(ContainerSpec {
            image: image.as_docker_url(false),
            entrypoint: text(&self.entrypoint),
            command: text(&self.command),
            working_dir: text(&self.working_dir),
            http: self.http.as_ref().map(HttpPort::to_payload),
            env: self.env.clone(),
            volumes: self
                .volumes
                .iter()
                .map(|v| {
                    Ok(VolumePayload {
                        src_storage_uri: uri(&v.storage_uri, Scheme::Storage)?,
                        dst_path: v.container_path.clone(),
                        read_only: v.read_only,
                    })
                })
                .collect::<Result<_, E>>()?,
            secret_env: self
                .secret_env
                .iter()
                .map(|(k, v)| Ok((k.clone(), uri(v, Scheme::Secret)?)))
                .collect::<Result<_, E>>()?,
            secret_volumes: self
                .secret_files
                .iter()
                .map(|s| {
                    Ok(SecretVolumePayload {
                        src_secret_uri: uri(&s.secret_uri, Scheme::Secret)?,
                        dst_path: s.container_path.clone(),
                    })
                })
                .collect::<Result<_, E>>()?,
            disk_volumes: self
                .disk_volumes
                .iter()
                .map(|d| {
                    Ok(DiskVolumePayload {
                        src_disk_uri: uri(&d.disk_uri, Scheme::Disk)?,
                        dst_path: d.container_path.clone(),
                        read_only: d.read_only,
                    })
                })
                .collect::<Result<_, E>>()?,
            tty: self.tty,
        })
    }
}

/// Parses a job's image like `_container_from_api`: an invalid reference becomes
/// `INVALID-IMAGE-NAME`, an unknown cluster is an error.
fn parse_job_image(image: &str, ctx: &ImageContext) -> Result<RemoteImage, ModelError> {
    match ctx.parse_remote(image, TagOption::Default) {
        Ok(image) => Ok(image),
        Err(e) if e.is_unknown_cluster() => Err(e.into()),
        Err(_) => Ok(RemoteImage::new_external_image(
            INVALID_IMAGE_NAME,
            None,
            None,
        )),
    }
}

/// A job's container: its image and resources, and the [`ContainerOptions`] of
/// what runs in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    /// The image.
    pub image: RemoteImage,
    /// Requested resources.
    pub resources: Resources,
    /// Command, environment, mounts, HTTP port and terminal.
    pub settings: ContainerOptions,
}

impl Container {
    /// A container running `image` with `resources` and default settings.
    pub fn new(image: RemoteImage, resources: Resources) -> Self {
        Self {
            image,
            resources,
            settings: ContainerOptions::default(),
        }
    }

    /// The container fields of a request (§7.3), without `resources`: see
    /// [`ContainerOptions::to_spec`].
    pub fn to_spec(&self, ctx: &UriContext) -> Result<ContainerSpec, ModelError> {
        self.settings.to_spec(&self.image, ctx)
    }

    /// The `container` object of a run request: [`Container::to_spec`] plus
    /// [`Resources::to_payload`].
    pub fn to_payload(&self, ctx: &UriContext) -> Result<ContainerPayload, ModelError> {
        Ok(ContainerPayload {
            spec: self.to_spec(ctx)?,
            resources: self.resources.to_payload()?,
        })
    }

    /// Decodes `container` of a job object (§7.8). `ctx` must have the job's
    /// cluster as its default (see [`ImageContext::with_cluster`]).
    pub fn from_payload(
        payload: &ContainerPayload,
        ctx: &ImageContext,
    ) -> Result<Self, ModelError> {
        let (image, settings) = ContainerOptions::from_spec(&payload.spec, ctx)?;
        Ok(Self {
            image,
            resources: Resources::from_payload(&payload.resources),
            settings,
        })
    }

    /// The `container` object a server returns: URIs as stored (no
    /// normalisation), resources with `memory_mb`.
    pub fn to_response_payload(&self) -> ContainerPayload {
        ContainerPayload {
            spec: self.settings.to_response_spec(&self.image),
            resources: self.resources.to_response_payload(),
        }
    }
}
