//! The user configuration: `user.toml` in the config directory merged with the
//! nearest project `.neuro.toml` (the project file wins), validated against the
//! schema of a [`ConfigBuilder`] as the Python SDK validates it.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::plugins::{ConfigBuilder, ConfigScope, ParamType};
use crate::ConfigError;

/// File name of the global user config inside the config directory.
pub const USER_CONFIG_FILE: &str = "user.toml";

/// File name of a project's config; its directory is the project root.
pub const PROJECT_CONFIG_FILE: &str = ".neuro.toml";

/// The value of `job.org-name` that means "no org".
pub const NO_ORG: &str = "NO_ORG";

/// What is wrong with a user-config file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserConfigProblem {
    /// The path exists but is not a regular file.
    NotAFile,
    /// The file could not be read.
    Unreadable(String),
    /// The file is not valid TOML.
    Toml(String),
    /// Top-level keys that are not known sections.
    UnknownSections(Vec<String>),
    /// A known section that is not a table.
    NotASection(String),
    /// Parameters a section does not define (`section.name`).
    UnknownParameters(Vec<String>),
    /// A parameter (`section.name`, or `section.name[i]` for a list item) of the
    /// wrong type.
    InvalidType {
        /// The parameter.
        key: String,
        /// The type it must have.
        expected: &'static str,
    },
    /// A parameter that is only allowed in project files was set globally.
    NotAllowedInGlobal {
        /// The parameter.
        key: String,
        /// What to do instead.
        hint: &'static str,
    },
    /// An alias name that is not `[A-Za-z][A-Za-z0-9-]*`.
    InvalidAliasName(String),
    /// An alias that is not a table.
    InvalidAliasCommand(String),
}

impl fmt::Display for UserConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAFile => f.write_str("should be a regular file"),
            Self::Unreadable(e) => write!(f, "cannot be read: {e}"),
            Self::Toml(e) => write!(f, "{e}"),
            Self::UnknownSections(s) => write!(f, "unsupported config sections: {s:?}"),
            Self::NotASection(s) => write!(f, "{s:?} should be a section"),
            Self::UnknownParameters(p) => write!(f, "unknown parameters {}", p.join(", ")),
            Self::InvalidType { key, expected } => {
                write!(f, "invalid type for {key}, {expected} is expected")
            }
            Self::NotAllowedInGlobal { key, hint } => {
                write!(f, "{key} is not allowed in global user config file, {hint}")
            }
            Self::InvalidAliasName(name) => write!(f, "invalid alias name {name}"),
            Self::InvalidAliasCommand(name) => write!(
                f,
                "invalid alias command type for {name}, run 'neuro help aliases' for \
                 getting info about specifying aliases in config files"
            ),
        }
    }
}

/// The merged, validated user configuration.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use neuro_config::plugins::ConfigBuilder;
/// use neuro_config::user_config::load_user_config;
///
/// let home = tempfile::tempdir()?;
/// let project = tempfile::tempdir()?;
/// std::fs::write(home.path().join("user.toml"), "[job]\nps-format = \"id\"\nlife-span = \"1d\"\n")?;
/// std::fs::write(project.path().join(".neuro.toml"), "[job]\nlife-span = \"2h\"\ncluster-name = \"other\"\n")?;
/// let config = load_user_config(home.path(), Some(project.path()), &ConfigBuilder::with_cli_schema())?;
/// assert_eq!(config.get_str("job", "ps-format"), Some("id"));
/// assert_eq!(config.get_str("job", "life-span"), Some("2h")); // the project wins
/// assert_eq!(config.cluster_name(), Some("other"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserConfig {
    table: toml::Table,
}

impl UserConfig {
    /// The whole merged table.
    pub fn as_table(&self) -> &toml::Table {
        &self.table
    }

    /// A section, if present.
    pub fn section(&self, name: &str) -> Option<&toml::Table> {
        self.table.get(name)?.as_table()
    }

    /// The value of `section.key`, if present.
    pub fn get(&self, section: &str, key: &str) -> Option<&toml::Value> {
        self.section(section)?.get(key)
    }

    /// The string value of `section.key`, if present and a string.
    pub fn get_str(&self, section: &str, key: &str) -> Option<&str> {
        self.get(section, key)?.as_str()
    }

    /// The `[alias]` section: alias name to its command table.
    pub fn aliases(&self) -> Option<&toml::Table> {
        self.section("alias")
    }

    /// `job.cluster-name` (only a project file may set it).
    pub fn cluster_name(&self) -> Option<&str> {
        self.get_str("job", "cluster-name")
    }

