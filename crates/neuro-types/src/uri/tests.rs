#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use url::Url;

use super::*;

fn ctx(user: &str, org: Option<&str>) -> UriContext {
    UriContext::new(user, "default", org.map(str::to_owned))
}

const ALL: &[Scheme] = &[];

/// (input, expected with no org, expected with org `myorg`); `None` = error.
/// Every row of wire-protocol-core §5.2 (user `alice`) and results checked against
/// neuro-sdk 22.7.1.
const CORE_5_2: &[(&str, Option<&str>, Option<&str>)] = &[
    (
        "storage:",
        Some("storage://default/alice"),
        Some("storage://default/myorg/alice"),
    ),
    (
        "storage:data/x",
        Some("storage://default/alice/data/x"),
        Some("storage://default/myorg/alice/data/x"),
    ),
    (
        "storage:/bob/data",
        Some("storage://default/bob/data"),
        Some("storage://default/myorg/bob/data"),
    ),
    (
        "storage://default/bob/data",
        Some("storage://default/bob/data"),
        Some("storage://default/bob/data"),
    ),
    (
        "secret:name",
        Some("secret://default/alice/name"),
        Some("secret://default/myorg/alice/name"),
    ),
    (
        "disk:disk-123",
        Some("disk://default/alice/disk-123"),
        Some("disk://default/myorg/alice/disk-123"),
    ),
    (
        "job:myjob",
        Some("job://default/alice/myjob"),
        Some("job://default/myorg/alice/myjob"),
    ),
    (
        "storage:123",
        Some("storage://default/alice/123"),
        Some("storage://default/myorg/alice/123"),
    ),
    ("storage:data?x", None, None),
    ("user:bob", None, None),
    // More checked against the Python SDK.
    (
        "storage:///",
        Some("storage://default/"),
        Some("storage://default/myorg/"),
    ),
    (
        "storage:/",
        Some("storage://default/"),
        Some("storage://default/myorg/"),
    ),
    (
        "storage://",
        Some("storage://default/alice"),
        Some("storage://default/myorg/alice"),
    ),
    (
        "storage:data/",
        Some("storage://default/alice/data/"),
        Some("storage://default/myorg/alice/data/"),
    ),
    (
        "storage:my file",
        Some("storage://default/alice/my%20file"),
        Some("storage://default/myorg/alice/my%20file"),
    ),
    (
        "storage:my file ",
        Some("storage://default/alice/my%20file%20"),
        Some("storage://default/myorg/alice/my%20file%20"),
    ),
    (
        "storage:my%20file",
        Some("storage://default/alice/my%20file"),
        Some("storage://default/myorg/alice/my%20file"),
    ),
    (
        "storage:100%",
        Some("storage://default/alice/100%25"),
        Some("storage://default/myorg/alice/100%25"),
    ),
    (
        "storage:100%25",
        Some("storage://default/alice/100%25"),
        Some("storage://default/myorg/alice/100%25"),
    ),
    (
        "storage:ünï",
        Some("storage://default/alice/%C3%BCn%C3%AF"),
        Some("storage://default/myorg/alice/%C3%BCn%C3%AF"),
    ),
    (
        "storage://default/a b",
        Some("storage://default/a%20b"),
        Some("storage://default/a%20b"),
    ),
    (
        "storage://Default/X",
        Some("storage://default/X"),
        Some("storage://default/X"),
    ),
    (
        "storage:a//b",
        Some("storage://default/alice/a//b"),
        Some("storage://default/myorg/alice/a//b"),
    ),
    (
        "storage:a\\b",
        Some("storage://default/alice/a%5Cb"),
        Some("storage://default/myorg/alice/a%5Cb"),
    ),
    (
        "job:/",
        Some("job://default/"),
        Some("job://default/myorg/"),
    ),
    // Dot segments are resolved by the URL parser, as yarl does.
    (
        "storage:a/../b",
        Some("storage://default/alice/b"),
        Some("storage://default/myorg/alice/b"),
    ),
    (
        "storage:../x",
        Some("storage://default/x"),
        Some("storage://default/myorg/x"),
    ),
    (
        "storage:%2e%2e/x",
        Some("storage://default/x"),
        Some("storage://default/myorg/x"),
    ),
    (
        "storage://default/alice/../x",
        Some("storage://default/x"),
        Some("storage://default/x"),
    ),
    ("storage:data#x", None, None),
    ("storage:data#", None, None),
    ("storage:data?", None, None),
    ("storage://u@default/x", None, None),
    ("storage://u:p@default/x", None, None),
    ("storage://default:123/x", None, None),
    ("storage:~/x", None, None),
    ("storage:~u", None, None),
    ("storage:%7Eu/x", None, None),
    ("storage://~u/x", None, None),
    ("role:x", None, None),
    (
        "role://bob/roles/x",
        Some("role://bob/roles/x"),
        Some("role://bob/roles/x"),
    ),
    ("data/x", None, None),
];

