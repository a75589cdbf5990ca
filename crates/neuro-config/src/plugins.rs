//! Plugins: parameters that extend the accepted user-config schema
//! (`neuro_sdk._plugins`).
//!
//! The Python SDK discovers plugins through package entry points. Here a plugin
//! is any [`Plugin`] (a closure works) registered explicitly on the factory with
//! [`ConfigFactory::with_plugin`](crate::ConfigFactory::with_plugin); it defines
//! parameters on a [`ConfigBuilder`]. The factory starts from
//! [`ConfigBuilder::with_cli_schema`], the parameters the `neuro` CLI registers,
//! so a `user.toml` written for the CLI is accepted as is.

use std::collections::BTreeMap;

use crate::ConfigError;

/// Where a parameter may be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigScope {
    /// Only in the global `user.toml` of the config directory.
    Global,
    /// Only in a project's `.neuro.toml`.
    Local,
    /// In both files.
    All,
}

impl ConfigScope {
    /// Whether a parameter of this scope may appear in a file of scope `file`.
    pub fn allows(self, file: ConfigScope) -> bool {
        matches!(
            (self, file),
            (ConfigScope::All, _)
                | (_, ConfigScope::All)
                | (ConfigScope::Global, ConfigScope::Global)
                | (ConfigScope::Local, ConfigScope::Local)
        )
    }
}

/// The type of a user-config parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParamType {
    /// `true` / `false`.
    Bool,
    /// An integer.
    Int,
    /// A number (integers are accepted).
    Float,
    /// A string.
    Str,
    /// A list of booleans.
    BoolList,
    /// A list of integers.
    IntList,
    /// A list of numbers.
    FloatList,
    /// A list of strings.
    StrList,
}

impl ParamType {
    /// What the error message says is expected.
    pub fn describe(self) -> &'static str {
        match self {
            ParamType::Bool => "bool",
            ParamType::Int => "Integral",
            ParamType::Float => "Real",
            ParamType::Str => "str",
            ParamType::BoolList
            | ParamType::IntList
            | ParamType::FloatList
            | ParamType::StrList => "list",
        }
    }

    /// The element type of a list type.
    pub fn element(self) -> Option<ParamType> {
        match self {
            ParamType::BoolList => Some(ParamType::Bool),
            ParamType::IntList => Some(ParamType::Int),
            ParamType::FloatList => Some(ParamType::Float),
            ParamType::StrList => Some(ParamType::Str),
            _ => None,
        }
    }

    /// Whether a scalar value has this (scalar) type.
    pub fn accepts(self, value: &toml::Value) -> bool {
        matches!(
            (self, value),
            (ParamType::Bool, toml::Value::Boolean(_))
                | (ParamType::Int, toml::Value::Integer(_))
                | (
                    ParamType::Float,
                    toml::Value::Integer(_) | toml::Value::Float(_)
                )
                | (ParamType::Str, toml::Value::String(_))
        )
    }
}

/// The accepted user-config parameters: `section -> name -> (type, scope)`.
///
/// ```
/// use neuro_config::plugins::{ConfigBuilder, ConfigScope};
///
/// let mut config = ConfigBuilder::with_cli_schema();
/// config.define_int("my-plugin", "retries", ConfigScope::All).unwrap();
/// config.define_str_list("my-plugin", "hosts", ConfigScope::Global).unwrap();
/// // Defining a parameter twice, or any alias, is refused.
/// assert!(config.define_int("my-plugin", "retries", ConfigScope::All).is_err());
/// assert!(config.define_str("alias", "x", ConfigScope::All).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigBuilder {
    spec: BTreeMap<String, BTreeMap<String, (ParamType, ConfigScope)>>,
}

impl ConfigBuilder {
    /// No parameters at all (only `alias` is accepted).
    pub fn new() -> Self {
        Self::default()
    }

    /// The parameters the `neuro` CLI 22.7 registers: `job.ps-format`,
    /// `job.top-format`, `job.life-span`, `job.cluster-name` and `job.org-name`
    /// (project files only), `storage.cp-exclude` and
    /// `storage.cp-exclude-from-files`.
    pub fn with_cli_schema() -> Self {
        let mut spec = Self::new();
        let params = [
            ("job", "ps-format", ParamType::Str, ConfigScope::All),
            ("job", "top-format", ParamType::Str, ConfigScope::All),
            ("job", "life-span", ParamType::Str, ConfigScope::All),
            ("job", "cluster-name", ParamType::Str, ConfigScope::Local),
            ("job", "org-name", ParamType::Str, ConfigScope::Local),
            (
                "storage",
                "cp-exclude",
                ParamType::StrList,
                ConfigScope::All,
            ),
            (
                "storage",
                "cp-exclude-from-files",
                ParamType::StrList,
                ConfigScope::All,
            ),
        ];
        for (section, name, ty, scope) in params {
            spec.insert(section, name, ty, scope);
        }
        spec
    }

    /// Defines `section.name` of type `ty`, allowed in files of `scope`.
    ///
    /// Fails for the `alias` section (aliases have their own rules) and for a
    /// parameter that is already defined.
    pub fn define(
        &mut self,
        section: &str,
        name: &str,
        ty: ParamType,
        scope: ConfigScope,
    ) -> Result<(), ConfigError> {
        if section == "alias" {
            return Err(ConfigError::Plugin {
                reason: "Registering aliases is not supported yet.".to_owned(),
            });
        }
        if self.param(section, name).is_some() {
            return Err(ConfigError::Plugin {
                reason: format!("Config parameter {section}.{name} already registered"),
            });
        }
        self.insert(section, name, ty, scope);
        Ok(())
    }

