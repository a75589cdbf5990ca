//! Recursive transfers, progress, update/continue_, filters and ignore files,
//! glob and rm with progress, through the SDK against a real neuro-local.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::files::{content, read_tree, Node, Prng, Recorder};
use common::Env;
use futures::TryStreamExt;
use neuro_sdk::storage::engine::TransferOptions;
use neuro_sdk::storage::progress::ProgressEvent;
use neuro_sdk::{Storage, StorageError};

/// Names that need escaping somewhere: unicode, spaces, `%`, `+`, `#`, `?`.
const NAMES: [&str; 8] = [
    "plain",
    "with space",
    "100%",
    "%41 literal",
    "données",
    "名前",
    "a+b#c",
    "q?[x]",
];

/// A tree of `files` files: nested folders (up to 4 deep), empty files, empty
/// folders and awkward names. Returns what it wrote.
fn build_tree(root: &Path, files: usize, seed: u64) -> BTreeMap<String, Node> {
    let mut prng = Prng::new(seed);
    std::fs::create_dir_all(root).unwrap();
    for i in 0..files {
        let depth = (prng.next_u64() % 4) as usize;
        let mut dir = root.to_path_buf();
        for level in 0..depth {
            let name = NAMES[(i / 97 + level) % NAMES.len()];
            dir.push(format!("{name} d{level}"));
        }
        std::fs::create_dir_all(&dir).unwrap();
        let len = match i % 10 {
            0 => 0,
            1 => 70_000 + (prng.next_u64() % 200_000) as usize,
            _ => (prng.next_u64() % 5000) as usize,
        };
        let name = format!("{} {i}.bin", NAMES[i % NAMES.len()]);
        std::fs::write(dir.join(name), content(len, seed + i as u64)).unwrap();
    }
    for name in ["empty", "empty too/inner", "100% empty"] {
        std::fs::create_dir_all(root.join(name)).unwrap();
    }
    read_tree(root)
}

fn set_mtime(path: &Path, time: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(time)
        .unwrap();
}

async fn read_remote(storage: &Storage, uri: &str) -> Vec<u8> {
    let chunks: Vec<Bytes> = storage.open(uri, 0, None).try_collect().await.unwrap();
    chunks.concat()
}

async fn put(storage: &Storage, uri: &str, data: &[u8]) {
    let data = Bytes::copy_from_slice(data);
    storage
        .create(uri, futures::stream::iter([Ok::<_, std::io::Error>(data)]))
        .await
        .unwrap();
}