/// wire-protocol-data §1.8 (user `user`).
const DATA_1_8: &[(&str, &str, &str)] = &[
    (
        "storage:folder",
        "storage://default/user/folder",
        "storage://default/myorg/user/folder",
    ),
    (
        "storage:",
        "storage://default/user",
        "storage://default/myorg/user",
    ),
    (
        "storage:/other/folder",
        "storage://default/other/folder",
        "storage://default/myorg/other/folder",
    ),
    (
        "storage:///",
        "storage://default/",
        "storage://default/myorg/",
    ),
    ("storage://c2/u/x", "storage://c2/u/x", "storage://c2/u/x"),
    (
        "blob:bucket/key/a.txt",
        "blob://default/user/bucket/key/a.txt",
        "blob://default/myorg/user/bucket/key/a.txt",
    ),
    (
        "blob:/owner/bucket/k",
        "blob://default/owner/bucket/k",
        "blob://default/myorg/owner/bucket/k",
    ),
];

#[test]
fn normalize_core_examples() {
    for (org, pick) in [(None, 1), (Some("myorg"), 2)] {
        let ctx = ctx("alice", org);
        for row in CORE_5_2 {
            let want = if pick == 1 { row.1 } else { row.2 };
            let got = normalize_uri(row.0, ALL, &ctx);
            match want {
                Some(w) => assert_eq!(
                    got.as_ref().map(Url::as_str).ok(),
                    Some(w),
                    "{} org={org:?}: {got:?}",
                    row.0
                ),
                None => assert!(got.is_err(), "{} org={org:?}: {got:?}", row.0),
            }
        }
    }
}

#[test]
fn normalize_data_examples() {
    for (input, no_org, with_org) in DATA_1_8 {
        let got = normalize_uri(*input, ALL, &ctx("user", None)).unwrap();
        assert_eq!(got.as_str(), *no_org, "{input}");
        let got = normalize_uri(*input, ALL, &ctx("user", Some("myorg"))).unwrap();
        assert_eq!(got.as_str(), *with_org, "{input}");
    }
}

#[test]
fn normalize_parsed_urls() {
    let ctx = ctx("alice", Some("myorg"));
    for (input, want) in [
        ("storage:data", "storage://default/myorg/alice/data"),
        ("storage:/bob", "storage://default/myorg/bob"),
        ("storage://other/x", "storage://other/x"),
        ("secret:k", "secret://default/myorg/alice/k"),
    ] {
        let url = Url::parse(input).unwrap();
        assert_eq!(normalize_uri(&url, ALL, &ctx).unwrap().as_str(), want);
    }
    let with_query = Url::parse("storage://default/x?").unwrap();
    assert!(matches!(
        normalize_uri(&with_query, ALL, &ctx),
        Err(UriError::Query { .. })
    ));
}

#[test]
fn normalize_checks_scheme() {
    let ctx = ctx("alice", None);
    let err = normalize_uri("secret:x", &[Scheme::Storage], &ctx).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid scheme 'secret:' (only 'storage:' is allowed)"
    );
    let err = normalize_uri("xy:z", &[Scheme::Storage, Scheme::Disk], &ctx).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid scheme 'xy:' (only 'storage:', 'disk:' are allowed)"
    );
    assert!(matches!(
        normalize_uri("user:bob", ALL, &ctx),
        Err(UriError::AbsoluteRequired { .. })
    ));
    assert!(matches!(
        normalize_uri("data", ALL, &ctx),
        Err(UriError::MissingScheme { .. })
    ));
}

