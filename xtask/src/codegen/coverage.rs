//! `xtask/api/coverage.toml` → `docs/api-coverage.md`: the documented Python API and
//! what carries each name in Rust, with the Rust paths checked against the source.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// The whole source file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Coverage {
    section: Vec<Section>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    name: String,
    items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    py: String,
    kind: Kind,
    #[serde(default)]
    rust: Option<String>,
    status: Status,
    #[serde(default)]
    why: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Class,
    Method,
    Attribute,
    Parameter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
enum Status {
    #[serde(rename = "done")]
    Done,
    #[serde(rename = "partial")]
    Partial,
    #[serde(rename = "missing")]
    Missing,
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Status {
    const ALL: [Status; 4] = [
        Status::Done,
        Status::Partial,
        Status::Missing,
        Status::NotApplicable,
    ];

    fn label(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Partial => "partial",
            Status::Missing => "missing",
            Status::NotApplicable => "n/a",
        }
    }
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Class => "class",
            Kind::Method => "method",
            Kind::Attribute => "attribute",
            Kind::Parameter => "parameter",
        }
    }
}

/// The Rust sources of the workspace crates, by crate name (`neuro_jobs`).
pub(crate) struct Sources(BTreeMap<String, String>);

impl Sources {
    /// Reads every `.rs` file under `crates/*/src`.
    pub(crate) fn read(root: &Path) -> Result<Self> {
        let mut map = BTreeMap::new();
        for entry in std::fs::read_dir(root.join("crates"))? {
            let dir = entry?.path();
            let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let mut text = String::new();
            collect_rs(&dir.join("src"), &mut text)?;
            map.insert(name.replace('-', "_"), text);
        }
        Ok(Self(map))
    }

    /// Whether `krate[::module...]::Type[::member]` names something that exists:
    /// each module as a `mod` of the crate, the type as a struct, enum, trait,
    /// alias or fn of the crate, the member as a fn, a public field or an enum
    /// variant in the same crate.
    fn has(&self, path: &str) -> bool {
        let path = path.split('(').next().unwrap_or(path);
        let segments: Vec<&str> = path.split("::").collect();
        let Some((krate, mut rest)) = segments.split_first() else {
            return false;
        };
        let Some(src) = self.0.get(*krate) else {
            return false;
        };
        // Leading modules (`progress` in `neuro_storage::progress::FileProgress`)
        // while a capitalised type follows them.
        while let [module, next, ..] = rest {
            let is_module_path = contains_word_after(src, "mod", module)
                && next.starts_with(|c: char| c.is_ascii_uppercase());
            if !is_module_path {
                break;
            }
            rest = &rest[1..];
        }
        let (ty, member) = match rest {
            [ty] => (*ty, None),
            [ty, member] => (*ty, Some(*member)),
            _ => return false,
        };
        let type_found = ["struct", "enum", "trait", "type", "fn", "mod", "const"]
            .iter()
            .any(|kw| contains_word_after(src, kw, ty));
        match member {
            None => type_found,
            Some(member) => type_found && member_found(src, member),
        }
    }
}

fn collect_rs(dir: &Path, out: &mut String) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path)?);
            out.push('\n');
        }
    }
    Ok(())
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `kw name` with `name` a whole identifier.
fn contains_word_after(src: &str, kw: &str, name: &str) -> bool {
    let needle = format!("{kw} {name}");
    src.match_indices(&needle).any(|(i, _)| {
        let before_ok = src[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !is_ident_char(c));
        let after_ok = src[i + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !is_ident_char(c));
        before_ok && after_ok
    })
}

fn member_found(src: &str, member: &str) -> bool {
    if contains_word_after(src, "fn", member) || src.contains(&format!("pub {member}:")) {
        return true;
    }
    // An enum variant: the name alone at the start of a line.
    src.lines().any(|line| {
        let line = line.trim_start();
        line.strip_prefix(member).is_some_and(|rest| {
            rest.starts_with([',', '(', ' ', '{', '='])
                && member.starts_with(|c: char| c.is_ascii_uppercase())
        })
    })
}

impl Coverage {
    /// Parses the source and checks it against the workspace sources.
    pub(crate) fn parse(text: &str, sources: &Sources) -> Result<Self> {
        let coverage: Coverage = toml::from_str(text).context("xtask/api/coverage.toml")?;
        let mut problems = Vec::new();
        for item in coverage.section.iter().flat_map(|s| &s.items) {
            let needs_why = item.status != Status::Done;
            if needs_why && item.why.as_deref().is_none_or(str::is_empty) {
                problems.push(format!(
                    "{}: status {} needs a `why`",
                    item.py,
                    item.status.label()
                ));
            }
            let checked = matches!(item.status, Status::Done | Status::Partial);
            match (&item.rust, checked) {
                (None, true) => problems.push(format!(
                    "{}: {} without a Rust path",
                    item.py,
                    item.status.label()
                )),
                (Some(path), true) if !sources.has(path) => problems.push(format!(
                    "{}: Rust path `{path}` not found in the crate sources",
                    item.py
                )),
                _ => {}
            }
        }
        if !problems.is_empty() {
            bail!("xtask/api/coverage.toml:\n  {}", problems.join("\n  "));
        }
        Ok(coverage)
    }