/// Every entry under a remote directory, by relative path (directories end in
/// `/`).
async fn remote_tree(storage: &Storage, uri: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![(uri.trim_end_matches('/').to_owned(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries: Vec<_> = storage.list(dir.as_str()).try_collect().await.unwrap();
        for status in entries {
            let name = status.name().to_owned();
            if status.is_dir() {
                out.insert(format!("{prefix}{name}/"));
                stack.push((status.uri.to_string(), format!("{prefix}{name}/")));
            } else {
                out.insert(format!("{prefix}{name}"));
            }
        }
    }
    out
}

#[tokio::test]
async fn tree_round_trip_is_byte_for_byte() {
    let env = Env::start().await;
    let storage = env.client.storage();
    let src = env.dir.path().join("src");
    let written = build_tree(&src, 2000, 11);
    assert!(written.values().filter(|n| **n != Node::Dir).count() == 2000);

    let options = TransferOptions::new();
    storage
        .upload_dir(&src, "storage:tree", &options)
        .await
        .unwrap();
    let back = env.dir.path().join("back");
    storage
        .download_dir("storage:tree", &back, &options)
        .await
        .unwrap();
    let read = read_tree(&back);
    assert_eq!(read.len(), written.len());
    for (path, node) in &written {
        assert!(read.get(path) == Some(node), "{path} differs");
    }
}

/// Checks the documented order: `enter` before anything inside, `leave` after
/// all of it; per file `start`, increasing `step`s ending at the size, then
/// `complete`.
fn check_order(events: &[ProgressEvent]) -> (usize, u64) {
    let mut open_dirs: Vec<String> = Vec::new();
    let mut files: BTreeMap<String, (u64, Option<u64>, bool)> = BTreeMap::new();
    let (mut completed, mut bytes) = (0, 0);
    for event in events {
        match event {
            ProgressEvent::Enter(e) => open_dirs.push(e.src.to_string()),
            ProgressEvent::Leave(e) => {
                let src = e.src.to_string();
                let pos = open_dirs
                    .iter()
                    .position(|d| *d == src)
                    .expect("leave without enter");
                open_dirs.remove(pos);
                assert!(
                    !open_dirs.iter().any(|d| d.starts_with(&format!("{src}/"))),
                    "{src} left before its subdirectories"
                );
                assert!(
                    !files
                        .iter()
                        .any(|(f, (_, _, done))| !done && f.starts_with(&format!("{src}/"))),
                    "{src} left before its files completed"
                );
            }
            ProgressEvent::Start(e) => {
                let src = e.src.to_string();
                let dir = &src[..src.rfind('/').unwrap()];
                assert!(
                    open_dirs.is_empty() || open_dirs.iter().any(|d| d == dir),
                    "{src} started outside an entered directory"
                );
                assert!(files.insert(src, (e.size, None, false)).is_none());
            }
            ProgressEvent::Step(e) => {
                let state = files.get_mut(e.src.as_str()).expect("step before start");
                assert!(!state.2, "step after complete");
                assert!(
                    state.1.is_none_or(|last| e.current > last),
                    "steps go forward"
                );
                assert!(e.current <= e.size && e.size == state.0);
                state.1 = Some(e.current);
            }
            ProgressEvent::Complete(e) => {
                let state = files
                    .get_mut(e.src.as_str())
                    .expect("complete before start");
                assert_eq!(state.1.unwrap_or(0), e.size, "last step is the size");
                state.2 = true;
                completed += 1;
                bytes += e.size;
            }
            ProgressEvent::Fail(_) => {}
        }
    }
    assert!(
        open_dirs.is_empty(),
        "directories never left: {open_dirs:?}"
    );
    (completed, bytes)
}

#[tokio::test]
async fn progress_events_come_in_order_with_byte_counts() {
    let env = Env::start().await;
    let storage = env.client.storage();
    let src = env.dir.path().join("src");
    let written = build_tree(&src, 120, 5);
    let total: u64 = written
        .values()
        .map(|n| match n {
            Node::File(b) => b.len() as u64,
            Node::Dir => 0,
        })
        .sum();
    let files = written.values().filter(|n| **n != Node::Dir).count();
    let recorder = Arc::new(Recorder::default());
    // Small requests so that big files have several steps.
    let options = TransferOptions::new()
        .progress(recorder.clone())
        .chunk_size(64 << 10)
        .concurrency(4);
    storage
        .upload_dir(&src, "storage:p", &options)
        .await
        .unwrap();
    let events = recorder.take();
    assert!(matches!(events.first(), Some(ProgressEvent::Enter(_))));
    assert!(matches!(events.last(), Some(ProgressEvent::Leave(_))));
    assert_eq!(check_order(&events), (files, total));
    let dirs = written.values().filter(|n| **n == Node::Dir).count() + 1;
    let enters = events
        .iter()
        .filter(|e| matches!(e, ProgressEvent::Enter(_)))
        .count();
    assert_eq!(enters, dirs);
    // An empty file: start and complete only; a big one: several steps.
    let steps_of = |needle: &str| {
        events
            .iter()
            .filter(|e| matches!(e, ProgressEvent::Step(s) if s.dst.as_str().ends_with(needle)))
            .count()
    };
    assert_eq!(steps_of("/plain%200.bin"), 0);
    assert!(steps_of("/with%20space%201.bin") >= 2);

    let back = env.dir.path().join("back");
    storage
        .download_dir("storage:p", &back, &options)
        .await
        .unwrap();
    let events = recorder.take();
    assert_eq!(check_order(&events), (files, total));
    assert!(matches!(&events[0], ProgressEvent::Enter(e) if e.src.as_str().ends_with("/p")));

    // A single file through a file progress.
    let one = src.join("plain 0.bin");
    std::fs::write(&one, content(200_000, 3)).unwrap();
    storage
        .upload_file(&one, "storage:one.bin", &options)
        .await
        .unwrap();
    let events = recorder.take();
    let currents: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Step(s) => Some(s.current),
            _ => None,
        })
        .collect();
    assert_eq!(currents, [65536, 131072, 196608, 200000]);
    assert!(matches!(events.first(), Some(ProgressEvent::Start(s)) if s.size == 200_000));
    assert!(matches!(events.last(), Some(ProgressEvent::Complete(_))));

    // rm reports every removed entry, children before their directory.
    storage
        .rm_with_progress("storage:p", true, recorder.as_ref())
        .await
        .unwrap();
    let deleted = std::mem::take(&mut *recorder.deleted.lock().unwrap());
    assert_eq!(deleted.len(), written.len() + 1);
    let last = deleted.last().unwrap();
    assert!(last.is_dir && last.uri.as_str().ends_with("/p"));
}

