"""Storage scenarios through the real CLI and SDK: ls (long, hidden, sorted,
globs), tree, glob, cp -r both ways, cp with globs, --update and --continue in
both directions, mv, rm, mkdir, df."""

import os
import time
from pathlib import Path

import pytest
from yarl import URL

from conftest import Cli, aiterate, with_sdk

DAY = 24 * 3600


def _tree(root: Path) -> None:
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "a.txt").write_text("a\n")
    (root / "b.log").write_text("bb\n")
    (root / ".hidden").write_text("h\n")
    (root / "sub" / "c.txt").write_text("ccc\n")
    (root / "sub" / "deep" / "d.txt").write_text("dddd\n")


def test_cli_ls_variants_tree_glob_df(make_cli, tmp_path: Path) -> None:
    cli = make_cli()
    _tree(tmp_path / "t")
    cli.run("cp", "-r", str(tmp_path / "t"), "storage:t")

    names = cli.run("ls", "storage:t").stdout.split()
    assert names == ["a.txt", "b.log", "sub"]
    assert ".hidden" in cli.run("ls", "-a", "storage:t").stdout.split()
    long = [line.rstrip() for line in cli.run("ls", "-l", "storage:t").stdout.splitlines()]
    assert any(line.startswith("-m") and line.endswith("a.txt") for line in long), long
    assert any(line.startswith("dm") and line.endswith("sub") for line in long), long
    by_size = cli.run("ls", "--sort", "size", "storage:t").stdout.split()
    assert by_size.index("a.txt") < by_size.index("b.log")
    # As on the real platform: `ls` takes no patterns (a literal `*` is not
    # found) and lists directories only (a file is ENOTDIR; `ls -d` stats it).
    res = cli.run("ls", "storage:t/*.txt", check=False)
    assert res.returncode != 0 and "not found" in res.stderr.lower(), res.stderr
    res = cli.run("ls", "storage:t/a.txt", check=False)
    assert res.returncode != 0 and "not a directory" in res.stderr.lower(), res.stderr
    assert cli.run("ls", "-d", "storage:t/a.txt").stdout.split() == ["a.txt"]

    tree = cli.run("storage", "tree", "storage:t").stdout
    for name in ("a.txt", "sub", "deep", "d.txt"):
        assert name in tree, tree

    user = cli.user
    matched = set(cli.run("storage", "glob", "storage:t/**/*.txt").stdout.split())
    assert matched == {
        f"storage://default/{user}/t/a.txt",
        f"storage://default/{user}/t/sub/c.txt",
        f"storage://default/{user}/t/sub/deep/d.txt",
    }

    df = cli.run("storage", "df").stdout
    assert "Total" in df and "Used" in df and "Free" in df, df


def test_cli_cp_mv_rm_with_globs(make_cli, tmp_path: Path) -> None:
    cli = make_cli()
    _tree(tmp_path / "t")
    cli.run("mkdir", "-p", "storage:g/in/nested")
    cli.run("cp", str(tmp_path / "t" / "*.txt"), str(tmp_path / "t" / "*.log"), "storage:g/in")
    assert _names(cli, "storage:g/in") == ["a.txt", "b.log", "nested"]

    cli.run("mkdir", "storage:g/out")
    cli.run("mv", "storage:g/in/*.txt", "-t", "storage:g/out")
    assert _names(cli, "storage:g/out") == ["a.txt"]

    down = tmp_path / "down"
    down.mkdir()
    cli.run("cp", "storage:g/*/*.*", str(down))
    assert sorted(p.name for p in down.iterdir()) == ["a.txt", "b.log"]

    cli.run("rm", "storage:g/in/*.log")
    assert _names(cli, "storage:g/in") == ["nested"]
    res = cli.run("rm", "storage:g/in", check=False)
    assert res.returncode != 0 and "directory" in res.stderr.lower(), res.stderr
    cli.run("rm", "-r", "storage:g")
    res = cli.run("ls", "storage:g", check=False)
    assert res.returncode != 0 and "not found" in res.stderr.lower(), res.stderr


