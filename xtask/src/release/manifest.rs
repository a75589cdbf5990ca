//! Version bumps in `Cargo.toml` files, keeping their formatting (toml_edit).

use anyhow::{bail, Context, Result};
use toml_edit::{DocumentMut, Item};

/// The dependency tables of a manifest that may name workspace crates.
const DEP_TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

/// The workspace version, `[workspace.package] version` of the root manifest.
pub(crate) fn workspace_version(root_manifest: &str) -> Result<String> {
    let doc: DocumentMut = root_manifest.parse().context("root Cargo.toml")?;
    doc.get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(Item::as_str)
        .map(str::to_owned)
        .context("root Cargo.toml has no [workspace.package] version")
}

/// Sets `[workspace.package] version` and the `version` of every entry of
/// `[workspace.dependencies]` named in `internal` to `new`.
pub(crate) fn bump_root(text: &str, new: &str, internal: &[String]) -> Result<String> {
    let mut doc: DocumentMut = text.parse().context("root Cargo.toml")?;
    let workspace = doc
        .get_mut("workspace")
        .and_then(Item::as_table_like_mut)
        .context("root Cargo.toml has no [workspace]")?;
    let package = workspace
        .get_mut("package")
        .and_then(Item::as_table_like_mut)
        .context("root Cargo.toml has no [workspace.package]")?;
    if !set_version(package, new) {
        bail!("root Cargo.toml has no [workspace.package] version");
    }
    if let Some(deps) = workspace
        .get_mut("dependencies")
        .and_then(Item::as_table_like_mut)
    {
        bump_deps(deps, new, internal);
    }
    Ok(doc.to_string())
}

/// Sets an explicit `[package] version` (not `version.workspace = true`) and the
/// `version` of dependencies on `internal` crates to `new`.
pub(crate) fn bump_member(text: &str, new: &str, internal: &[String]) -> Result<String> {
    let mut doc: DocumentMut = text.parse().context("member Cargo.toml")?;
    if let Some(package) = doc.get_mut("package").and_then(Item::as_table_like_mut) {
        set_version(package, new);
    }
    for table in DEP_TABLES {
        if let Some(deps) = doc.get_mut(table).and_then(Item::as_table_like_mut) {
            bump_deps(deps, new, internal);
        }
    }
    Ok(doc.to_string())
}

fn bump_deps(deps: &mut dyn toml_edit::TableLike, new: &str, internal: &[String]) {
    for (name, dep) in deps.iter_mut() {
        if !internal.iter().any(|n| n == name.get()) {
            continue;
        }
        if let Some(dep) = dep.as_table_like_mut() {
            set_version(dep, new);
        }
    }
}

/// Replaces a string `version` of `table` by `new`, keeping the spaces and the
/// comment around the value. False when there is no such string (e.g.
/// `version.workspace = true`).
fn set_version(table: &mut dyn toml_edit::TableLike, new: &str) -> bool {
    let Some(value) = table.get_mut("version").and_then(Item::as_value_mut) else {
        return false;
    };
    if value.as_str().is_none() {
        return false;
    }
    let decor = value.decor().clone();
    *value = toml_edit::Value::from(new);
    *value.decor_mut() = decor;
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ROOT: &str = r#"[workspace]
members = ["a", "b"]

[workspace.package]
version = "0.1.0"   # shared
edition = "2021"

[workspace.dependencies]
# internal crates
crate-a = { path = "a", version = "0.1.0" }
crate-b = { path = "b", version = "0.1.0" }
serde = { version = "1", features = ["derive"] }
"#;

    #[test]
    fn root_bump_keeps_formatting_and_touches_only_ours() {
        let names = ["crate-a".to_owned(), "crate-b".to_owned()];
        let out = bump_root(ROOT, "0.2.0", &names).unwrap();
        assert_eq!(workspace_version(&out).unwrap(), "0.2.0");
        assert!(out.contains(r#"version = "0.2.0"   # shared"#));
        assert!(out.contains("# internal crates\n"));
        assert!(out.contains(r#"crate-a = { path = "a", version = "0.2.0" }"#));
        assert!(out.contains(r#"crate-b = { path = "b", version = "0.2.0" }"#));
        assert!(out.contains(r#"serde = { version = "1", features = ["derive"] }"#));
    }

    #[test]
    fn member_bump_leaves_workspace_inherited_fields() {
        let member = "[package]\nname = \"crate-b\"\nversion.workspace = true\n\n[dependencies]\ncrate-a.workspace = true\nother = { path = \"../x\", version = \"0.1.0\" }\n\n[dev-dependencies]\ncrate-a = { path = \"../a\", version = \"0.1.0\" }\n";
        let out = bump_member(member, "0.2.0", &["crate-a".to_owned()]).unwrap();
        assert!(out.contains("version.workspace = true"));
        assert!(out.contains("crate-a.workspace = true"));
        assert!(out.contains("other = { path = \"../x\", version = \"0.1.0\" }"));
        assert!(out.contains("crate-a = { path = \"../a\", version = \"0.2.0\" }"));
        let explicit = "[package]\nname = \"c\"\nversion = \"0.1.0\"\n";
        assert!(bump_member(explicit, "0.2.0", &[])
            .unwrap()
            .contains("version = \"0.2.0\""));
    }
}
