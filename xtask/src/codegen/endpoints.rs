//! `xtask/api/endpoints.toml` → `neuro_types::endpoints` and `docs/api-endpoints.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// The whole source file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Table {
    bases: BTreeMap<String, BaseDef>,
    endpoints: Vec<EndpointDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaseDef {
    doc: String,
    local_path: String,
    scope: Scope,
}

/// Where a client finds a base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Scope {
    /// The API URL logged in to.
    Api,
    /// A field of each cluster of the server configuration.
    Cluster,
    /// A field of the OAuth settings of the server configuration.
    Auth,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointDef {
    name: String,
    service: String,
    method: String,
    base: String,
    path: String,
    #[serde(default)]
    op: Option<String>,
    #[serde(default)]
    query: Vec<String>,
    doc: String,
}

const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// One `{name}` or `{*name}` placeholder of a path template.
#[derive(Debug, PartialEq)]
struct Param<'a> {
    name: &'a str,
    rest: bool,
}

fn params(path: &str) -> Result<Vec<Param<'_>>> {
    let mut out = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        if let Some(inner) = segment.strip_prefix('{') {
            let inner = inner
                .strip_suffix('}')
                .with_context(|| format!("path {path:?}: unclosed placeholder {segment:?}"))?;
            let (name, rest) = match inner.strip_prefix('*') {
                Some(name) => (name, true),
                None => (inner, false),
            };
            if !is_snake(name) {
                bail!("path {path:?}: placeholder {segment:?} is not a snake_case name");
            }
            if rest && i + 1 != segments.len() {
                bail!("path {path:?}: `{{*{name}}}` must be the last segment");
            }
            out.push(Param { name, rest });
        } else if segment.contains(['{', '}']) {
            bail!("path {path:?}: a placeholder must be a whole segment");
        }
    }
    Ok(out)
}

