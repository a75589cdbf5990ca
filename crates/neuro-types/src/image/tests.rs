#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use url::Url;

use super::*;
use crate::uri::UriContext;

fn ctx_with(org: Option<&str>, registries: &[(&str, &str)]) -> ImageContext {
    ImageContext::new(
        UriContext::new("alice", "default", org.map(str::to_owned)),
        registries
            .iter()
            .map(|(c, r)| ((*c).to_owned(), (*r).to_owned()))
            .collect(),
    )
}

fn ctx(org: Option<&str>) -> ImageContext {
    ctx_with(org, &[("default", "registry.neu.ro")])
}

/// Every verified example of wire-protocol-core §6.3 (user `alice`, cluster
/// `default`, registry `registry.neu.ro`, TagOption DEFAULT):
/// (input, as_docker_url with no org, as_docker_url with org `myorg`).
const CORE_6_3: &[(&str, &str, &str)] = &[
    ("ubuntu", "ubuntu:latest", "ubuntu:latest"),
    (
        "gcr.io/proj/img:2",
        "gcr.io/proj/img:2",
        "gcr.io/proj/img:2",
    ),
    ("localhost:5000/ubuntu:1", "ubuntu:1", "ubuntu:1"),
    (
        "image:img",
        "registry.neu.ro/alice/img:latest",
        "registry.neu.ro/myorg/alice/img:latest",
    ),
    (
        "image:/bob/img:v1",
        "registry.neu.ro/bob/img:v1",
        "registry.neu.ro/myorg/bob/img:v1",
    ),
    (
        "image://default/bob/img:v1",
        "registry.neu.ro/bob/img:v1",
        "registry.neu.ro/bob/img:v1",
    ),
    (
        "image://default/myorg/bob/img:v1",
        "registry.neu.ro/myorg/bob/img:v1",
        "registry.neu.ro/myorg/bob/img:v1",
    ),
    (
        "registry.neu.ro/bob/img:v1",
        "registry.neu.ro/bob/img:v1",
        "registry.neu.ro/bob/img:v1",
    ),
    (
        "image:library/img:1",
        "registry.neu.ro/alice/library/img:1",
        "registry.neu.ro/myorg/alice/library/img:1",
    ),
];

#[test]
fn core_examples() {
    for (input, no_org, with_org) in CORE_6_3 {
        let img = RemoteImage::parse(input, &ctx(None), TagOption::Default).unwrap();
        assert_eq!(img.as_docker_url(false), *no_org, "{input}");
        let img = RemoteImage::parse(input, &ctx(Some("myorg")), TagOption::Default).unwrap();
        assert_eq!(img.as_docker_url(false), *with_org, "{input}");
    }
    // The rows that say more than the Docker URL.
    let img = ctx(None)
        .parse_remote("image://default/myorg/bob/img:v1", TagOption::Default)
        .unwrap();
    assert_eq!(
        (img.owner(), img.name(), img.org_name()),
        (Some("myorg"), "bob/img", None)
    );
    let img = ctx(Some("myorg"))
        .parse_remote("image://default/myorg/bob/img:v1", TagOption::Default)
        .unwrap();
    assert_eq!(
        (img.owner(), img.name(), img.org_name()),
        (Some("bob"), "img", Some("myorg"))
    );
    let img = ctx(Some("myorg"))
        .parse_remote("registry.neu.ro/bob/img:v1", TagOption::Default)
        .unwrap();
    assert_eq!(img.to_string(), "image://default/bob/img:v1");
    assert_eq!(img.org_name(), None);
    let img = ctx(None)
        .parse_remote("localhost:5000/ubuntu:1", TagOption::Default)
        .unwrap();
    assert_eq!(img.registry(), Some("localhost:5000"));
    assert!(!img.is_platform_image());
}

fn opt(text: &str) -> Option<&str> {
    (text != "-").then_some(text)
}

