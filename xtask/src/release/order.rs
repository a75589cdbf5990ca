//! The workspace crates from `cargo metadata`, and the order to publish them in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// A workspace package as far as releasing goes.
#[derive(Debug, Clone)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) manifest_path: PathBuf,
    /// `false` for `publish = false`.
    pub(crate) publish: bool,
    /// Workspace packages it needs to build (normal and build dependencies;
    /// dev-dependencies are dropped on publish).
    pub(crate) deps: BTreeSet<String>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
}

#[derive(Deserialize)]
struct MetaPackage {
    name: String,
    manifest_path: PathBuf,
    /// `Some([])` for `publish = false`.
    publish: Option<Vec<String>>,
    dependencies: Vec<MetaDep>,
}

#[derive(Deserialize)]
struct MetaDep {
    name: String,
    kind: Option<String>,
    path: Option<PathBuf>,
}

/// The packages of `cargo metadata --no-deps` output.
pub(crate) fn workspace_packages(metadata_json: &str) -> Result<Vec<Package>> {
    let meta: Metadata = serde_json::from_str(metadata_json).context("cargo metadata output")?;
    let names: BTreeSet<String> = meta.packages.iter().map(|p| p.name.clone()).collect();
    Ok(meta
        .packages
        .into_iter()
        .map(|p| Package {
            publish: p
                .publish
                .as_ref()
                .is_none_or(|registries| !registries.is_empty()),
            deps: p
                .dependencies
                .iter()
                .filter(|d| d.path.is_some() && names.contains(&d.name))
                .filter(|d| d.kind.as_deref() != Some("dev"))
                .map(|d| d.name.clone())
                .collect(),
            name: p.name,
            manifest_path: p.manifest_path,
        })
        .collect())
}

/// Publishable packages, each after the packages it depends on (ties by name).
/// A publishable package depending on an unpublishable one is an error.
pub(crate) fn publish_order(packages: &[Package]) -> Result<Vec<String>> {
    let by_name: BTreeMap<&str, &Package> = packages.iter().map(|p| (p.name.as_str(), p)).collect();
    let publishable: BTreeSet<&str> = packages
        .iter()
        .filter(|p| p.publish)
        .map(|p| p.name.as_str())
        .collect();
    for name in &publishable {
        for dep in &by_name[name].deps {
            if !publishable.contains(dep.as_str()) {
                bail!("{name} is published but depends on {dep}, which is not");
            }
        }
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::new();
    while done.len() < publishable.len() {
        let ready: Vec<&str> = publishable
            .iter()
            .copied()
            .filter(|n| !done.contains(n))
            .filter(|n| by_name[n].deps.iter().all(|d| done.contains(d.as_str())))
            .collect();
        if ready.is_empty() {
            bail!("the workspace dependencies form a cycle");
        }
        for name in ready {
            done.insert(name);
            order.push(name.to_owned());
        }
    }
    Ok(order)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const META: &str = r#"{"packages": [
      {"name": "sdk", "manifest_path": "/w/sdk/Cargo.toml", "publish": null,
       "dependencies": [{"name": "types", "kind": null, "path": "/w/types"},
                        {"name": "http", "kind": null, "path": "/w/http"},
                        {"name": "local", "kind": "dev", "path": "/w/local"},
                        {"name": "serde", "kind": null, "path": null}]},
      {"name": "http", "manifest_path": "/w/http/Cargo.toml", "publish": null,
       "dependencies": [{"name": "types", "kind": "build", "path": "/w/types"}]},
      {"name": "types", "manifest_path": "/w/types/Cargo.toml", "publish": null, "dependencies": []},
      {"name": "local", "manifest_path": "/w/local/Cargo.toml", "publish": null,
       "dependencies": [{"name": "types", "kind": null, "path": "/w/types"}]},
      {"name": "xtask", "manifest_path": "/w/xtask/Cargo.toml", "publish": [],
       "dependencies": [{"name": "sdk", "kind": null, "path": "/w/sdk"}]}
    ]}"#;

    #[test]
    fn dependencies_come_first_and_unpublished_are_left_out() {
        let packages = workspace_packages(META).unwrap();
        assert!(!packages.iter().find(|p| p.name == "xtask").unwrap().publish);
        let sdk = packages.iter().find(|p| p.name == "sdk").unwrap();
        assert_eq!(
            sdk.deps,
            BTreeSet::from(["types".to_owned(), "http".to_owned()])
        );
        assert_eq!(
            publish_order(&packages).unwrap(),
            ["types", "http", "local", "sdk"]
        );
    }

    #[test]
    fn a_published_crate_cannot_need_an_unpublished_one() {
        let mut packages = workspace_packages(META).unwrap();
        for p in &mut packages {
            if p.name == "http" {
                p.publish = false;
            }
        }
        assert!(publish_order(&packages).is_err());
    }
}