def test_cli_cp_exclude_include(make_cli, tmp_path: Path) -> None:
    cli = make_cli()
    _tree(tmp_path / "t")
    cli.run(
        "cp", "-r", "--exclude", "*.txt", "--include", "c.txt",
        str(tmp_path / "t"), "storage:ex",
    )
    assert _names(cli, "storage:ex") == [".hidden", "b.log", "sub"]
    assert _names(cli, "storage:ex/sub") == ["c.txt", "deep"]
    assert _names(cli, "storage:ex/sub/deep") == []


def test_cli_cp_update_both_ways(make_cli, tmp_path: Path) -> None:
    cli = make_cli()
    local = tmp_path / "f.txt"
    local.write_text("first\n")
    cli.run("mkdir", "storage:u")
    cli.run("cp", str(local), "storage:u/f.txt")

    # A local file older than the remote one is not uploaded.
    local.write_text("older\n")
    past = time.time() - DAY
    os.utime(local, (past, past))
    cli.run("cp", "--update", str(local), "storage:u/f.txt")
    assert _cat(cli, "storage:u/f.txt", tmp_path) == "first\n"
    # A newer one is.
    future = time.time() + DAY
    local.write_text("newer\n")
    os.utime(local, (future, future))
    cli.run("cp", "-u", str(local), "storage:u/f.txt")
    assert _cat(cli, "storage:u/f.txt", tmp_path) == "newer\n"

    # Download: a newer local file stays, an older one is replaced.
    target = tmp_path / "dl.txt"
    target.write_text("local\n")
    os.utime(target, (future, future))
    cli.run("cp", "-u", "storage:u/f.txt", str(target))
    assert target.read_text() == "local\n"
    os.utime(target, (past, past))
    cli.run("cp", "-u", "storage:u/f.txt", str(target))
    assert target.read_text() == "newer\n"

    # Recursive update of a directory.
    tree = tmp_path / "tree"
    _tree(tree)
    cli.run("cp", "-r", "-u", str(tree), "storage:u/tree")
    assert _names(cli, "storage:u/tree/sub") == ["c.txt", "deep"]


def test_cli_cp_continue_both_ways(make_cli, tmp_path: Path) -> None:
    cli = make_cli()
    data = os.urandom(300 * 1024 + 11)
    full = tmp_path / "full.bin"
    full.write_bytes(data)
    part = tmp_path / "part.bin"
    part.write_bytes(data[: 100 * 1024])
    cli.run("mkdir", "storage:c")
    cli.run("cp", str(part), "storage:c/full.bin")

    # Upload resumes when the remote copy is a newer prefix of the local file.
    past = time.time() - DAY
    os.utime(full, (past, past))
    cli.run("cp", "--continue", str(full), "storage:c/full.bin")
    assert _read(cli, "storage:c/full.bin", tmp_path) == data

    # Download resumes from the size of a newer, partial local file.
    partial = tmp_path / "partial.bin"
    partial.write_bytes(data[: 123 * 1024])
    future = time.time() + DAY
    os.utime(partial, (future, future))
    cli.run("cp", "--continue", "storage:c/full.bin", str(partial))
    assert partial.read_bytes() == data