    /// `job.org-name` (only a project file may set it): `Some(None)` for
    /// [`NO_ORG`].
    pub fn org_name(&self) -> Option<Option<&str>> {
        self.get_str("job", "org-name")
            .map(|name| (name != NO_ORG).then_some(name))
    }
}

/// The nearest directory at or above `start` holding a `.neuro.toml`, checking
/// every directory below the file-system root (as the Python SDK does).
pub fn find_project_root(start: &Path) -> Result<PathBuf, ConfigError> {
    let mut here = start;
    while let Some(parent) = here.parent() {
        if here.join(PROJECT_CONFIG_FILE).exists() {
            return Ok(here.to_path_buf());
        }
        here = parent;
    }
    Err(ConfigError::ProjectRootNotFound {
        path: start.to_path_buf(),
    })
}

/// Reads `{config_dir}/user.toml` (if present) and the `.neuro.toml` of the
/// project containing `project_dir` (if any), validates both and merges them.
pub fn load_user_config(
    config_dir: &Path,
    project_dir: Option<&Path>,
    schema: &ConfigBuilder,
) -> Result<UserConfig, ConfigError> {
    let global_file = config_dir.join(USER_CONFIG_FILE);
    let global = if !global_file.exists() {
        toml::Table::new()
    } else if !global_file.is_file() {
        return Err(problem(&global_file, UserConfigProblem::NotAFile));
    } else {
        load_file(&global_file, ConfigScope::Global, schema)?
    };
    let root = match project_dir {
        Some(dir) => find_project_root(dir).ok(),
        None => None,
    };
    let table = match root {
        Some(root) => {
            let local = load_file(&root.join(PROJECT_CONFIG_FILE), ConfigScope::All, schema)?;
            merge(global, local)
        }
        None => global,
    };
    Ok(UserConfig { table })
}

fn problem(file: &Path, problem: UserConfigProblem) -> ConfigError {
    ConfigError::UserConfig {
        file: file.to_path_buf(),
        problem,
    }
}

fn load_file(
    file: &Path,
    scope: ConfigScope,
    schema: &ConfigBuilder,
) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| problem(file, UserConfigProblem::Unreadable(e.to_string())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| problem(file, UserConfigProblem::Toml(e.to_string())))?;
    validate(&table, scope, schema).map_err(|p| problem(file, p))?;
    Ok(table)
}

/// Checks a parsed file as `_validate_user_config` does.
pub fn validate(
    table: &toml::Table,
    scope: ConfigScope,
    schema: &ConfigBuilder,
) -> Result<(), UserConfigProblem> {
    if scope == ConfigScope::Global {
        let job = table.get("job").and_then(toml::Value::as_table);
        if job.is_some_and(|job| job.contains_key("cluster-name")) {
            return Err(UserConfigProblem::NotAllowedInGlobal {
                key: "job.cluster-name".to_owned(),
                hint: "use 'neuro config switch-cluster' for changing the default cluster name",
            });
        }
        if job.is_some_and(|job| job.contains_key("org-name")) {
            return Err(UserConfigProblem::NotAllowedInGlobal {
                key: "job.org-name".to_owned(),
                hint: "use 'neuro config switch-org' for changing the default org name",
            });
        }
    }
    let sections: Vec<(&str, Vec<(&str, ParamType)>)> = schema.sections(scope).collect();
    let mut unknown: Vec<String> = table
        .keys()
        .filter(|k| *k != "alias" && !sections.iter().any(|(s, _)| s == k))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(UserConfigProblem::UnknownSections(unknown));
    }
    for (section, params) in &sections {
        let Some(value) = table.get(*section) else {
            continue;
        };
        let Some(body) = value.as_table() else {
            return Err(UserConfigProblem::NotASection((*section).to_owned()));
        };
        let mut unknown: Vec<String> = body
            .keys()
            .filter(|k| !params.iter().any(|(p, _)| p == k))
            .map(|k| format!("{section}.{k}"))
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            return Err(UserConfigProblem::UnknownParameters(unknown));
        }
        for (name, ty) in params {
            if let Some(value) = body.get(*name) {
                check_value(value, *ty, &format!("{section}.{name}"))?;
            }
        }
    }
    if let Some(aliases) = table.get("alias") {
        let Some(aliases) = aliases.as_table() else {
            return Err(UserConfigProblem::NotASection("alias".to_owned()));
        };
        for (name, command) in aliases {
            if !is_command_name(name) {
                return Err(UserConfigProblem::InvalidAliasName(name.clone()));
            }
            if !command.is_table() {
                return Err(UserConfigProblem::InvalidAliasCommand(name.clone()));
            }
        }
    }
    Ok(())
}

