//! Secrets (`neuro_sdk.Secret`, wire-protocol-data §5).

use url::Url;

use crate::error::{parse_url, ModelError};
use crate::wire::SecretPayload;

/// A secret: a named value readable by jobs. The value itself is never read back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Secret {
    /// The secret's name.
    pub key: String,
    /// The user who owns it.
    pub owner: String,
    /// The cluster that was queried.
    pub cluster_name: String,
    /// The org, if any.
    pub org_name: Option<String>,
}

impl Secret {
    /// Decodes a listing entry; `cluster_name` is the cluster that was queried.
    pub fn from_payload(payload: SecretPayload, cluster_name: &str) -> Self {
        Self {
            key: payload.key,
            owner: payload.owner,
            cluster_name: cluster_name.to_owned(),
            org_name: payload.org_name,
        }
    }

    /// `secret://<cluster>[/<org>]/<owner>/<key>`, the URI jobs refer to.
    ///
    /// ```
    /// use neuro_types::Secret;
    ///
    /// let s = Secret { key: "k".into(), owner: "alice".into(), cluster_name: "default".into(), org_name: None };
    /// assert_eq!(s.uri().unwrap().as_str(), "secret://default/alice/k");
    /// ```
    pub fn uri(&self) -> Result<Url, ModelError> {
        let text = resource_uri(
            "secret",
            &self.cluster_name,
            self.org_name.as_deref(),
            &self.owner,
            &self.key,
        );
        parse_url("uri", &text)
    }
}

/// `<scheme>://<cluster>[/<org>]/<owner>/<name>`.
pub(crate) fn resource_uri(
    scheme: &str,
    cluster: &str,
    org: Option<&str>,
    owner: &str,
    name: &str,
) -> String {
    match org.filter(|o| !o.is_empty()) {
        Some(org) => format!("{scheme}://{cluster}/{org}/{owner}/{name}"),
        None => format!("{scheme}://{cluster}/{owner}/{name}"),
    }
}
