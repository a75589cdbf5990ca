//! Jobs whose image is in this platform's registry run inside it: this module
//! finds the image of a job (`<registry host:port>/<repo>[:tag|@digest]`, the
//! form `RemoteImage.as_docker_url()` sends), checks that the job's owner may
//! read it, prepares its root file system ([`super::rootfs`]) and works out the
//! process: the image's `Entrypoint`, `Cmd`, `Env` and `WorkingDir`, each
//! unless the job overrides it. Like Kubernetes, a job's `entrypoint` replaces
//! the image's `Entrypoint` (and drops its `Cmd`), a job's `command` replaces
//! `Cmd`; both are split like a shell would.

use std::path::{Path, PathBuf};

use neuro_types::image::registry_authority;
use neuro_types::permission::Action;

use super::runtime::Launch;
use super::sandbox::ImageRoot;
use crate::db::Db;
use crate::permissions::AccessView;
use crate::registry::digest::Digest;
use crate::registry::image_path;
use crate::registry::manifest::{self, ImageConfig, Manifest, RunConfig};
use crate::registry::route::{is_valid_repo, Reference};
use crate::registry::store::{self, BlobStore};
use crate::settings::Settings;

/// An image of this registry, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRun {
    /// Its root file system (shared; jobs write to an overlay on top).
    pub rootfs: PathBuf,
    /// Its runtime configuration.
    pub run: RunConfig,
}

/// `(repository, reference)` of an image of the registry `authority`; `None`
/// for an image of any other registry.
pub fn parse_reference(image: &str, authority: &str) -> Option<(String, Reference)> {
    let rest = image.strip_prefix(authority)?.strip_prefix('/')?;
    let (repo, reference) = if let Some((repo, digest)) = rest.split_once('@') {
        (repo, Reference::Digest(Digest::parse(digest)?))
    } else {
        match rest.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Reference::parse(tag).ok()?),
            _ => (rest, Reference::Tag("latest".to_owned())),
        }
    };
    is_valid_repo(repo).then(|| (repo.to_owned(), reference))
}

/// The image `image` of this platform's registry, with its root file system
/// unpacked; `Ok(None)` when the image is not in it (another registry, or not
/// pushed). Fails when the job's owner may not read it or it cannot be unpacked.
pub async fn resolve(
    db: &Db,
    settings: &Settings,
    view: &AccessView,
    image: &str,
) -> Result<Option<ImageRun>, String> {
    let authority = registry_authority(&settings.own_registry_url()).map_err(|e| e.to_string())?;
    let Some((repo, reference)) = parse_reference(image, &authority) else {
        return Ok(None);
    };
    if !view.allows(&image_path(&settings.cluster_name, &repo), Action::Read) {
        return Err(format!(
            "{} has no read access to the image {image}",
            view.subject()
        ));
    }
    let blobs = BlobStore::new(&settings.data_dir);
    let (found_repo, found_ref) = (repo.clone(), reference.clone());
    let Some(found) = db
        .call(move |conn| store::manifest(conn, &found_repo, &found_ref))
        .await
        .map_err(|e| e.body.error)?
    else {
        return Ok(None);
    };
    let cache = settings.data_dir.join("registry").join("rootfs");
    tokio::task::spawn_blocking(move || load(&blobs, &cache, &found.digest, &found.media_type))
        .await
        .map_err(|e| format!("the image task failed: {e}"))?
        .map(Some)
        .map_err(|e| format!("cannot prepare the image {image}: {e}"))
}

