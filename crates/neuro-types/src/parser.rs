//! [`Parser`]: what a user types for volumes, images, environment variables and
//! URIs, turned into model values (`neuro_sdk._parser.Parser`).
//!
//! Every malformed input is a [`ParseError`] that names the input. Reading
//! `.env` files ([`Parser::envs`]) is the only I/O of this crate; the
//! [`Parser::envs_from`] form takes file contents and a variable lookup instead.
//!
//! ```
//! use neuro_types::parser::Parser;
//! use neuro_types::{ImageContext, UriContext};
//!
//! let parser = Parser::new(ImageContext::new(
//!     UriContext::new("alice", "default", None),
//!     vec![("default".into(), "registry.example".into())],
//! ));
//! let v = parser.volume("storage:data:/mnt/data:ro").unwrap();
//! assert_eq!(v.storage_uri.as_str(), "storage://default/alice/data");
//! assert!(v.read_only);
//! let err = parser.volume("storage:data").unwrap_err();
//! assert_eq!(err.to_string(), "invalid volume specification 'storage:data'");
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use url::Url;

use crate::image::{ImageContext, ImageError, LocalImage, RemoteImage, TagOption};
use crate::jobs::{DiskVolume, SecretFile, Volume};
use crate::uri::{
    local_path_to_uri, normalize_uri, short_uri, uri_from_cli, uri_from_cli_in, uri_to_local_path,
    LocalPaths, Scheme, UriContext, UriError,
};

/// Why user input could not be parsed. Every variant carries the input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not `URI:CONTAINER_PATH[:ro|:rw]` (or, for secrets, `URI:PATH`).
    #[error("invalid {kind} specification '{input}'")]
    Spec {
        /// `volume`, `secret file` or `disk volume`.
        kind: &'static str,
        /// The text.
        input: String,
    },
    /// The last part is neither `ro` nor `rw`.
    #[error("wrong read-write/read-only mode spec for '{input}'")]
    Mode {
        /// The text.
        input: String,
    },
    /// The container path is not absolute.
    #[error("container path must be absolute in '{input}'")]
    ContainerPath {
        /// The text.
        input: String,
    },
    /// `HOME` and `ALL` volumes of old CLIs.
    #[error("--volume={input} no longer supported")]
    Unsupported {
        /// The text.
        input: String,
    },
    /// The URI part was refused.
    #[error("invalid URI '{input}'")]
    Uri {
        /// The text.
        input: String,
        /// Why.
        #[source]
        source: UriError,
    },
    /// The image reference was refused.
    #[error("invalid image '{input}'")]
    Image {
        /// The text.
        input: String,
        /// Why.
        #[source]
        source: ImageError,
    },
    /// An environment variable whose name is empty or has `=`, a NUL or white
    /// space, or whose value has a NUL.
    #[error("invalid environment variable '{input}': {reason}")]
    Env {
        /// The text (`NAME=value`, or the line of an env file).
        input: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An env file could not be read.
    #[error("cannot read env file {}", path.display())]
    EnvFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The volumes of a `--volume` list, split by kind in their given order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeParseResult {
    /// `storage:` volumes.
    pub volumes: Vec<Volume>,
    /// `secret:` files.
    pub secret_files: Vec<SecretFile>,
    /// `disk:` volumes.
    pub disk_volumes: Vec<DiskVolume>,
}

/// Environment variables, split into plain values and `secret:` references.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvParseResult {
    /// Plain variables.
    pub env: BTreeMap<String, String>,
    /// Variables whose value is a secret URI.
    pub secret_env: BTreeMap<String, Url>,
}

/// Parses user input for one user, cluster and org (and the registries of every
/// cluster). Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parser {
    images: ImageContext,
    local: Option<LocalPaths>,
}

impl Parser {
    /// A parser for the user, cluster and org of `images` (local paths resolved
    /// against the process's current and home directories).
    pub fn new(images: ImageContext) -> Self {
        Self {
            images,
            local: None,
        }
    }

    /// Resolves relative and `~` local paths against `local` instead of the
    /// process's directories.
    pub fn with_local_paths(mut self, local: LocalPaths) -> Self {
        self.local = Some(local);
        self
    }

    /// The same parser with another default cluster (the `cluster_name`
    /// argument of the Python parser's methods).
    pub fn on_cluster(&self, cluster_name: &str) -> Self {
        Self {
            images: self.images.with_cluster(cluster_name),
            local: self.local.clone(),
        }
    }