    fn insert(&mut self, section: &str, name: &str, ty: ParamType, scope: ConfigScope) {
        self.spec
            .entry(section.to_owned())
            .or_default()
            .insert(name.to_owned(), (ty, scope));
    }

    /// Defines an integer parameter.
    pub fn define_int(
        &mut self,
        section: &str,
        name: &str,
        scope: ConfigScope,
    ) -> Result<(), ConfigError> {
        self.define(section, name, ParamType::Int, scope)
    }

    /// Defines a boolean parameter.
    pub fn define_bool(
        &mut self,
        section: &str,
        name: &str,
        scope: ConfigScope,
    ) -> Result<(), ConfigError> {
        self.define(section, name, ParamType::Bool, scope)
    }

    /// Defines a number parameter (integers are accepted too).
    pub fn define_float(
        &mut self,
        section: &str,
        name: &str,
        scope: ConfigScope,
    ) -> Result<(), ConfigError> {
        self.define(section, name, ParamType::Float, scope)
    }

    /// Defines a string parameter.
    pub fn define_str(
        &mut self,
        section: &str,
        name: &str,
        scope: ConfigScope,
    ) -> Result<(), ConfigError> {
        self.define(section, name, ParamType::Str, scope)
    }

    /// Defines a list-of-integers parameter.
    pub fn define_int_list(
        &mut self,
        section: &str,
        name: &str,
        scope: ConfigScope,
    ) -> Result<(), ConfigError> {
        self.define(section, name, ParamType::IntList, scope)
    }

    /// Defines a list-of-booleans parameter.
    pub fn define_bool_list(
        &mut self,
        section: &str,
        name: &str,
        scope: ConfigScope,
    ) -> Result<(), ConfigError> {
        self.define(section, name, ParamType::BoolList, scope)
    }

    /// Defines a list-of-numbers parameter.
    pub fn define_float_list(
        &mut self,
        section: &str,
        name: &str,
        scope: ConfigScope,
    ) -> Result<(), ConfigError> {
        self.define(section, name, ParamType::FloatList, scope)
    }

    /// Defines a list-of-strings parameter.
    pub fn define_str_list(
        &mut self,
        section: &str,
        name: &str,
        scope: ConfigScope,
    ) -> Result<(), ConfigError> {
        self.define(section, name, ParamType::StrList, scope)
    }

    /// Type and scope of `section.name`, if defined.
    pub fn param(&self, section: &str, name: &str) -> Option<(ParamType, ConfigScope)> {
        self.spec.get(section)?.get(name).copied()
    }

    /// The sections with at least one parameter allowed in a file of `scope`,
    /// each with those parameters.
    pub fn sections(
        &self,
        scope: ConfigScope,
    ) -> impl Iterator<Item = (&str, Vec<(&str, ParamType)>)> + '_ {
        self.spec.iter().map(move |(section, params)| {
            let allowed = params
                .iter()
                .filter(|(_, (_, s))| s.allows(scope))
                .map(|(name, (ty, _))| (name.as_str(), *ty))
                .collect();
            (section.as_str(), allowed)
        })
    }
}

/// Something that extends the user-config schema, registered with
/// [`ConfigFactory::with_plugin`](crate::ConfigFactory::with_plugin).
///
/// Closures taking `&mut ConfigBuilder` are plugins:
///
/// ```
/// use neuro_config::plugins::{ConfigBuilder, ConfigScope};
/// use neuro_config::{ConfigError, ConfigFactory};
///
/// let factory = ConfigFactory::with_path("/tmp/neuro-doc-example")
///     .with_plugin(&|config: &mut ConfigBuilder| -> Result<(), ConfigError> {
///         config.define_bool("my-tool", "verbose", ConfigScope::All)
///     })
///     .unwrap();
/// assert!(factory.config_schema().param("my-tool", "verbose").is_some());
/// ```
pub trait Plugin {
    /// Defines the plugin's parameters.
    fn register(&self, config: &mut ConfigBuilder) -> Result<(), ConfigError>;
}

impl<F> Plugin for F
where
    F: Fn(&mut ConfigBuilder) -> Result<(), ConfigError>,
{
    fn register(&self, config: &mut ConfigBuilder) -> Result<(), ConfigError> {
        self(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert!(ConfigScope::All.allows(ConfigScope::Global));
        assert!(ConfigScope::Local.allows(ConfigScope::All));
        assert!(!ConfigScope::Local.allows(ConfigScope::Global));
        assert!(!ConfigScope::Global.allows(ConfigScope::Local));
    }

    #[test]
    fn cli_schema_and_types() {
        let spec = ConfigBuilder::with_cli_schema();
        assert_eq!(
            spec.param("job", "cluster-name"),
            Some((ParamType::Str, ConfigScope::Local))
        );
        let global: Vec<_> = spec
            .sections(ConfigScope::Global)
            .flat_map(|(s, p)| p.into_iter().map(move |(n, _)| format!("{s}.{n}")))
            .collect();
        assert!(!global.contains(&"job.cluster-name".to_owned()));
        assert!(global.contains(&"storage.cp-exclude".to_owned()));
        assert!(ParamType::Float.accepts(&toml::Value::Integer(1)));
        assert!(!ParamType::Int.accepts(&toml::Value::Float(1.0)));
        assert!(!ParamType::Bool.accepts(&toml::Value::String("true".into())));
        assert_eq!(ParamType::StrList.element(), Some(ParamType::Str));
    }
}