/// Reads the manifest `digest` (picking the first listed image of an index),
/// its configuration, and unpacks its layers (blocking).
fn load(
    blobs: &BlobStore,
    cache: &Path,
    digest: &Digest,
    media_type: &str,
) -> Result<ImageRun, String> {
    let read = |d: &Digest| std::fs::read(blobs.blob_path(d)).map_err(|e| format!("blob {d}: {e}"));
    let mut digest = digest.clone();
    let mut body = read(&digest)?;
    let (mut parsed, mut kind) =
        Manifest::parse(&body, Some(media_type)).map_err(|e| e.to_string())?;
    if manifest::is_index(&kind) {
        let first = parsed
            .children()
            .map_err(|e| e.to_string())?
            .into_iter()
            .next()
            .ok_or("the image index lists no image")?;
        body = read(&first)?;
        (parsed, kind) = Manifest::parse(&body, None).map_err(|e| e.to_string())?;
        digest = first;
        if manifest::is_index(&kind) {
            return Err("nested image indexes are not supported".into());
        }
    }
    let config_digest = parsed
        .config
        .as_ref()
        .and_then(|c| Digest::parse(&c.digest))
        .ok_or("the manifest has no valid config")?;
    let config: ImageConfig = serde_json::from_slice(&read(&config_digest)?)
        .map_err(|e| format!("invalid image configuration: {e}"))?;
    let layers: Vec<PathBuf> = parsed
        .blobs()
        .map_err(|e| e.to_string())?
        .iter()
        .skip(1)
        .map(|d| blobs.blob_path(d))
        .collect();
    let rootfs = super::rootfs::ensure(cache, &digest, &layers).map_err(|e| e.to_string())?;
    Ok(ImageRun {
        rootfs,
        run: config.config.unwrap_or_default(),
    })
}

/// Splits `text` like a POSIX shell.
fn split(what: &str, text: &str) -> Result<Vec<String>, String> {
    shlex::split(text).ok_or_else(|| format!("cannot split the job's {what} {text:?}"))
}

/// The process a job of `run` starts: the job's `entrypoint` or the image's
/// `Entrypoint`, then the job's `command` or (without a job entrypoint) the
/// image's `Cmd`.
pub fn argv(
    entrypoint: Option<&str>,
    command: Option<&str>,
    run: &RunConfig,
) -> Result<Vec<String>, String> {
    let given = |s: Option<&str>| s.filter(|s| !s.trim().is_empty()).map(str::to_owned);
    let mut argv = match given(entrypoint) {
        Some(e) => split("entrypoint", &e)?,
        None => run.entrypoint.clone().unwrap_or_default(),
    };
    match given(command) {
        Some(c) => argv.extend(split("command", &c)?),
        None if given(entrypoint).is_none() => argv.extend(run.cmd.clone().unwrap_or_default()),
        None => {}
    }
    if argv.is_empty() {
        return Err("neither the job nor its image names a command".into());
    }
    Ok(argv)
}