    /// The same parser acting for another org (`None`: no org).
    pub fn on_org(&self, org_name: Option<&str>) -> Self {
        let mut images = self.images.clone();
        images.uri.org_name = org_name.map(str::to_owned);
        Self {
            images,
            local: self.local.clone(),
        }
    }

    fn ctx(&self) -> &UriContext {
        &self.images.uri
    }

    fn cli_uri(&self, input: &str, allowed: &[Scheme]) -> Result<Url, ParseError> {
        self.cli_uri_in(input, allowed, input)
    }

    /// Parses `uri`, part of the user's `whole` input (named in the error).
    fn cli_uri_in(&self, uri: &str, allowed: &[Scheme], whole: &str) -> Result<Url, ParseError> {
        let result = match &self.local {
            Some(local) => uri_from_cli_in(uri, self.ctx(), allowed, local),
            None => uri_from_cli(uri, self.ctx(), allowed),
        };
        result.map_err(|source| ParseError::Uri {
            input: whole.to_owned(),
            source,
        })
    }

    /// A storage volume: `storage:PATH:/container/path[:ro|:rw]`.
    pub fn volume(&self, spec: &str) -> Result<Volume, ParseError> {
        let (uri, container_path, read_only) = split_volume(spec, true, "volume")?;
        Ok(Volume {
            storage_uri: self.cli_uri_in(uri, &[Scheme::Storage], spec)?,
            container_path: container_path.to_owned(),
            read_only,
        })
    }

    /// A `--volume` list: `secret:` entries become secret files (no mode
    /// allowed), `disk:` entries disk volumes, the rest storage volumes.
    pub fn volumes<S: AsRef<str>>(&self, specs: &[S]) -> Result<VolumeParseResult, ParseError> {
        let mut result = VolumeParseResult::default();
        for spec in specs {
            let spec = spec.as_ref();
            if spec == "HOME" || spec == "ALL" {
                return Err(ParseError::Unsupported {
                    input: spec.to_owned(),
                });
            }
            if spec.starts_with("secret:") {
                let (uri, container_path, _) = split_volume(spec, false, "secret file")?;
                result.secret_files.push(SecretFile {
                    secret_uri: self.cli_uri_in(uri, &[Scheme::Secret], spec)?,
                    container_path: container_path.to_owned(),
                });
            } else if spec.starts_with("disk:") {
                let (uri, container_path, read_only) = split_volume(spec, true, "disk volume")?;
                result.disk_volumes.push(DiskVolume {
                    disk_uri: self.cli_uri_in(uri, &[Scheme::Disk], spec)?,
                    container_path: container_path.to_owned(),
                    read_only,
                });
            } else {
                result.volumes.push(self.volume(spec)?);
            }
        }
        Ok(result)
    }

    /// A local image name (`ubuntu:22.04`).
    pub fn local_image(&self, text: &str) -> Result<LocalImage, ParseError> {
        self.images
            .parse_local(text)
            .map_err(|source| ParseError::Image {
                input: text.to_owned(),
                source,
            })
    }

    /// A remote image: Docker Hub names, `registry/name` forms, `image:` URIs
    /// and references into a cluster registry; tags per `tag_option`.
    pub fn remote_image(
        &self,
        text: &str,
        tag_option: TagOption,
    ) -> Result<RemoteImage, ParseError> {
        self.images
            .parse_remote(text, tag_option)
            .map_err(|source| ParseError::Image {
                input: text.to_owned(),
                source,
            })
    }

