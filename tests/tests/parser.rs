//! The parser: every documented form, and malformed input as typed errors that
//! name the input. Table-driven; one test also takes the parser from a client of
//! a real neuro-local.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use common::Env;
use neuro_types::image::TagOption;
use neuro_types::parser::{ParseError, Parser};
use neuro_types::uri::{LocalPaths, Scheme};
use neuro_types::{ImageContext, UriContext};
use url::Url;

fn parser(org: Option<&str>) -> Parser {
    Parser::new(ImageContext::new(
        UriContext::new("alice", "default", org.map(str::to_owned)),
        vec![
            ("default".into(), "registry.example.com".into()),
            ("other".into(), "registry.other.com:5000".into()),
        ],
    ))
    .with_local_paths(LocalPaths {
        cwd: PathBuf::from("/work/project"),
        home: Some(PathBuf::from("/home/alice")),
    })
}

#[test]
fn volumes_in_every_documented_form() {
    let p = parser(None);
    let cases: &[(&str, &str, &str, bool)] = &[
        (
            "storage:data:/mnt",
            "storage://default/alice/data",
            "/mnt",
            false,
        ),
        (
            "storage:data:/mnt:ro",
            "storage://default/alice/data",
            "/mnt",
            true,
        ),
        (
            "storage:data:/mnt:rw",
            "storage://default/alice/data",
            "/mnt",
            false,
        ),
        (
            "storage:/bob/shared:/var/x",
            "storage://default/bob/shared",
            "/var/x",
            false,
        ),
        (
            "storage://other/bob/x:/x:ro",
            "storage://other/bob/x",
            "/x",
            true,
        ),
        (
            "storage:my%20dir:/m",
            "storage://default/alice/my%20dir",
            "/m",
            false,
        ),
        (
            "storage::/home/me",
            "storage://default/alice",
            "/home/me",
            false,
        ),
        (
            "storage:a/b/c:/deep/path/",
            "storage://default/alice/a/b/c",
            "/deep/path/",
            false,
        ),
    ];
    for (spec, uri, path, ro) in cases {
        let v = p.volume(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(
            (
                v.storage_uri.as_str(),
                v.container_path.as_str(),
                v.read_only
            ),
            (*uri, *path, *ro),
            "{spec}"
        );
    }
    // With an org, short forms go under it.
    let v = parser(Some("acme")).volume("storage:data:/mnt").unwrap();
    assert_eq!(v.storage_uri.as_str(), "storage://default/acme/alice/data");
    // Another default cluster.
    let v = p.on_cluster("other").volume("storage:data:/mnt").unwrap();
    assert_eq!(v.storage_uri.as_str(), "storage://other/alice/data");

    // A mixed list keeps each kind in order.
    let all = p
        .volumes(&[
            "secret:key:/etc/key",
            "storage:a:/a",
            "disk:disk-1:/d:ro",
            "storage:b:/b:ro",
            "secret://default/bob/k2:/etc/k2",
            "disk://default/alice/disk-2:/e",
        ])
        .unwrap();
    let storage: Vec<_> = all.volumes.iter().map(|v| v.storage_uri.as_str()).collect();
    assert_eq!(
        storage,
        ["storage://default/alice/a", "storage://default/alice/b"]
    );
    let secrets: Vec<_> = all
        .secret_files
        .iter()
        .map(|s| (s.secret_uri.as_str(), s.container_path.as_str()))
        .collect();
    assert_eq!(
        secrets,
        [
            ("secret://default/alice/key", "/etc/key"),
            ("secret://default/bob/k2", "/etc/k2")
        ]
    );
    let disks: Vec<_> = all
        .disk_volumes
        .iter()
        .map(|d| (d.disk_uri.as_str(), d.read_only))
        .collect();
    assert_eq!(
        disks,
        [
            ("disk://default/alice/disk-1", true),
            ("disk://default/alice/disk-2", false)
        ]
    );
}

#[test]
fn images_envs_and_uris_in_every_documented_form() {
    let p = parser(None);
    let remote: &[(&str, TagOption, &str)] = &[
        ("ubuntu", TagOption::Default, "ubuntu:latest"),
        ("ubuntu:22.04", TagOption::Default, "ubuntu:22.04"),
        (
            "library/ubuntu:22.04",
            TagOption::Default,
            "library/ubuntu:22.04",
        ),
        ("gcr.io/proj/img:2", TagOption::Default, "gcr.io/proj/img:2"),
        (
            "image:img",
            TagOption::Default,
            "registry.example.com/alice/img:latest",
        ),
        (
            "image:img",
            TagOption::Allow,
            "registry.example.com/alice/img",
        ),
        (
            "image:img:v1",
            TagOption::Default,
            "registry.example.com/alice/img:v1",
        ),
        (
            "image:/bob/img:v1",
            TagOption::Default,
            "registry.example.com/bob/img:v1",
        ),
        (
            "image://default/bob/img:v1",
            TagOption::Default,
            "registry.example.com/bob/img:v1",
        ),
        (
            "image://other/bob/img:v2",
            TagOption::Default,
            "registry.other.com:5000/bob/img:v2",
        ),
        (
            "registry.example.com/bob/img:v3",
            TagOption::Default,
            "registry.example.com/bob/img:v3",
        ),
    ];
    for (text, tag, docker) in remote {
        let img = p
            .remote_image(text, *tag)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(img.as_docker_url(false), *docker, "{text}");
    }
    let local = p.local_image("ubuntu:22.04").unwrap();
    assert_eq!(
        (local.name.as_str(), local.tag.as_deref()),
        ("ubuntu", Some("22.04"))
    );
    let local = p.local_image("my/img").unwrap();
    assert_eq!(local.tag.as_deref(), Some("latest"));

    let env = p
        .envs_from(
            &[
                "A=1",
                "FROM_ENV",
                "UNSET",
                "B=x=y",
                "S=secret:token",
                "EMPTY=",
            ],
            &["\u{feff}# comment\n\n  C=3\nA=0\nT=secret:/bob/t\n"],
            |name| (name == "FROM_ENV").then(|| "inherited".to_owned()),
        )
        .unwrap();
    let plain: Vec<_> = env
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        plain,
        [
            ("A", "1"),
            ("B", "x=y"),
            ("C", "3"),
            ("EMPTY", ""),
            ("FROM_ENV", "inherited"),
            ("UNSET", "")
        ]
    );
    let secret: Vec<_> = env
        .secret_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        secret,
        [
            ("S", "secret://default/alice/token"),
            ("T", "secret://default/bob/t")
        ]
    );

    let uris: &[(&str, &[Scheme], &str)] = &[
        (
            "storage:data",
            &[Scheme::Storage],
            "storage://default/alice/data",
        ),
        ("storage:/bob/x", &[], "storage://default/bob/x"),
        (
            "storage://default/alice/a%20b",
            &[],
            "storage://default/alice/a%20b",
        ),
        ("job:my-job", &[Scheme::Job], "job://default/alice/my-job"),
        ("secret:k", &[Scheme::Secret], "secret://default/alice/k"),
        ("disk:d", &[Scheme::Disk], "disk://default/alice/d"),
        (
            "blob:bucket/key",
            &[Scheme::Blob],
            "blob://default/alice/bucket/key",
        ),
        ("user://bob", &[Scheme::User], "user://bob"),
        ("role://bob/x", &[], "role://bob/x"),
        (
            "data/x",
            &[Scheme::File, Scheme::Storage],
            "file:///work/project/data/x",
        ),
        ("/tmp/x", &[Scheme::File], "file:///tmp/x"),
        ("~/x", &[Scheme::File], "file:///home/alice/x"),
        ("file:rel/y", &[Scheme::File], "file:///work/project/rel/y"),
        ("file:///abs/z", &[Scheme::File], "file:///abs/z"),
    ];
    for (text, allowed, expected) in uris {
        let url = p
            .str_to_uri(text, allowed)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(url.as_str(), *expected, "{text}");
        assert_eq!(p.uri_to_str(&url), *expected);
    }
    let url = p
        .normalize_uri(&Url::parse("storage:data/x").unwrap(), &[Scheme::Storage])
        .unwrap();
    assert_eq!(url.as_str(), "storage://default/alice/data/x");
    assert_eq!(p.short_uri(&url), "storage:data/x");
    let url = p
        .normalize_uri(&Url::parse("image://other/bob/x").unwrap(), &[])
        .unwrap();
    assert_eq!(url.as_str(), "image://other/bob/x");
    let path = p
        .uri_to_path(&Url::parse("file:///tmp/a%20b").unwrap())
        .unwrap();
    assert_eq!(path, Path::new("/tmp/a b"));
    let uri = p.path_to_uri(Path::new("rel/a b")).unwrap();
    assert_eq!(uri.as_str(), "file:///work/project/rel/a%20b");
    assert_eq!(
        p.uri_to_path(&uri).unwrap(),
        Path::new("/work/project/rel/a b")
    );
}