/// The image's `Env` as pairs.
pub fn image_env(run: &RunConfig) -> Vec<(String, String)> {
    run.env
        .iter()
        .flatten()
        .filter_map(|item| item.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `program` as a path inside the image: as is when it has a `/`, else the
/// first match in `path` (the job's `PATH`) that exists in `rootfs`.
pub fn resolve_program(rootfs: &Path, program: &str, path: &str) -> String {
    if program.contains('/') {
        return program.to_owned();
    }
    path.split(':')
        .filter(|dir| dir.starts_with('/'))
        .map(|dir| format!("{}/{program}", dir.trim_end_matches('/')))
        .find(|candidate| {
            std::fs::symlink_metadata(rootfs.join(candidate.trim_start_matches('/'))).is_ok()
        })
        .unwrap_or_else(|| program.to_owned())
}

/// The working directory: the job's, else the image's, else `/`.
pub fn working_dir(job: Option<&str>, run: &RunConfig) -> PathBuf {
    [job, run.working_dir.as_deref()]
        .into_iter()
        .flatten()
        .find(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

/// `PATH` of an image job whose image sets none (Docker's default).
pub const IMAGE_DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Turns the host launch of a job into the launch inside `image`: its
/// process, its environment (`PATH` and `HOME` defaults, then the image's
/// `Env`, then the job's variables), its working directory, and its overlay
/// (writable layer in `job_dir`).
pub(crate) fn apply(
    launch: &mut Launch,
    image: &ImageRun,
    container: &neuro_types::wire::ContainerSpec,
    job_dir: &Path,
) -> Result<(), String> {
    let mut argv = argv(
        container.entrypoint.as_deref(),
        container.command.as_deref(),
        &image.run,
    )?;
    // The host launch starts with PATH and HOME of the host: replace them.
    let job_vars = launch.env.split_off(launch.env.len().min(2));
    let mut env = vec![
        ("PATH".to_owned(), IMAGE_DEFAULT_PATH.to_owned()),
        ("HOME".to_owned(), "/root".to_owned()),
    ];
    env.extend(image_env(&image.run));
    env.extend(job_vars);
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    argv[0] = resolve_program(&image.rootfs, &argv[0], &path);
    launch.env = env;
    launch.cwd = working_dir(container.working_dir.as_deref(), &image.run);
    launch.command = None;
    launch.argv = Some(argv);
    launch.image = Some(ImageRoot {
        lower: image.rootfs.clone(),
        upper: job_dir.join("upper"),
        work: job_dir.join("overlay-work"),
    });
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run() -> RunConfig {
        RunConfig {
            entrypoint: Some(vec!["/bin/tini".into(), "--".into()]),
            cmd: Some(vec!["serve".into(), "--port=80".into()]),
            env: Some(vec![
                "PATH=/usr/bin:/bin".into(),
                "A=1=2".into(),
                "junk".into(),
            ]),
            working_dir: Some("/app".into()),
        }
    }

    #[test]
    fn references_of_this_registry_only() {
        let r = parse_reference("127.0.0.1:8080/alice/img:v1", "127.0.0.1:8080").unwrap();
        assert_eq!(r, ("alice/img".into(), Reference::Tag("v1".into())));
        let r = parse_reference("127.0.0.1:8080/org/alice/img", "127.0.0.1:8080").unwrap();
        assert_eq!(r, ("org/alice/img".into(), Reference::Tag("latest".into())));
        let d = format!("sha256:{}", "a".repeat(64));
        let r = parse_reference(&format!("h:1/alice/img@{d}"), "h:1").unwrap();
        assert_eq!(r.1, Reference::Digest(Digest::parse(&d).unwrap()));
        assert!(parse_reference("ubuntu:latest", "127.0.0.1:8080").is_none());
        assert!(parse_reference("127.0.0.1:80800/alice/img", "127.0.0.1:8080").is_none());
        assert!(parse_reference("127.0.0.1:8080/img", "127.0.0.1:8080").is_none());
    }

    #[test]
    fn job_overrides_follow_kubernetes() {
        let r = run();
        assert_eq!(
            argv(None, None, &r).unwrap(),
            ["/bin/tini", "--", "serve", "--port=80"]
        );
        assert_eq!(
            argv(None, Some("echo 'a b'"), &r).unwrap(),
            ["/bin/tini", "--", "echo", "a b"]
        );
        assert_eq!(
            argv(Some("/bin/sh -c"), None, &r).unwrap(),
            ["/bin/sh", "-c"]
        );
        assert_eq!(
            argv(Some("sh -c"), Some("'ls /'"), &r).unwrap(),
            ["sh", "-c", "ls /"]
        );
        assert!(argv(None, None, &RunConfig::default()).is_err());
        assert!(argv(None, Some("'unclosed"), &r).is_err());
    }

    #[test]
    fn env_and_working_dir() {
        let r = run();
        assert_eq!(
            image_env(&r),
            [
                ("PATH".to_owned(), "/usr/bin:/bin".to_owned()),
                ("A".into(), "1=2".into())
            ]
        );
        assert_eq!(working_dir(None, &r), PathBuf::from("/app"));
        assert_eq!(working_dir(Some("/w"), &r), PathBuf::from("/w"));
        assert_eq!(working_dir(None, &RunConfig::default()), PathBuf::from("/"));
    }
}