fn is_snake(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

impl Table {
    /// Parses and validates the source.
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let table: Table = toml::from_str(text).context("xtask/api/endpoints.toml")?;
        let mut names = BTreeSet::new();
        for ep in &table.endpoints {
            let what = format!("endpoint {:?}", ep.name);
            if !is_snake(&ep.name) || !names.insert(ep.name.as_str()) {
                bail!("{what}: names must be unique snake_case");
            }
            if !is_snake(&ep.service) {
                bail!("{what}: service must be snake_case");
            }
            if !METHODS.contains(&ep.method.as_str()) {
                bail!("{what}: method must be one of {METHODS:?}");
            }
            if !table.bases.contains_key(&ep.base) {
                bail!("{what}: unknown base {:?}", ep.base);
            }
            if ep.path.starts_with('/') || ep.path.ends_with('/') {
                bail!("{what}: the path is relative to the base, without leading or trailing /");
            }
            params(&ep.path).with_context(|| what.clone())?;
            if ep.query.iter().any(|q| {
                q.is_empty()
                    || !q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    || !q.starts_with(|c: char| c.is_ascii_lowercase())
            }) {
                bail!("{what}: a query parameter name must be an identifier (`tag`, `returnTo`)");
            }
        }
        for (key, base) in &table.bases {
            if !is_snake(key) || !key.ends_with("_url") {
                bail!("base {key:?}: keys are config keys ending in _url");
            }
            if !(base.local_path.is_empty()
                || (base.local_path.starts_with('/') && !base.local_path.ends_with('/')))
            {
                bail!("base {key:?}: local_path starts with / and does not end with one");
            }
        }
        Ok(table)
    }

    /// The Rust module (before rustfmt).
    pub(crate) fn rust(&self) -> Result<String> {
        let mut r = String::new();
        w(
            &mut r,
            "//! The HTTP endpoints of the Neuro Platform: service, method, base URL, path",
        );
        w(
            &mut r,
            "//! template and query parameters of each, shared by the client crates and by",
        );
        w(&mut r, "//! neuro-local's routers.");
        w(&mut r, "//!");
        w(
            &mut r,
            "//! GENERATED by `cargo xtask codegen` from `xtask/api/endpoints.toml`: do not",
        );
        w(
            &mut r,
            "//! edit; edit the TOML file and run `cargo xtask codegen`.",
        );
        w(&mut r, "//!");
        w(&mut r, "//! ```");
        w(&mut r, "//! use neuro_types::endpoints::{self, Base};");
        w(&mut r, "//!");
        w(&mut r, "//! let ep = &endpoints::JOBS_GET;");
        w(&mut r, "//! assert_eq!(ep.method, http::Method::GET);");
        w(&mut r, "//! assert_eq!(ep.base, Base::ApiUrl);");
        w(
            &mut r,
            "//! assert_eq!(endpoints::paths::jobs_get(\"job-1\"), \"jobs/job-1\");",
        );
        w(&mut r, "//! assert_eq!(ep.route, \"/api/v1/jobs/{id}\");");
        w(&mut r, "//! ```");
        w(&mut r, "");
        w(&mut r, "use http::Method;");
        w(&mut r, "use url::Url;");
        w(&mut r, "");
        w(&mut r, "use crate::config::AuthConfig;");
        w(&mut r, "use crate::Cluster;");
        w(&mut r, "");
        w(
            &mut r,
            "/// A base URL of the server configuration that endpoint paths are relative to.",
        );
        w(&mut r, "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]");
        w(&mut r, "pub enum Base {");
        for (key, base) in &self.bases {
            let _ = writeln!(r, "/// `{key}`: {}", base.doc);
            let _ = writeln!(r, "{},", camel(key));
        }
        w(&mut r, "}");
        w(&mut r, "");
        w(&mut r, "impl Base {");
        w(&mut r, "/// Every base URL.");
        let all: Vec<String> = self
            .bases
            .keys()
            .map(|k| format!("Base::{}", camel(k)))
            .collect();
        let _ = writeln!(r, "pub const ALL: &'static [Base] = &[{}];", all.join(", "));
        w(&mut r, "");
        w(
            &mut r,
            "/// Its key in the server configuration (`GET /config`).",
        );
        w(&mut r, "pub const fn config_key(self) -> &'static str {");
        w(&mut r, "match self {");
        for key in self.bases.keys() {
            let _ = writeln!(r, "Base::{} => {key:?},", camel(key));
        }
        w(&mut r, "}");
        w(&mut r, "}");
        w(&mut r, "");
        w(
            &mut r,
            "/// Where neuro-local serves it, below its public URL (no trailing `/`; `\"\"`",
        );
        w(&mut r, "/// is the root).");
        w(&mut r, "pub const fn local_path(self) -> &'static str {");
        w(&mut r, "match self {");
        for (key, base) in &self.bases {
            let _ = writeln!(r, "Base::{} => {:?},", camel(key), base.local_path);
        }
        w(&mut r, "}");
        w(&mut r, "}");
        w(&mut r, "");
        w(
            &mut r,
            "/// This base URL of `cluster`; `None` for a base that is not a field of",
        );
        w(&mut r, "/// the clusters (the API URL, the OAuth URLs).");
        w(
            &mut r,
            "pub fn of_cluster(self, cluster: &Cluster) -> Option<&Url> {",
        );
        self.scoped_match(&mut r, Scope::Cluster, "cluster");
        w(&mut r, "}");
        w(&mut r, "");
        w(
            &mut r,
            "/// This base URL of the OAuth settings `auth`; `None` for a base that is",
        );
        w(&mut r, "/// not one of them.");
        w(
            &mut r,
            "pub fn of_auth(self, auth: &AuthConfig) -> Option<&Url> {",
        );
        self.scoped_match(&mut r, Scope::Auth, "auth");
        w(&mut r, "}");
        w(&mut r, "}");
        w(&mut r, "");
        w(&mut r, "/// One HTTP endpoint.");
        w(&mut r, "#[derive(Debug, Clone)]");
        w(&mut r, "pub struct Endpoint {");
        w(&mut r, "/// Unique name (`jobs_get`).");
        w(&mut r, "pub name: &'static str,");
        w(&mut r, "/// The platform service (`jobs`, `storage`, ...).");
        w(&mut r, "pub service: &'static str,");
        w(&mut r, "/// The HTTP method.");
        w(&mut r, "pub method: Method,");
        w(&mut r, "/// The base URL the path is relative to.");
        w(&mut r, "pub base: Base,");
        w(
            &mut r,
            "/// Path template relative to the base: `{name}` is one segment, `{*name}` the",
        );
        w(
            &mut r,
            "/// rest of the path; `\"\"` is the base itself. [`paths`] fills it in.",
        );
        w(&mut r, "pub path: &'static str,");
        w(
            &mut r,
            "/// The route neuro-local serves it at (axum syntax): the base's",
        );
        w(
            &mut r,
            "/// [`Base::local_path`] followed by the path template.",
        );
        w(&mut r, "pub route: &'static str,");
        w(
            &mut r,
            "/// The fixed value of the `op` query parameter that selects this operation.",
        );
        w(&mut r, "pub op: Option<&'static str>,");
        w(&mut r, "/// The other query parameters it reads.");
        w(&mut r, "pub query: &'static [&'static str],");
        w(&mut r, "/// What it does.");
        w(&mut r, "pub doc: &'static str,");
        w(&mut r, "}");
        w(&mut r, "");
        for ep in &self.endpoints {
            let base = &self.bases[&ep.base];
            let route = if ep.path.is_empty() {
                if base.local_path.is_empty() {
                    "/".to_owned()
                } else {
                    base.local_path.clone()
                }
            } else {
                format!("{}/{}", base.local_path, ep.path)
            };
            let _ = writeln!(
                r,
                "/// `{} {{{}}}/{}`: {}",
                ep.method, ep.base, ep.path, ep.doc
            );
            let _ = writeln!(
                r,
                "pub const {}: Endpoint = Endpoint {{",
                ep.name.to_uppercase()
            );
            let _ = writeln!(r, "name: {:?},", ep.name);
            let _ = writeln!(r, "service: {:?},", ep.service);
            let _ = writeln!(r, "method: Method::{},", ep.method);
            let _ = writeln!(r, "base: Base::{},", camel(&ep.base));
            let _ = writeln!(r, "path: {:?},", ep.path);
            let _ = writeln!(r, "route: {route:?},");
            match &ep.op {
                Some(op) => {
                    let _ = writeln!(r, "op: Some({op:?}),");
                }
                None => w(&mut r, "op: None,"),
            }
            let _ = writeln!(r, "query: &{:?},", ep.query);
            let _ = writeln!(r, "doc: {:?},", ep.doc);
            w(&mut r, "};");
            w(&mut r, "");
        }
        w(
            &mut r,
            "/// Every endpoint, in the order of the source table.",
        );
        let names: Vec<String> = self
            .endpoints
            .iter()
            .map(|e| e.name.to_uppercase())
            .collect();
        let _ = writeln!(r, "pub static ALL: &[Endpoint] = &[{}];", names.join(", "));
        w(&mut r, "");
        w(
            &mut r,
            "/// The endpoint of `service` selected by the `op` query value `op`.",
        );
        w(
            &mut r,
            "pub fn by_op(service: &str, op: &str) -> Option<&'static Endpoint> {",
        );
        w(
            &mut r,
            "ALL.iter().find(|e| e.service == service && e.op == Some(op))",
        );
        w(&mut r, "}");
        w(&mut r, "");
        w(
            &mut r,
            "/// The query parameter names the endpoints read (`OP` selects a storage",
        );
        w(
            &mut r,
            "/// operation), so clients and servers spell them from one place.",
        );
        w(&mut r, "pub mod query {");
        let mut keys: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        keys.insert("op");
        for ep in &self.endpoints {
            keys.extend(ep.query.iter().map(String::as_str));
        }
        for key in keys {
            let _ = writeln!(r, "/// `{key}`.");
            let _ = writeln!(r, "pub const {}: &str = {key:?};", const_name(key));
        }
        w(&mut r, "}");
        w(&mut r, "");
        w(
            &mut r,
            "/// Paths of the endpoints with placeholders, filled in, relative to their base.",
        );
        w(
            &mut r,
            "/// Arguments are inserted as given: callers check or escape them.",
        );
        w(&mut r, "pub mod paths {");
        for ep in &self.endpoints {
            let ps = params(&ep.path)?;
            if ps.is_empty() {
                continue;
            }
            let args: Vec<String> = ps.iter().map(|p| format!("{}: &str", p.name)).collect();
            let mut fmt = ep.path.clone();
            for p in &ps {
                let from = if p.rest {
                    format!("{{*{}}}", p.name)
                } else {
                    format!("{{{}}}", p.name)
                };
                fmt = fmt.replace(&from, &format!("{{{}}}", p.name));
            }
            let _ = writeln!(
                r,
                "/// `{}` of [`super::{}`].",
                ep.path,
                ep.name.to_uppercase()
            );
            let body = match ps.as_slice() {
                [only] if fmt == format!("{{{}}}", only.name) => {
                    format!("{}.to_owned()", only.name)
                }
                _ => format!("format!({fmt:?})"),
            };
            let _ = writeln!(
                r,
                "pub fn {}({}) -> String {{ {body} }}",
                ep.name,
                args.join(", ")
            );
        }
        w(&mut r, "}");
        Ok(r)
    }

    /// `match self` giving `Some(&{var}.{key})` for the bases of `scope`.
    fn scoped_match(&self, r: &mut String, scope: Scope, var: &str) {
        w(r, "match self {");
        let (ours, others): (Vec<_>, Vec<_>) =
            self.bases.iter().partition(|(_, base)| base.scope == scope);
        for (key, _) in ours {
            let _ = writeln!(r, "Base::{} => Some(&{var}.{key}),", camel(key));
        }
        if !others.is_empty() {
            let names: Vec<String> = others
                .iter()
                .map(|(key, _)| format!("Base::{}", camel(key)))
                .collect();
            let _ = writeln!(r, "{} => None,", names.join(" | "));
        }
        w(r, "}");
    }

    /// `docs/api-endpoints.md`.
    pub(crate) fn markdown(&self) -> String {
        let mut md = String::new();
        w(&mut md, "# API endpoints");
        w(&mut md, "");
        w(&mut md, "<!-- GENERATED by `cargo xtask codegen` from xtask/api/endpoints.toml: do not edit. -->");
        w(&mut md, "");
        w(
            &mut md,
            "Every HTTP endpoint neuro-rs speaks (client crates) and serves (neuro-local). In",
        );
        w(
            &mut md,
            "Rust they are the constants of `neuro_types::endpoints`. Paths are relative to a",
        );
        w(
            &mut md,
            "base URL of the server configuration; `{x}` is one path segment, `{*x}` the rest",
        );
        w(&mut md, "of the path.");
        w(&mut md, "");
        w(&mut md, "## Base URLs");
        w(&mut md, "");
        w(&mut md, "| config key | neuro-local path | what |");
        w(&mut md, "|---|---|---|");
        for (key, base) in &self.bases {
            let path = if base.local_path.is_empty() {
                "/"
            } else {
                &base.local_path
            };
            let _ = writeln!(md, "| `{key}` | `{path}` | {} |", base.doc);
        }
        w(&mut md, "");
        w(&mut md, "## Endpoints");
        w(&mut md, "");
        w(
            &mut md,
            "| service | Rust constant | method | path | `op` | query parameters | what |",
        );
        w(&mut md, "|---|---|---|---|---|---|---|");
        for ep in &self.endpoints {
            let op = ep.op.as_deref().map_or(String::new(), |o| format!("`{o}`"));
            let query: Vec<String> = ep.query.iter().map(|q| format!("`{q}`")).collect();
            let _ = writeln!(
                md,
                "| {} | `{}` | {} | `{{{}}}/{}` | {op} | {} | {} |",
                ep.service,
                ep.name.to_uppercase(),
                ep.method,
                ep.base,
                ep.path,
                query.join(", "),
                ep.doc
            );
        }
        md
    }
}

