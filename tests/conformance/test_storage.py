"""Storage through the real CLI and SDK: mkdir, cp both ways, ls, cat, mv, rm."""

import os
from pathlib import Path

from conftest import Cli, with_sdk


def test_cli_storage_round_trip(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("hello a\n")
    (src / "sub" / "b name %.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 7))

    cli.run("mkdir", "-p", "storage:conf/rt")
    cli.run("cp", "-r", str(src), "storage:conf/rt/tree")
    listing = cli.run("ls", "storage:conf/rt/tree").stdout.split()
    assert "a.txt" in listing and "sub" in listing
    single = tmp_path / "single.txt"
    cli.run("cp", "storage:conf/rt/tree/a.txt", str(single))
    assert single.read_text() == "hello a\n"

    cli.run("mv", "storage:conf/rt/tree/a.txt", "storage:conf/rt/tree/c.txt")
    dst = tmp_path / "back"
    cli.run("cp", "-r", "storage:conf/rt/tree", str(dst))
    assert (dst / "c.txt").read_text() == "hello a\n"
    assert (dst / "sub" / "b name %.bin").read_bytes() == (
        src / "sub" / "b name %.bin"
    ).read_bytes()

    cli.run("rm", "-r", "storage:conf/rt")
    res = cli.run("ls", "storage:conf/rt", check=False)
    assert res.returncode != 0


def test_sdk_stat_and_list(cli: Cli) -> None:
    async def body(client):
        from yarl import URL

        await client.storage.mkdir(URL("storage:conf/sdk"), parents=True, exist_ok=True)

        async def data():
            yield b"0123456789"

        await client.storage.create(URL("storage:conf/sdk/f.txt"), data())
        st = await client.storage.stat(URL("storage:conf/sdk/f.txt"))
        assert st.size == 10 and st.is_file()
        async with client.storage.list(URL("storage:conf/sdk")) as it:
            names = [s.name async for s in it]
        assert names == ["f.txt"]
        chunks = []
        async with client.storage.open(URL("storage:conf/sdk/f.txt"), 3, 4) as it:
            async for chunk in it:
                chunks.append(chunk)
        assert b"".join(chunks) == b"3456"
        await client.storage.rm(URL("storage:conf/sdk"), recursive=True)
        return True

    assert with_sdk(cli, body)