#[test]
fn names_round_trip_through_segments() {
    let ctx = ctx("alice", None);
    for name in ["my file", "100%", "50%25", "ünï", "a+b", "x#y", "q?"] {
        let dir = normalize_uri("storage:dir", ALL, &ctx).unwrap();
        let url = join_uri(&dir, name).unwrap();
        assert_eq!(uri_path_segments(&url), ["alice", "dir", name], "{url}");
        // and through text
        let again = normalize_uri(url.as_str(), ALL, &ctx).unwrap();
        assert_eq!(again, url);
    }
}

#[test]
fn short_form() {
    // Every result checked against neuro-sdk 22.7.1 (`Parser._short`).
    let none = ctx("alice", None);
    let org = ctx("alice", Some("myorg"));
    let cases: &[(&UriContext, &str, &str)] = &[
        (&none, "storage://default/alice/data/", "storage:data"),
        (&none, "storage://default/alice", "storage:"),
        (&none, "storage://default/alice/", "storage:"),
        (&none, "storage://default/alice/a%20b", "storage:a%20b"),
        (
            &none,
            "storage://default/bob/data/",
            "storage://default/bob/data",
        ),
        (
            &none,
            "storage://other/alice/data",
            "storage://other/alice/data",
        ),
        (&none, "storage://default/", "storage://default/"),
        (
            &none,
            "storage://default/myorg/alice/x",
            "storage://default/myorg/alice/x",
        ),
        (
            &org,
            "storage://default/alice/data",
            "storage://default/alice/data",
        ),
        (&org, "storage://default/myorg/alice/data//", "storage:data"),
        (&org, "storage://default/myorg/alice", "storage:"),
        (&none, "file:///tmp/x/", "file:///tmp/x"),
        (&none, "file:///", "file:///"),
        (&none, "job://default/alice/job-1", "job:job-1"),
        (&none, "image://default/alice/img:v1", "image:img:v1"),
        (
            &org,
            "job://default/alice/job-1",
            "job://default/alice/job-1",
        ),
        (&none, "storage://default", "storage://default"),
        // Python quirk kept: an empty segment after the user becomes a leading "/".
        (&none, "storage://default/alice//x", "storage:/x"),
        (
            &org,
            "storage://default/alice//x",
            "storage://default/alice//x",
        ),
    ];
    for (ctx, input, want) in cases {
        let url = Url::parse(input).unwrap();
        assert_eq!(short_uri(&url, ctx), *want, "{input} {ctx:?}");
    }
}

#[test]
fn path_helpers() {
    let url = Url::parse("storage://default/myorg/alice/a%20b/").unwrap();
    assert_eq!(storage_path(&url), "myorg/alice/a%20b/");
    assert_eq!(uri_path_segments(&url), ["myorg", "alice", "a b"]);
    assert_eq!(
        parent(&url).unwrap().as_str(),
        "storage://default/myorg/alice"
    );
    let root = Url::parse("storage://default").unwrap();
    assert_eq!(parent(&root), None);
    assert_eq!(
        join_uri(&root, "x").unwrap().as_str(),
        "storage://default/x"
    );
    assert_eq!(
        join_uri(&url, "a/b").unwrap().as_str(),
        "storage://default/myorg/alice/a%20b/a%2Fb"
    );
    assert_eq!(
        join_path(&root, "/").unwrap().as_str(),
        "storage://default/"
    );
    assert!(join_uri(&url, "").is_err());
    assert!(join_uri(&url, ".").is_err());
    assert!(join_path(&url, "a/../b").is_err());
    let short = Url::parse("storage:data").unwrap();
    assert!(matches!(
        join_uri(&short, "x"),
        Err(UriError::NotHierarchical { .. })
    ));
    assert_eq!(parent(&short), None);
}