/// What an error must be: a variant check and the text that must appear.
enum Kind {
    Spec,
    Mode,
    ContainerPath,
    Unsupported,
    Uri,
    Image,
    Env,
}

fn assert_kind(err: &ParseError, kind: &Kind, input: &str) {
    let ok = matches!(
        (kind, err),
        (Kind::Spec, ParseError::Spec { .. })
            | (Kind::Mode, ParseError::Mode { .. })
            | (Kind::ContainerPath, ParseError::ContainerPath { .. })
            | (Kind::Unsupported, ParseError::Unsupported { .. })
            | (Kind::Uri, ParseError::Uri { .. })
            | (Kind::Image, ParseError::Image { .. })
            | (Kind::Env, ParseError::Env { .. })
    );
    assert!(ok, "{input:?}: unexpected error {err:?}");
    assert!(
        err.to_string().contains(input),
        "{err} should name {input:?}"
    );
}

#[test]
fn malformed_input_is_a_typed_error_naming_the_input() {
    let p = parser(None);
    let volumes: &[(&str, Kind)] = &[
        ("", Kind::Spec),
        ("storage:data", Kind::Spec),
        ("data:/mnt", Kind::Spec),
        ("storage:data:/mnt:ro:extra", Kind::Spec),
        (":data:/mnt", Kind::Spec),
        ("storage:data:/mnt:xx", Kind::Mode),
        ("storage:data:/mnt:RO", Kind::Mode),
        ("storage://host:8080/x:/mnt", Kind::Mode),
        ("storage:data:mnt", Kind::ContainerPath),
        ("storage:data:", Kind::ContainerPath),
        ("/local/path:/mnt:ro", Kind::ContainerPath),
        ("image:ubuntu:/mnt", Kind::Uri),
        ("storage:data?x:/mnt", Kind::Uri),
        ("storage:data#x:/mnt", Kind::Uri),
        ("storage://u@default/x:/mnt", Kind::Uri),
        ("storage:~/x:/mnt", Kind::Uri),
        ("secret:key:/etc/key", Kind::Uri),
        ("HOME", Kind::Unsupported),
        ("ALL", Kind::Unsupported),
    ];
    for (input, kind) in volumes {
        let err = match p.volumes(&[*input]) {
            Ok(v) if *input == "secret:key:/etc/key" => {
                // A secret in a `--volume` list is fine; as a storage volume it is not.
                assert_eq!(v.secret_files.len(), 1);
                p.volume(input).unwrap_err()
            }
            Ok(v) => panic!("{input:?} parsed: {v:?}"),
            Err(e) => e,
        };
        assert_kind(&err, kind, input);
    }
    let list: &[(&str, Kind)] = &[
        ("secret:key:/etc/key:ro", Kind::Spec),
        ("secret:key", Kind::Spec),
        ("secret:key:relative", Kind::ContainerPath),
        ("secret:k?x:/etc/k", Kind::Uri),
        ("secret://u:p@default/k:/etc/k", Kind::Spec),
        ("disk:d", Kind::Spec),
        ("disk:d:/x:rx", Kind::Mode),
        ("disk:d#1:/x", Kind::Uri),
        ("disk:d:x", Kind::ContainerPath),
    ];
    for (input, kind) in list {
        let err = p.volumes(&[*input]).unwrap_err();
        assert_kind(&err, kind, input);
    }

    let images: &[(&str, bool)] = &[
        ("", false),
        ("image:", true),
        ("image:/", true),
        ("image://default", true),
        ("image://default/bob", true),
        ("registry.example.com/img", true),
        ("registry.example.com/", true),
        ("ubuntu:", false),
        (":latest", false),
    ];
    for (input, remote) in images {
        let err = if *remote {
            p.remote_image(input, TagOption::Default).unwrap_err()
        } else {
            p.local_image(input).unwrap_err()
        };
        assert_kind(&err, &Kind::Image, input);
    }
    let err = p.remote_image("image:img:v1", TagOption::Deny).unwrap_err();
    assert_kind(&err, &Kind::Image, "image:img:v1");

    let envs: &[(&str, Kind)] = &[
        ("=value", Kind::Env),
        ("A B=1", Kind::Env),
        ("A\0=1", Kind::Env),
        ("A=x\0y", Kind::Env),
        ("S=secret:k?x", Kind::Uri),
        ("S=secret:~/k", Kind::Uri),
        ("S=secret://default/alice/k#f", Kind::Uri),
    ];
    for (input, kind) in envs {
        let err = p
            .envs_from(&[*input], &[] as &[&str], |_| None)
            .unwrap_err();
        assert_kind(&err, kind, input);
    }
    let err = p
        .envs_from(&[] as &[&str], &["OK=1\n=bad\n"], |_| None)
        .unwrap_err();
    assert_kind(&err, &Kind::Env, "=bad");
    let missing = Path::new("/nonexistent/dir/.env");
    let err = p.envs(&[] as &[&str], &[missing]).unwrap_err();
    assert!(matches!(err, ParseError::EnvFile { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/dir/.env"));

    let uris: &[(&str, &[Scheme])] = &[
        ("storage:x?y", &[Scheme::Storage]),
        ("storage:x#y", &[]),
        ("image:x", &[Scheme::Storage]),
        ("data", &[Scheme::Storage]),
        ("user:bob", &[]),
        ("storage://default:80/x", &[]),
        ("storage://u:p@default/x", &[]),
        ("~bob/x", &[Scheme::File]),
        ("file://host/x", &[Scheme::File]),
        ("storage:~/x", &[]),
        ("foo:bar", &[Scheme::Storage]),
    ];
    for (input, allowed) in uris {
        let err = p.str_to_uri(input, allowed).unwrap_err();
        assert_kind(&err, &Kind::Uri, input);
    }
    for (text, allowed) in [("role:x", &[][..]), ("image:x", &[Scheme::Storage][..])] {
        let url = Url::parse(text).unwrap();
        let err = p.normalize_uri(&url, allowed).unwrap_err();
        assert_kind(&err, &Kind::Uri, text);
    }
    let url = Url::parse("storage://default/alice/x").unwrap();
    assert_kind(&p.uri_to_path(&url).unwrap_err(), &Kind::Uri, url.as_str());
}

#[tokio::test]
async fn the_client_parser_uses_the_login() {
    let env = Env::start().await;
    let p = env.client.config().parser();
    let v = p.volume("storage:data:/mnt:ro").unwrap();
    assert_eq!(v.storage_uri.as_str(), "storage://default/admin/data");
    let registry = env.client.config().registry_url().clone();
    let authority = format!(
        "{}:{}",
        registry.host_str().unwrap(),
        registry.port().unwrap()
    );
    let img = p.remote_image("image:img:1", TagOption::Default).unwrap();
    assert_eq!(img.as_docker_url(false), format!("{authority}/admin/img:1"));
    // The registry host itself is recognised as the platform registry.
    let img = p
        .remote_image(&format!("{authority}/bob/x:2"), TagOption::Default)
        .unwrap();
    assert_eq!(img.owner(), Some("bob"));
}