    /// `docs/api-coverage.md`.
    pub(crate) fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(
            md,
            "# API coverage\n\n\
             <!-- GENERATED by `cargo xtask codegen` from xtask/api/coverage.toml: do not edit. -->\n\n\
             Every class, method, parameter and attribute of the documented Python API\n\
             (`neuro-sdk` 22.7.1 reference) and what carries it in Rust. `done`: the Rust\n\
             counterpart exists (its path is checked against the source by the generator);\n\
             `partial`: it exists with the gap noted; `missing`: nothing yet; `n/a`: not\n\
             applicable to Rust, with the reason. Parameters point at the argument, option or\n\
             builder method that carries them.\n"
        );
        let _ = writeln!(md, "## Summary\n");
        let _ = writeln!(md, "| section | done | partial | missing | n/a |");
        let _ = writeln!(md, "|---|---|---|---|---|");
        let mut totals = [0usize; 4];
        for section in &self.section {
            let counts =
                Status::ALL.map(|s| section.items.iter().filter(|i| i.status == s).count());
            for (t, c) in totals.iter_mut().zip(counts) {
                *t += c;
            }
            let _ = writeln!(
                md,
                "| [{}](#{}) | {} | {} | {} | {} |",
                section.name,
                anchor(&section.name),
                counts[0],
                counts[1],
                counts[2],
                counts[3]
            );
        }
        let _ = writeln!(
            md,
            "| **total** | {} | {} | {} | {} |\n",
            totals[0], totals[1], totals[2], totals[3]
        );
        for section in &self.section {
            let _ = writeln!(md, "## {}\n", section.name);
            let _ = writeln!(md, "| Python | kind | Rust | status | note |");
            let _ = writeln!(md, "|---|---|---|---|---|");
            for item in &section.items {
                let rust = item
                    .rust
                    .as_deref()
                    .map_or(String::new(), |r| format!("`{r}`"));
                let _ = writeln!(
                    md,
                    "| `{}` | {} | {} | {} | {} |",
                    item.py,
                    item.kind.label(),
                    rust,
                    item.status.label(),
                    item.why.as_deref().unwrap_or("").replace('|', "\\|")
                );
            }
            md.push('\n');
        }
        md
    }
}

/// GitHub's heading anchor for a section name.
fn anchor(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sources() -> Sources {
        Sources(BTreeMap::from([(
            "neuro_jobs".to_owned(),
            "pub struct Jobs {}\nimpl Jobs { pub async fn kill(&self) {} }\npub enum JobStatus {\n    Pending,\n}\npub struct JobStart { pub name: String }\npub mod progress {\npub trait Progress { fn step(&self) {} }\n}\n".to_owned(),
        )]))
    }

    #[test]
    fn rust_paths_are_checked() {
        let s = sources();
        assert!(s.has("neuro_jobs::Jobs"));
        assert!(s.has("neuro_jobs::Jobs::kill"));
        assert!(s.has("neuro_jobs::Jobs::kill(id)"));
        assert!(s.has("neuro_jobs::JobStatus::Pending"));
        assert!(s.has("neuro_jobs::JobStart::name"));
        assert!(!s.has("neuro_jobs::Job"));
        assert!(!s.has("neuro_jobs::Jobs::attach"));
        assert!(!s.has("neuro_jobs::JobStatus::Running"));
        assert!(!s.has("neuro_secrets::Secrets"));
        // Through a module.
        assert!(s.has("neuro_jobs::progress::Progress"));
        assert!(s.has("neuro_jobs::progress::Progress::step(event)"));
        assert!(!s.has("neuro_jobs::progress::Progress::skip"));
        assert!(!s.has("neuro_jobs::progress::Other"));
        assert!(!s.has("neuro_jobs::nowhere::Progress"));
    }

    #[test]
    fn done_items_must_exist_and_others_need_a_reason() {
        let s = sources();
        let ok = "[[section]]\nname = \"Jobs\"\nitems = [\n  { py = \"Jobs.kill\", kind = \"method\", rust = \"neuro_jobs::Jobs::kill\", status = \"done\" },\n  { py = \"Jobs.attach\", kind = \"method\", status = \"missing\", why = \"not yet\" },\n]\n";
        let coverage = Coverage::parse(ok, &s).unwrap();
        let md = coverage.markdown();
        assert!(md.contains("| [Jobs](#jobs) | 1 | 0 | 1 | 0 |"));
        assert!(md.contains("| `Jobs.kill` | method | `neuro_jobs::Jobs::kill` | done |  |"));
        let gone = ok.replace("Jobs::kill\"", "Jobs::stop\"");
        assert!(Coverage::parse(&gone, &s).is_err());
        let no_why = ok.replace(", why = \"not yet\"", "");
        assert!(Coverage::parse(&no_why, &s).is_err());
    }
}