#[tokio::test]
async fn update_skips_newer_destinations() {
    let env = Env::start().await;
    let storage = env.client.storage();
    let dir = env.dir.path().join("u");
    std::fs::create_dir_all(&dir).unwrap();
    let (old, new) = (dir.join("old"), dir.join("new"));
    std::fs::write(&old, b"local old").unwrap();
    std::fs::write(&new, b"local new").unwrap();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    set_mtime(&old, hour_ago);
    storage.mkdir("storage:u", false, false).await.unwrap();
    put(storage, "storage:u/old", b"remote").await;
    put(storage, "storage:u/new", b"remote").await;
    set_mtime(&new, SystemTime::now() + Duration::from_secs(3600));

    let update = TransferOptions::new().update(true);
    storage
        .upload_dir(&dir, "storage:u", &update)
        .await
        .unwrap();
    // The remote copy of `old` is newer: kept. `new` is newer locally: sent.
    assert_eq!(read_remote(storage, "storage:u/old").await, b"remote");
    assert_eq!(read_remote(storage, "storage:u/new").await, b"local new");

    // Single files follow the same rule.
    storage
        .upload_file(&old, "storage:u/old", &update)
        .await
        .unwrap();
    assert_eq!(read_remote(storage, "storage:u/old").await, b"remote");

    // Downloads: a local file newer than the remote one is kept.
    let local = env.dir.path().join("down");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("old"), b"mine").unwrap();
    set_mtime(
        &local.join("old"),
        SystemTime::now() + Duration::from_secs(3600),
    );
    std::fs::write(local.join("new"), b"stale").unwrap();
    set_mtime(&local.join("new"), hour_ago);
    storage
        .download_dir("storage:u", &local, &update)
        .await
        .unwrap();
    assert_eq!(std::fs::read(local.join("old")).unwrap(), b"mine");
    assert_eq!(std::fs::read(local.join("new")).unwrap(), b"local new");
    storage
        .download_file("storage:u/old", &local.join("old"), &update)
        .await
        .unwrap();
    assert_eq!(std::fs::read(local.join("old")).unwrap(), b"mine");
    // Without update, everything is transferred.
    storage
        .download_file("storage:u/old", &local.join("old"), &TransferOptions::new())
        .await
        .unwrap();
    assert_eq!(std::fs::read(local.join("old")).unwrap(), b"remote");
}

#[tokio::test]
async fn continue_resumes_partial_destinations() {
    let env = Env::start().await;
    let storage = env.client.storage();
    let dir = env.dir.path().join("c");
    std::fs::create_dir_all(&dir).unwrap();
    let data = content(300_000, 9);
    let (part, done, longer) = (dir.join("part"), dir.join("done"), dir.join("longer"));
    for p in [&part, &done, &longer] {
        std::fs::write(p, &data).unwrap();
        set_mtime(p, SystemTime::now() - Duration::from_secs(3600));
    }
    storage.mkdir("storage:c", false, false).await.unwrap();
    // The remote copies are newer: a partial one with a marker prefix (to see
    // that it is kept, not rewritten), a complete one, a longer one.
    let mut partial = b"MARK".to_vec();
    partial.extend_from_slice(&data[4..100_000]);
    put(storage, "storage:c/part", &partial).await;
    put(storage, "storage:c/done", b"complete?").await;
    put(storage, "storage:c/longer", &content(400_000, 1)).await;
    // Same size as the local file, different bytes: counts as complete.
    put(storage, "storage:c/done", &content(300_000, 2)).await;

    let recorder = Arc::new(Recorder::default());
    let options = TransferOptions::new()
        .continue_(true)
        .progress(recorder.clone());
    storage
        .upload_dir(&dir, "storage:c", &options)
        .await
        .unwrap();
    let mut expected = b"MARK".to_vec();
    expected.extend_from_slice(&data[4..]);
    assert!(read_remote(storage, "storage:c/part").await == expected);
    assert!(read_remote(storage, "storage:c/done").await == content(300_000, 2));
    assert!(read_remote(storage, "storage:c/longer").await == data);
    let starts: BTreeSet<String> = recorder
        .take()
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Start(s) => Some(s.dst.path().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 2, "{starts:?}");

    // Downloads: the local partial copy is newer and shorter.
    let local = env.dir.path().join("cdown");
    std::fs::create_dir_all(&local).unwrap();
    let remote = content(250_000, 4);
    put(storage, "storage:c/part", &remote).await;
    let mut mine = b"LOCAL".to_vec();
    mine.extend_from_slice(&remote[5..120_000]);
    std::fs::write(local.join("part"), &mine).unwrap();
    set_mtime(
        &local.join("part"),
        SystemTime::now() + Duration::from_secs(3600),
    );
    storage
        .download_file("storage:c/part", &local.join("part"), &options)
        .await
        .unwrap();
    let mut expected = b"LOCAL".to_vec();
    expected.extend_from_slice(&remote[5..]);
    assert!(std::fs::read(local.join("part")).unwrap() == expected);
    let steps: Vec<u64> = recorder
        .take()
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Step(s) => Some(s.current),
            _ => None,
        })
        .collect();
    assert!(steps.first().is_some_and(|s| *s > 120_000) && steps.last() == Some(&250_000));
}

