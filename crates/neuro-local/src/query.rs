//! Query-string helpers shared by the services.

/// The first non-empty value of `name` in a raw query string, decoded.
///
/// ```
/// use neuro_local::query::param;
///
/// assert_eq!(param(Some("a=1&owner=al%69ce"), "owner").as_deref(), Some("alice"));
/// assert_eq!(param(Some("owner="), "owner"), None);
/// assert_eq!(param(None, "owner"), None);
/// ```
pub fn param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.into_owned())
}