#[test]
fn dot_segments() {
    for (path, dots) in [
        ("/a/b", false),
        ("/a/./b", true),
        ("/a/../b", true),
        ("a/%2e%2e/b", true),
        ("a/%2E/b", true),
        ("a/.%2e", true),
        ("..", true),
        ("/a/...", false),
        ("/a/%252e%252e", false),
        ("/a/..b", false),
    ] {
        assert_eq!(path_has_dot_segments(path), dots, "{path}");
    }
    assert!(has_dot_segments(&Url::parse("storage:../x").unwrap()));
    assert!(has_dot_segments(&Url::parse("storage:a/%2e%2e").unwrap()));
    assert!(!has_dot_segments(
        &Url::parse("storage://default/alice/../x").unwrap()
    ));
}

fn paths() -> LocalPaths {
    LocalPaths {
        cwd: "/tmp".into(),
        home: Some("/root".into()),
    }
}

#[test]
fn cli_local_paths() {
    let ctx = ctx("alice", None);
    let both = [Scheme::File, Scheme::Storage];
    // Results checked against neuro-sdk 22.7.1 with cwd /tmp and HOME /root.
    for (input, want) in [
        ("rel/x", "file:///tmp/rel/x"),
        ("/abs/x", "file:///abs/x"),
        ("a b", "file:///tmp/a%20b"),
        ("100%", "file:///tmp/100%25"),
        ("file:rel/x", "file:///tmp/rel/x"),
        ("file:///tmp/a%20b", "file:///tmp/a%20b"),
        ("~/x", "file:///root/x"),
        ("~", "file:///root"),
        ("123", "file:///tmp/123"),
        ("./x", "file:///tmp/x"),
        ("storage:x", "storage://default/alice/x"),
        ("storage:123", "storage://default/alice/123"),
    ] {
        let got = uri_from_cli_in(input, &ctx, &both, &paths()).unwrap();
        assert_eq!(got.as_str(), want, "{input}");
    }
    for input in ["file://host/x", "file:x#y", "~bob/x", "disk:x", "1abc:123"] {
        assert!(
            uri_from_cli_in(input, &ctx, &both, &paths()).is_err(),
            "{input}"
        );
    }
    // Without `file`, plain paths are refused.
    assert!(matches!(
        uri_from_cli_in("rel/x", &ctx, &[Scheme::Storage], &paths()),
        Err(UriError::MissingScheme { .. })
    ));
    assert!(matches!(
        uri_from_cli_in("rel/x", &ctx, ALL, &paths()),
        Err(UriError::MissingScheme { .. })
    ));
    // An empty list accepts any scheme.
    let got = uri_from_cli_in("role://x/y", &ctx, ALL, &paths()).unwrap();
    assert_eq!(got.as_str(), "role://x/y");
}

#[test]
fn local_uri_round_trip() {
    let url = local_path_to_uri(Path::new("/tmp/a b/ü%"), Path::new("/")).unwrap();
    assert_eq!(url.as_str(), "file:///tmp/a%20b/%C3%BC%25");
    assert_eq!(uri_to_local_path(&url).unwrap(), Path::new("/tmp/a b/ü%"));
    let url = local_path_to_uri(Path::new("x/../y"), Path::new("/w")).unwrap();
    assert_eq!(url.as_str(), "file:///w/y");
    let url = normalize_local_path_uri(&Url::parse("file:///a").unwrap(), Path::new("/")).unwrap();
    assert_eq!(url.as_str(), "file:///a");
    assert!(normalize_local_path_uri("file:~/x", Path::new("/")).is_err());
    assert!(normalize_local_path_uri("storage:x", Path::new("/")).is_err());
    assert!(uri_to_local_path(&Url::parse("storage://d/x").unwrap()).is_err());
}

#[test]
fn wire_url_text() {
    for (input, want) in [
        ("https://h", "https://h"),
        ("https://h/", "https://h"),
        ("http://127.0.0.1:54540", "http://127.0.0.1:54540"),
        ("https://h/api/v1", "https://h/api/v1"),
        ("https://h/?x=1", "https://h/?x=1"),
        ("storage://default/", "storage://default/"),
    ] {
        assert_eq!(url_to_wire(&Url::parse(input).unwrap()), want);
    }
}