/// A partial local file with a hole below its size (left by a tool that
/// writes out of order and was interrupted): `continue_` resumes from the
/// hole, not from the size, so no zeros stay behind.
#[tokio::test]
async fn continue_resumes_from_a_hole_below_the_size() {
    use std::os::unix::fs::FileExt as _;

    let env = Env::start().await;
    let storage = env.client.storage();
    const MIB: usize = 1 << 20;
    let remote = content(3 * MIB, 5);
    put(storage, "storage:holey", &remote).await;
    let local = env.dir.path().join("holey");
    let file = std::fs::File::create(&local).unwrap();
    file.write_all_at(&remote[..MIB], 0).unwrap();
    file.write_all_at(&remote[2 * MIB..5 * MIB / 2], 2 * MIB as u64)
        .unwrap();
    drop(file);
    set_mtime(&local, SystemTime::now() + Duration::from_secs(3600));

    let recorder = Arc::new(Recorder::default());
    let options = TransferOptions::new()
        .continue_(true)
        .progress(recorder.clone());
    storage
        .download_file("storage:holey", &local, &options)
        .await
        .unwrap();
    assert!(std::fs::read(&local).unwrap() == remote);
    let first_step = recorder.take().iter().find_map(|e| match e {
        ProgressEvent::Step(s) => Some(s.current),
        _ => None,
    });
    // Resumed at the hole (1 MiB), not from the start.
    assert!(first_step.is_some_and(|s| s > MIB as u64), "{first_step:?}");
}

#[tokio::test]
async fn filters_and_ignore_files() {
    let env = Env::start().await;
    let storage = env.client.storage();
    let project = env.dir.path().join("project");
    let root = project.join("data");
    let files = [
        "a.txt",
        "a.log",
        "keep.log",
        "build/out.bin",
        "sub/b.log",
        "sub/c.txt",
        "sub/deeper/d.log",
        "sub/deeper/tmp",
        "skipme/x",
        "secret/key",
        "notes/build",
    ];
    for f in files {
        let path = root.join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, f.as_bytes()).unwrap();
    }
    // Root rules: no logs except keep.log, no `build` directories.
    std::fs::write(
        root.join(".neuroignore"),
        "# logs\n*.log\n!keep.log\nbuild/\n",
    )
    .unwrap();
    // A nested file re-includes logs below `sub`, and drops `tmp` there.
    std::fs::write(root.join("sub/.neuroignore"), "!*.log\ntmp\n").unwrap();
    // An ignore file above the upload root applies with the path from there.
    std::fs::write(project.join(".neuroignore"), "data/skipme/\n").unwrap();

    let options = TransferOptions::new()
        .ignore_file_names([".neuroignore"])
        .filter(|path: String| async move { path != "secret/" });
    storage
        .upload_dir(&root, "storage:data", &options)
        .await
        .unwrap();
    let got = remote_tree(storage, "storage:data").await;
    let expected: BTreeSet<String> = [
        ".neuroignore",
        "a.txt",
        "keep.log",
        "sub/",
        "sub/.neuroignore",
        "sub/b.log",
        "sub/c.txt",
        "sub/deeper/",
        "sub/deeper/d.log",
        "notes/",
        "notes/build",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(got, expected);

    // Downloads filter too (ignore files are for uploads only).
    let back = env.dir.path().join("back");
    let options = TransferOptions::new().filter(|path: String| async move {
        !path.starts_with("sub/") || path == "sub/" || path == "sub/c.txt"
    });
    storage
        .download_dir("storage:data", &back, &options)
        .await
        .unwrap();
    let tree: BTreeSet<String> = read_tree(&back).into_keys().collect();
    assert!(tree.contains("sub/c.txt") && tree.contains("keep.log"));
    assert!(!tree.contains("sub/b.log") && !tree.contains("sub/deeper"));
}

