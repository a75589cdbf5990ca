"""Recursive storage transfers through the real CLI and SDK: cp -r both ways with
--update/--continue, .neuroignore, glob patterns, ls, mkdir -p, mv, rm -r, and the
Python API's glob/upload_dir/download_dir with progress."""

import os
import time
from pathlib import Path

from conftest import Cli, with_sdk


def _tree(root: Path) -> dict:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = None if path.is_dir() else path.read_bytes()
    return out


def _make_tree(root: Path) -> None:
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "empty dir").mkdir()
    (root / "a.txt").write_text("alpha\n")
    (root / "b.log").write_text("log\n")
    (root / "données 100%.bin").write_bytes(os.urandom(1_500_000))
    (root / "sub" / "c.txt").write_text("gamma\n")
    (root / "sub" / "deep" / "empty").write_bytes(b"")


def test_cli_cp_recursive_both_ways(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _make_tree(src)
    cli.run("mkdir", "-p", "storage:xfer/cp/nested")
    cli.run("cp", "-r", str(src), "storage:xfer/cp/nested/tree")
    listing = cli.run("ls", "storage:xfer/cp/nested/tree").stdout.split("\n")
    assert {"a.txt", "sub", "empty dir", "données 100%.bin"} <= set(listing)

    back = tmp_path / "back"
    cli.run("cp", "-r", "storage:xfer/cp/nested/tree", str(back))
    assert _tree(back) == _tree(src)

    # Glob patterns on the remote side.
    globbed = tmp_path / "globbed"
    globbed.mkdir()
    cli.run("cp", "storage:xfer/cp/nested/tree/*.txt", str(globbed))
    assert sorted(p.name for p in globbed.iterdir()) == ["a.txt"]
    cli.run("cp", "-r", "storage:xfer/cp/nested/tree/s*", str(globbed))
    assert (globbed / "sub" / "c.txt").read_text() == "gamma\n"

    cli.run("mv", "storage:xfer/cp/nested/tree/a.txt", "storage:xfer/cp/moved.txt")
    moved = tmp_path / "moved.txt"
    cli.run("cp", "storage:xfer/cp/moved.txt", str(moved))
    assert moved.read_text() == "alpha\n"

    cli.run("rm", "-r", "storage:xfer/cp")
    assert cli.run("ls", "storage:xfer/cp", check=False).returncode != 0


def test_cli_update_and_continue(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"A" * 1000)
    cli.run("cp", "-r", str(src), "storage:xfer/upd")

    # --update: the remote copy is newer, so it is kept.
    old = time.time() - 3600
    (src / "f").write_bytes(b"B" * 1000)
    os.utime(src / "f", (old, old))
    # -T: into storage:xfer/upd itself, not storage:xfer/upd/src.
    cli.run("cp", "-r", "-T", "--update", str(src), "storage:xfer/upd")
    got = tmp_path / "got"
    cli.run("cp", "storage:xfer/upd/f", str(got))
    assert got.read_bytes() == b"A" * 1000

    # --continue: a longer local file resumes after the remote bytes.
    (src / "f").write_bytes(b"C" * 2500)
    os.utime(src / "f", (old, old))
    cli.run("cp", "-r", "-T", "--continue", str(src), "storage:xfer/upd")
    cli.run("cp", "storage:xfer/upd/f", str(got))
    assert got.read_bytes() == b"A" * 1000 + b"C" * 1500

    # Downloads: a newer, shorter local copy is completed.
    local = tmp_path / "down"
    local.mkdir()
    (local / "f").write_bytes(b"A" * 1000)
    future = time.time() + 3600
    os.utime(local / "f", (future, future))
    cli.run("cp", "-r", "-T", "--continue", "storage:xfer/upd", str(local))
    target = local / "f"
    assert target.read_bytes() == b"A" * 1000 + b"C" * 1500
    target.write_bytes(b"Z" * 10)
    os.utime(target, (future, future))
    cli.run("cp", "-r", "-T", "--update", "storage:xfer/upd", str(local))
    assert target.read_bytes() == b"Z" * 10
    cli.run("rm", "-r", "storage:xfer/upd")


def test_cli_neuroignore(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "proj"
    _make_tree(src)
    (src / ".neuroignore").write_text("*.log\nsub/deep/\n")
    (src / "sub" / ".neuroignore").write_text("c.txt\n")
    cli.run("cp", "-r", str(src), "storage:xfer/ign")
    back = tmp_path / "back"
    cli.run("cp", "-r", "storage:xfer/ign", str(back))
    names = set(_tree(back))
    assert "a.txt" in names and "b.log" not in names
    assert "sub/deep" not in names and "sub/c.txt" not in names
    cli.run("rm", "-r", "storage:xfer/ign")


def test_sdk_glob_and_dir_transfers(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _make_tree(src)
    back = tmp_path / "back"

    async def body(client):
        from yarl import URL

        from neuro_sdk import AbstractRecursiveFileProgress

        events = []

        class Progress(AbstractRecursiveFileProgress):
            def start(self, data):
                events.append(("start", data.size))

            def step(self, data):
                events.append(("step", data.current))

            def complete(self, data):
                events.append(("complete", data.size))

            def enter(self, data):
                events.append(("enter", str(data.dst)))

            def leave(self, data):
                events.append(("leave", str(data.dst)))

            def fail(self, data):
                events.append(("fail", data.message))

        async def noslog(path: str) -> bool:
            return not path.endswith(".log")

        dst = URL("storage:xfer/sdk")
        await client.storage.upload_dir(
            URL(src.as_uri()), dst, filter=noslog, progress=Progress()
        )
        assert events[0][0] == "enter" and events[-1][0] == "leave"
        assert ("complete", 1_500_000) in events

        async with client.storage.glob(URL("storage:xfer/sdk/**/*.txt")) as it:
            found = sorted([str(u).rsplit("/sdk/", 1)[1] async for u in it])
        assert found == ["a.txt", "sub/c.txt"]
        async with client.storage.glob(URL("storage:xfer/sdk/**"), dironly=True) as it:
            dirs = sorted([str(u).rsplit("xfer/", 1)[1] async for u in it])
        assert dirs == ["sdk", "sdk/empty%20dir", "sdk/sub", "sdk/sub/deep"]

        await client.storage.download_dir(dst, URL(back.as_uri()))
        await client.storage.rm(dst, recursive=True)
        return True

    assert with_sdk(cli, body)
    expected = {k: v for k, v in _tree(src).items() if not k.endswith(".log")}
    assert _tree(back) == expected


def test_cli_ls_and_mkdir_parents(cli: Cli) -> None:
    cli.run("mkdir", "-p", "storage:xfer/mk/a/b/c")
    assert cli.run("ls", "storage:xfer/mk/a/b").stdout.split() == ["c"]
    # Without -p a missing parent is an error.
    assert cli.run("mkdir", "storage:xfer/mk/x/y", check=False).returncode != 0
    long = cli.run("ls", "-l", "storage:xfer/mk/a").stdout
    assert "b" in long and "d" in long.split()[0]
    cli.run("rm", "-r", "storage:xfer/mk")