fn check_value(value: &toml::Value, ty: ParamType, key: &str) -> Result<(), UserConfigProblem> {
    let invalid = |key: String, ty: ParamType| UserConfigProblem::InvalidType {
        key,
        expected: ty.describe(),
    };
    match ty.element() {
        Some(item) => {
            let Some(items) = value.as_array() else {
                return Err(invalid(key.to_owned(), ty));
            };
            for (i, v) in items.iter().enumerate() {
                if !item.accepts(v) {
                    return Err(invalid(format!("{key}[{i}]"), item));
                }
            }
            Ok(())
        }
        None if ty.accepts(value) => Ok(()),
        None => Err(invalid(key.to_owned(), ty)),
    }
}

/// `[A-Za-z][A-Za-z0-9-]*`.
fn is_command_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Merges `newer` into `older`: tables merge key by key, anything else in
/// `newer` replaces the value in `older`.
fn merge(mut older: toml::Table, newer: toml::Table) -> toml::Table {
    for (key, new) in newer {
        let merged = match (older.remove(&key), new) {
            (Some(toml::Value::Table(old)), toml::Value::Table(new)) => {
                toml::Value::Table(merge(old, new))
            }
            (_, new) => new,
        };
        older.insert(key, merged);
    }
    older
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn check(text: &str, scope: ConfigScope) -> Result<(), UserConfigProblem> {
        validate(
            &text.parse().unwrap(),
            scope,
            &ConfigBuilder::with_cli_schema(),
        )
    }

    #[test]
    fn validation_follows_the_python_rules() {
        assert_eq!(check("", ConfigScope::Global), Ok(()));
        assert_eq!(
            check(
                "[job]\nps-format='x'\n[storage]\ncp-exclude=['*.o']\n[alias.ll]\ncmd='ls -l'\n",
                ConfigScope::Global
            ),
            Ok(())
        );
        assert_eq!(
            check("[bogus]\nx=1\n[job]\n", ConfigScope::Global),
            Err(UserConfigProblem::UnknownSections(vec!["bogus".into()]))
        );
        assert_eq!(
            check("[job]\nnope=1\n", ConfigScope::Global),
            Err(UserConfigProblem::UnknownParameters(
                vec!["job.nope".into()]
            ))
        );
        assert_eq!(
            check("job = 1\n", ConfigScope::Global),
            Err(UserConfigProblem::NotASection("job".into()))
        );
        assert_eq!(
            check("[job]\nps-format=1\n", ConfigScope::Global),
            Err(UserConfigProblem::InvalidType {
                key: "job.ps-format".into(),
                expected: "str"
            })
        );
        assert_eq!(
            check("[storage]\ncp-exclude=['a', 2]\n", ConfigScope::Global),
            Err(UserConfigProblem::InvalidType {
                key: "storage.cp-exclude[1]".into(),
                expected: "str"
            })
        );
        assert!(matches!(
            check("[job]\ncluster-name='c'\n", ConfigScope::Global),
            Err(UserConfigProblem::NotAllowedInGlobal { .. })
        ));
        assert!(matches!(
            check("[job]\norg-name='o'\n", ConfigScope::Global),
            Err(UserConfigProblem::NotAllowedInGlobal { .. })
        ));
        assert_eq!(
            check(
                "[job]\ncluster-name='c'\norg-name='NO_ORG'\n",
                ConfigScope::All
            ),
            Ok(())
        );
        assert_eq!(
            check("[alias]\n'1x'={cmd='ls'}\n", ConfigScope::Global),
            Err(UserConfigProblem::InvalidAliasName("1x".into()))
        );
        assert_eq!(
            check("[alias]\nll='ls -l'\n", ConfigScope::Global),
            Err(UserConfigProblem::InvalidAliasCommand("ll".into()))
        );
    }

    #[test]
    fn merge_is_deep_and_newer_wins() {
        let older: toml::Table = "a=1\n[s]\nx=1\ny=2\n".parse().unwrap();
        let newer: toml::Table = "b=2\n[s]\ny=3\n".parse().unwrap();
        let merged = merge(older, newer);
        assert_eq!(
            merged,
            "a=1\nb=2\n[s]\nx=1\ny=3\n".parse::<toml::Table>().unwrap()
        );
    }

    #[test]
    fn project_root_is_the_nearest_marked_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        assert!(find_project_root(&deep).is_err());
        std::fs::write(tmp.path().join("a/.neuro.toml"), "").unwrap();
        assert_eq!(find_project_root(&deep).unwrap(), tmp.path().join("a"));
        std::fs::write(tmp.path().join("a/b/c/.neuro.toml"), "").unwrap();
        assert_eq!(find_project_root(&deep).unwrap(), deep);
    }
}