#[tokio::test]
async fn special_entries_fail_without_stopping_the_tree() {
    let env = Env::start().await;
    let storage = env.client.storage();
    let root = env.dir.path().join("special");
    std::fs::create_dir_all(root.join("loop")).unwrap();
    std::fs::write(root.join("ok"), b"ok").unwrap();
    std::os::unix::fs::symlink("missing", root.join("dangling")).unwrap();
    std::os::unix::fs::symlink("ok", root.join("link")).unwrap();
    std::os::unix::fs::symlink("..", root.join("loop/up")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();

    let recorder = Arc::new(Recorder::default());
    let options = TransferOptions::new().progress(recorder.clone());
    storage
        .upload_dir(&root, "storage:special", &options)
        .await
        .unwrap();
    let fails: BTreeSet<String> = recorder
        .take()
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Fail(f) => Some(f.src.path().rsplit('/').next().unwrap().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(
        fails,
        ["dangling", "sock", "up"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    );
    // Symlinks to files are followed, as in the SDK.
    assert_eq!(read_remote(storage, "storage:special/link").await, b"ok");
    assert_eq!(read_remote(storage, "storage:special/ok").await, b"ok");

    // A local entry that cannot be written: a fail event and a clear error at
    // the end, with everything else downloaded.
    let back = env.dir.path().join("back");
    std::fs::create_dir_all(back.join("ok")).unwrap();
    let err = storage
        .download_dir("storage:special", &back, &options)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StorageError::Incomplete { failed } if failed.len() == 1 && failed[0].contains("ok")),
        "{err:?}"
    );
    assert_eq!(std::fs::read(back.join("link")).unwrap(), b"ok");
    assert!(recorder
        .take()
        .iter()
        .any(|e| matches!(e, ProgressEvent::Fail(f) if f.dst.path().ends_with("/ok"))));
}

#[tokio::test]
async fn upload_dir_over_a_file_is_not_a_directory() {
    let env = Env::start().await;
    let storage = env.client.storage();
    put(storage, "storage:file", b"x").await;
    let root = env.dir.path().join("d");
    std::fs::create_dir_all(&root).unwrap();
    let err = storage
        .upload_dir(&root, "storage:file", &TransferOptions::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.io_error_kind(),
        Some(std::io::ErrorKind::NotADirectory),
        "{err:?}"
    );
    let err = storage
        .upload_dir(&root.join("missing"), "storage:x", &TransferOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn glob_matches_like_python() {
    let env = Env::start().await;
    let storage = env.client.storage();
    for f in [
        "g/a.txt",
        "g/b.txt",
        "g/c.log",
        "g/.h.txt",
        "g/sub/d.txt",
        "g/sub/deep/e.txt",
        "g/.hid/f.txt",
    ] {
        let uri = format!("storage:{f}");
        let parent = &uri[..uri.rfind('/').unwrap()];
        storage.mkdir(parent, true, true).await.unwrap();
        put(storage, &uri, b"x").await;
    }
    let home = storage.normalize("storage:").unwrap().to_string();
    let home = home.as_str();
    let glob = |pattern: &'static str, dironly: bool| async move {
        let mut found: Vec<String> = storage
            .glob(pattern, dironly)
            .map_ok(|u| u.to_string()[home.len()..].to_owned())
            .try_collect()
            .await
            .unwrap();
        found.sort();
        found
    };
    assert_eq!(
        glob("storage:g/*.txt", false).await,
        ["/g/a.txt", "/g/b.txt"]
    );
    assert_eq!(glob("storage:g/.*.txt", false).await, ["/g/.h.txt"]);
    assert_eq!(
        glob("storage:g/[ab].*", false).await,
        ["/g/a.txt", "/g/b.txt"]
    );
    assert_eq!(glob("storage:g/*/*.txt", false).await, ["/g/sub/d.txt"]);
    assert_eq!(
        glob("storage:g/**", true).await,
        ["/g", "/g/sub", "/g/sub/deep"]
    );
    assert_eq!(
        glob("storage:g/**/*.txt", false).await,
        ["/g/a.txt", "/g/b.txt", "/g/sub/d.txt", "/g/sub/deep/e.txt"]
    );
    assert_eq!(glob("storage:g/[rs]ub/deep", false).await, ["/g/sub/deep"]);
    assert!(glob("storage:g/*.none", false).await.is_empty());
    // Without pattern characters: as is, existing or not.
    assert_eq!(glob("storage:nothing/here", false).await, ["/nothing/here"]);
}