fn w(out: &mut String, line: &str) {
    out.push_str(line);
    out.push('\n');
}

/// The constant naming query parameter `key`: `returnTo` is `RETURN_TO`.
fn const_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 2);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_parsed() {
        assert_eq!(
            params("jobs/{id}/log").unwrap(),
            vec![Param {
                name: "id",
                rest: false
            }]
        );
        assert_eq!(
            params("{*path}").unwrap(),
            vec![Param {
                name: "path",
                rest: true
            }]
        );
        assert!(params("jobs/{*path}/x").is_err());
        assert!(params("jobs/x{id}").is_err());
        assert!(params("jobs/{Id}").is_err());
    }

    #[test]
    fn bad_tables_are_refused() {
        let base = "[bases.api_url]\ndoc = \"d\"\nscope = \"api\"\nlocal_path = \"/api/v1\"\n";
        let ep = |extra: &str| {
            format!(
                "{base}[[endpoints]]\nname = \"a\"\nservice = \"s\"\nbase = \"api_url\"\ndoc = \"d\"\n{extra}"
            )
        };
        assert!(Table::parse(&ep("method = \"GET\"\npath = \"x/{id}\"")).is_ok());
        assert!(Table::parse(&ep("method = \"FETCH\"\npath = \"x\"")).is_err());
        assert!(Table::parse(&ep("method = \"GET\"\npath = \"/x\"")).is_err());
        assert!(Table::parse(&ep("method = \"GET\"\npath = \"x\"\nbase2 = 1")).is_err());
        let unknown_base = ep("method = \"GET\"\npath = \"x\"")
            .replace("base = \"api_url\"", "base = \"nope_url\"");
        assert!(Table::parse(&unknown_base).is_err());
    }

    #[test]
    fn generated_module_names_every_endpoint() {
        let text = include_str!("../../api/endpoints.toml");
        let table = Table::parse(text).unwrap();
        let rust = table.rust().unwrap();
        for ep in &table.endpoints {
            assert!(rust.contains(&format!("pub const {}: Endpoint", ep.name.to_uppercase())));
            for key in &ep.query {
                assert!(rust.contains(&format!("pub const {}: &str = {key:?};", const_name(key))));
            }
        }
        assert!(rust.contains("pub fn jobs_get(id: &str) -> String { format!(\"jobs/{id}\") }"));
        assert!(table
            .markdown()
            .contains("| jobs | `JOBS_GET` | GET | `{api_url}/jobs/{id}` |"));
    }
}