/// Cross-check against neuro-sdk 22.7.1: `python_cases.tsv` holds its answers for
/// many inputs, both orgs and all tag options, with registries `default` ->
/// `registry.neu.ro` and `other2` -> `localhost:5000`.
#[test]
fn python_cross_check() {
    let mut checked = 0;
    for line in include_str!("python_cases.tsv").lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let ctx = ctx_with(
            opt(f[0]),
            &[("default", "registry.neu.ro"), ("other2", "localhost:5000")],
        );
        let (input, mode) = (f[1], f[2]);
        let what = format!("{line:?}");
        match mode {
            "LOCAL" => {
                let got = ctx.parse_local(input);
                if f[3] == "OK" {
                    let img = got.expect(&what);
                    assert_eq!(
                        (img.name.as_str(), img.tag.as_deref()),
                        (f[4], opt(f[5])),
                        "{what}"
                    );
                    assert_eq!(img.to_string(), f[6], "{what}");
                } else {
                    assert!(got.is_err(), "{what}: {got:?}");
                }
            }
            _ => {
                let got = match mode {
                    "DEFAULT" => ctx.parse_remote(input, TagOption::Default),
                    "ALLOW" => ctx.parse_remote(input, TagOption::Allow),
                    "DENY" => ctx.parse_remote(input, TagOption::Deny),
                    "TO_REMOTE" => {
                        let (name, tag) = match input.rsplit_once(':') {
                            Some((n, t)) if !t.contains('/') => (n, Some(t.to_owned())),
                            _ => (input, None),
                        };
                        ctx.local_to_remote(&LocalImage::new(name, tag))
                    }
                    other => panic!("bad mode {other}"),
                };
                match f[3] {
                    "OK" => {
                        let img = got.expect(&what);
                        let fields = (
                            img.name(),
                            img.tag(),
                            img.owner(),
                            img.registry(),
                            img.cluster_name(),
                            img.org_name(),
                        );
                        let want = (f[4], opt(f[5]), opt(f[6]), opt(f[7]), opt(f[8]), opt(f[9]));
                        assert_eq!(fields, want, "{what}");
                        assert_eq!(img.as_docker_url(false), f[10], "{what}");
                        assert_eq!(img.as_docker_url(true), f[11], "{what}");
                        assert_eq!(img.to_string(), f[12], "{what}");
                    }
                    "ValueError" => assert!(
                        matches!(got, Err(ImageError::Invalid { .. })),
                        "{what}: {got:?}"
                    ),
                    "RuntimeError" => assert!(
                        matches!(got, Err(ImageError::UnknownCluster { .. })),
                        "{what}: {got:?}"
                    ),
                    other => panic!("bad outcome {other}"),
                }
            }
        }
        checked += 1;
    }
    assert!(checked > 500);
}

#[test]
fn errors_say_what_is_wrong() {
    let err = ctx(None)
        .parse_remote("image:img:v1", TagOption::Deny)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid remote image 'image:img:v1': tag is not allowed"
    );
    let err = ctx(None)
        .parse_remote("UBUNTU", TagOption::Default)
        .unwrap_err();
    assert!(err
        .to_string()
        .starts_with("invalid local image 'UBUNTU': invalid image name"));
    let err = ctx(None)
        .parse_remote("image://nope/a/b", TagOption::Default)
        .unwrap_err();
    assert!(err.is_unknown_cluster());
    assert!(matches!(
        ctx(None).parse_remote("image:img?x", TagOption::Default),
        Err(ImageError::Invalid {
            reason: InvalidImageReason::Query,
            ..
        })
    ));
}

#[test]
fn invariants() {
    let s = |v: &str| Some(v.to_owned());
    assert!(RemoteImage::new("img", None, s("bob"), s("reg"), s("c"), None).is_ok());
    assert!(RemoteImage::new("img", None, None, s("reg"), None, None).is_ok());
    assert!(RemoteImage::new("img", None, None, None, None, None).is_ok());
    assert!(RemoteImage::new("img", None, s("bob"), s("reg"), None, None).is_err());
    assert!(RemoteImage::new("img", None, None, s("reg"), s("c"), None).is_err());
    assert!(RemoteImage::new("img", None, s("bob"), None, s("c"), None).is_err());
    assert!(RemoteImage::new("img", None, None, None, s("c"), None).is_err());
}

#[test]
fn registry_authorities() {
    for (url, want) in [
        ("https://registry.neu.ro", Some("registry.neu.ro")),
        ("https://registry.neu.ro/v2/", Some("registry.neu.ro")),
        ("http://localhost:5000", Some("localhost:5000")),
        ("https://r.example:8443/x", Some("r.example:8443")),
        ("http://[::1]:5000", Some("[::1]:5000")),
        ("unix:/var/run/registry", None),
    ] {
        let got = registry_authority(&Url::parse(url).unwrap()).ok();
        assert_eq!(got.as_deref(), want, "{url}");
    }
}

#[test]
fn context_from_clusters_and_tags() {
    let ctx = ctx(None);
    assert!(ctx.has_tag("image:img:v1").unwrap());
    assert!(!ctx.has_tag("image://default/bob/img").unwrap());
    assert!(ctx.has_tag("registry.neu.ro/bob/img:1").unwrap());
    let remote = ctx
        .parse_remote("image:img:v1", TagOption::Default)
        .unwrap();
    assert_eq!(
        ctx.remote_to_local(&remote),
        LocalImage::new("img", Some("v1".into()))
    );
    let moved = ctx.with_cluster("other");
    assert_eq!(moved.uri.cluster_name, "other");
    assert!(moved.parse_remote("image:img", TagOption::Default).is_err());
    assert_eq!(
        remote.with_tag(None).as_docker_url(true),
        "https://registry.neu.ro/alice/img"
    );
}
