//! The parser every target uses: user `alice` on `default` (org `acme` when the
//! input asks for it), two registries, fixed local directories.

use neuro_types::parser::Parser;
use neuro_types::uri::LocalPaths;
use neuro_types::{ImageContext, UriContext};

pub fn parser(org: bool) -> Parser {
    Parser::new(ImageContext::new(
        UriContext::new("alice", "default", org.then(|| "acme".to_owned())),
        vec![
            ("default".into(), "registry.example.com".into()),
            ("other".into(), "registry.other.com:5000".into()),
        ],
    ))
    .with_local_paths(LocalPaths {
        cwd: "/work".into(),
        home: Some("/home/alice".into()),
    })
}

/// Splits fuzz input into text lines (lossy UTF-8); the first byte picks the org.
pub fn lines(data: &[u8]) -> (bool, Vec<String>) {
    let org = data.first().is_some_and(|b| b & 1 == 1);
    let text = String::from_utf8_lossy(data.get(1..).unwrap_or_default());
    (org, text.split('\n').map(str::to_owned).collect())
}