def test_sdk_storage_api(make_cli, tmp_path: Path) -> None:
    cli = make_cli()
    src = tmp_path / "src"
    _tree(src)

    async def body(client):
        from neuro_sdk import FileStatusType, IllegalArgumentError, ResourceNotFound

        st = client.storage
        await st.mkdir(URL("storage:sdk/a/b"), parents=True)
        await st.mkdir(URL("storage:sdk/a/b"), parents=True, exist_ok=True)
        try:
            await st.mkdir(URL("storage:sdk/x/y"))
            raise AssertionError("mkdir without parents succeeded")
        except (ResourceNotFound, FileNotFoundError):
            pass

        await st.upload_dir(URL(src.as_uri()), URL("storage:sdk/up"))
        globbed = sorted(
            [str(u) async for u in aiterate(st.glob(URL("storage:sdk/up/**/*.txt")))]
        )
        assert globbed == [
            f"storage:sdk/up/{p}" for p in ("a.txt", "sub/c.txt", "sub/deep/d.txt")
        ], globbed
        dirs = [str(u) async for u in aiterate(st.glob(URL("storage:sdk/up/*"), dironly=True))]
        assert dirs == ["storage:sdk/up/sub"], dirs

        stat = await st.stat(URL("storage:sdk/up/sub/c.txt"))
        assert stat.type == FileStatusType.FILE and stat.size == 4
        await st.mv(URL("storage:sdk/up/sub/c.txt"), URL("storage:sdk/up/c2.txt"))
        names = sorted([s.name async for s in aiterate(st.list(URL("storage:sdk/up")))])
        assert names == [".hidden", "a.txt", "b.log", "c2.txt", "sub"]

        down = tmp_path / "down"
        await st.download_dir(URL("storage:sdk/up"), URL(down.as_uri()))
        assert (down / "c2.txt").read_text() == "ccc\n"
        assert (down / "sub" / "deep" / "d.txt").read_text() == "dddd\n"

        # update / continue through the SDK
        f = tmp_path / "f.bin"
        f.write_bytes(b"0123456789" * 1000)
        await st.upload_file(URL(f.as_uri()), URL("storage:sdk/f.bin"))
        past = time.time() - DAY
        f.write_bytes(b"changed")
        os.utime(f, (past, past))
        await st.upload_file(URL(f.as_uri()), URL("storage:sdk/f.bin"), update=True)
        assert (await st.stat(URL("storage:sdk/f.bin"))).size == 10000

        usage = await st.disk_usage()
        assert usage.total >= usage.used >= 0 and usage.free >= 0

        try:
            await st.rm(URL("storage:sdk/up"))
            raise AssertionError("rm of a directory without recursive succeeded")
        except (IsADirectoryError, IllegalArgumentError, OSError):
            pass
        await st.rm(URL("storage:sdk"), recursive=True)
        try:
            await st.stat(URL("storage:sdk"))
            raise AssertionError("stat after rm succeeded")
        except ResourceNotFound:
            pass
        return True

    assert with_sdk(cli, body)


def _read(cli: Cli, uri: str, tmp: Path) -> bytes:
    """The remote file's bytes, read through the SDK (quicker than a CLI run)."""

    async def body(client):
        return b"".join([c async for c in aiterate(client.storage.open(URL(uri)))])

    return with_sdk(cli, body)


def _cat(cli: Cli, uri: str, tmp: Path) -> str:
    return _read(cli, uri, tmp).decode()


def _names(cli: Cli, uri: str) -> list:
    """Sorted entry names of a remote directory, listed through the SDK."""

    async def body(client):
        return sorted([s.name async for s in aiterate(client.storage.list(URL(uri)))])

    return with_sdk(cli, body)


def test_sdk_storage_errors_map_like_the_real_server(make_cli) -> None:
    """Error answers (wire-protocol-data: 400 with errno, 404 to hide other
    users' files) reach the Python SDK as the exceptions its callers expect."""
    cli = make_cli()
    stranger = make_cli("stranger")

    async def body(client):
        from neuro_sdk import ResourceNotFound

        st = client.storage

        async def data():
            yield b"x"

        await st.mkdir(URL("storage:err"), exist_ok=True)
        await st.create(URL("storage:err/file"), data())
        with pytest.raises(NotADirectoryError):
            [s async for s in aiterate(st.list(URL("storage:err/file")))]
        with pytest.raises(NotADirectoryError):
            await st.mkdir(URL("storage:err/file/sub"), parents=True)
        with pytest.raises(FileExistsError):
            await st.mkdir(URL("storage:err"))
        with pytest.raises(IsADirectoryError):
            await st.rm(URL("storage:err"))
        with pytest.raises(ResourceNotFound):
            await st.stat(URL("storage:err/missing"))
        with pytest.raises(ResourceNotFound):
            await st.mv(URL("storage:err/missing"), URL("storage:err/other"))
        with pytest.raises(ResourceNotFound):
            await st.rm(URL("storage:err/missing"))
        # Another user's tree is not found, not forbidden.
        with pytest.raises(ResourceNotFound):
            await st.stat(URL(f"storage://default/{stranger.user}"))
        with pytest.raises(ResourceNotFound):
            [s async for s in aiterate(st.list(URL(f"storage://default/{stranger.user}")))]
        return True

    assert with_sdk(cli, body)