    /// Environment variables from `env_files` (in order) then `env`, later ones
    /// winning; `NAME` alone takes the value from the process environment (empty
    /// if unset); values starting with `secret:` become secret references.
    pub fn envs<S: AsRef<str>, P: AsRef<Path>>(
        &self,
        env: &[S],
        env_files: &[P],
    ) -> Result<EnvParseResult, ParseError> {
        let mut contents = Vec::with_capacity(env_files.len());
        for path in env_files {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path).map_err(|source| ParseError::EnvFile {
                path: path.to_path_buf(),
                source,
            })?;
            contents.push(text);
        }
        self.envs_from(env, &contents, |name| std::env::var(name).ok())
    }

    /// [`Parser::envs`] with the env files' contents given and `lookup` in place
    /// of the process environment.
    ///
    /// An env file is read line by line: leading white space is dropped, empty
    /// lines and `#` comments are skipped, a UTF-8 byte-order mark is ignored.
    pub fn envs_from<S: AsRef<str>, T: AsRef<str>>(
        &self,
        env: &[S],
        env_file_contents: &[T],
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<EnvParseResult, ParseError> {
        let mut lines: Vec<&str> = Vec::new();
        for text in env_file_contents {
            let text = text.as_ref();
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            lines.extend(
                text.lines()
                    .map(str::trim_start)
                    .filter(|l| !l.is_empty() && !l.starts_with('#')),
            );
        }
        lines.extend(env.iter().map(AsRef::as_ref));
        let mut result = EnvParseResult::default();
        for line in lines {
            let (name, value) = match line.split_once('=') {
                Some((name, value)) => (name, value.to_owned()),
                None => (line, lookup(line).unwrap_or_default()),
            };
            check_env(line, name, &value)?;
            result.env.remove(name);
            result.secret_env.remove(name);
            if value.starts_with("secret:") {
                let uri = self.cli_uri_in(&value, &[Scheme::Secret], line)?;
                result.secret_env.insert(name.to_owned(), uri);
            } else {
                result.env.insert(name.to_owned(), value);
            }
        }
        Ok(result)
    }

    /// A URI (or, with `file` allowed, a local path) as typed on the command
    /// line, completed to its long form; `allowed` empty accepts every scheme.
    pub fn str_to_uri(&self, text: &str, allowed: &[Scheme]) -> Result<Url, ParseError> {
        self.cli_uri(text, allowed)
    }

    /// The text of a URI.
    pub fn uri_to_str(&self, uri: &Url) -> String {
        uri.to_string()
    }

    /// Completes a parsed URI to its long form (`storage:x` to
    /// `storage://cluster/user/x`); `allowed` empty accepts every scheme.
    pub fn normalize_uri(&self, uri: &Url, allowed: &[Scheme]) -> Result<Url, ParseError> {
        normalize_uri(uri, allowed, self.ctx()).map_err(|source| ParseError::Uri {
            input: uri.to_string(),
            source,
        })
    }

    /// The short display form of a URI (`storage:x` for the user's own files).
    pub fn short_uri(&self, uri: &Url) -> String {
        short_uri(uri, self.ctx())
    }

    /// The local path of a `file:` URI.
    pub fn uri_to_path(&self, uri: &Url) -> Result<PathBuf, ParseError> {
        uri_to_local_path(uri).map_err(|source| ParseError::Uri {
            input: uri.to_string(),
            source,
        })
    }

    /// A local path as an absolute `file:` URI (relative paths against the
    /// current directory).
    pub fn path_to_uri(&self, path: &Path) -> Result<Url, ParseError> {
        let input = || path.display().to_string();
        let cwd = match &self.local {
            Some(local) => local.cwd.clone(),
            None => std::env::current_dir().map_err(|e| ParseError::Uri {
                input: input(),
                source: UriError::CurrentDir(e),
            })?,
        };
        local_path_to_uri(path, &cwd).map_err(|source| ParseError::Uri {
            input: input(),
            source,
        })
    }
}

/// `_parse_generic_volume`: `URI:PATH` or (with a mode) `URI:PATH:ro|rw`, where
/// the URI may contain one colon of its own.
fn split_volume<'a>(
    spec: &'a str,
    allow_mode: bool,
    kind: &'static str,
) -> Result<(&'a str, &'a str, bool), ParseError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (uri_end, read_only) = if allow_mode && parts.len() == 4 {
        match parts[3] {
            "ro" => (2, true),
            "rw" => (2, false),
            _ => {
                return Err(ParseError::Mode {
                    input: spec.to_owned(),
                })
            }
        }
    } else if parts.len() == 3 {
        (2, false)
    } else {
        return Err(ParseError::Spec {
            kind,
            input: spec.to_owned(),
        });
    };
    let container_path = parts[uri_end];
    if parts[0].is_empty() {
        return Err(ParseError::Spec {
            kind,
            input: spec.to_owned(),
        });
    }
    if !container_path.starts_with('/') {
        return Err(ParseError::ContainerPath {
            input: spec.to_owned(),
        });
    }
    // `parts[0]` and `parts[1]` are slices of `spec`: the URI is the text before
    // the second colon.
    let uri_len = parts[0].len() + 1 + parts[1].len();
    Ok((&spec[..uri_len], container_path, read_only))
}

fn check_env(input: &str, name: &str, value: &str) -> Result<(), ParseError> {
    let reason = if name.is_empty() {
        Some("empty name")
    } else if name.chars().any(|c| c == '\0' || c.is_whitespace()) {
        Some("the name contains white space or NUL")
    } else if value.contains('\0') {
        Some("the value contains NUL")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ParseError::Env {
            input: input.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}
