"""Buckets and blobs through the real CLI and SDK (neuro 22.7.1) against
neuro-local: the buckets API, and objects moved by aiobotocore straight to
neuro-local's S3 endpoint (s3s) with the temporary credentials it hands out."""

import os
from pathlib import Path

from conftest import Cli, with_sdk


def _tree(root: Path) -> dict:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = path.read_bytes()
    return out


def test_cli_bucket_lifecycle_and_blob_commands(make_cli, tmp_path: Path) -> None:
    cli: Cli = make_cli("blob-user")
    cli.run("blob", "mkbucket", "--name", "conf-bucket")
    assert "conf-bucket" in cli.run("blob", "lsbucket").stdout

    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha")
    (src / "sub" / "b.txt").write_bytes(b"beta" * 1000)
    (src / "sub" / "deeper" / "c.bin").write_bytes(os.urandom(3 << 20))
    single = tmp_path / "single.txt"
    single.write_bytes(b"just one file")

    # cp up: one file, and a directory recursively.
    cli.run("blob", "cp", str(single), "blob:conf-bucket/one/single.txt")
    cli.run("blob", "cp", "-r", str(src), "blob:conf-bucket/tree")

    top = cli.run("blob", "ls", "blob:conf-bucket/").stdout
    assert "one/" in top and "tree/" in top, top
    deep = cli.run("blob", "ls", "-r", "blob:conf-bucket/tree/").stdout
    for key in ("tree/a.txt", "tree/sub/b.txt", "tree/sub/deeper/c.bin"):
        assert key in deep, deep

    globbed = cli.run("blob", "glob", "blob:conf-bucket/tree/**/*.txt").stdout
    assert "tree/a.txt" in globbed and "tree/sub/b.txt" in globbed, globbed
    assert "c.bin" not in globbed, globbed

    # cp down: a file and the whole directory.
    back_file = tmp_path / "back.txt"
    cli.run("blob", "cp", "blob:conf-bucket/one/single.txt", str(back_file))
    assert back_file.read_bytes() == b"just one file"
    back = tmp_path / "back"
    cli.run("blob", "cp", "-r", "blob:conf-bucket/tree", str(back))
    assert _tree(back) == _tree(src)

    # rm: one object, then a folder recursively.
    cli.run("blob", "rm", "blob:conf-bucket/one/single.txt")
    assert "single.txt" not in cli.run("blob", "ls", "-r", "blob:conf-bucket/").stdout
    cli.run("blob", "rm", "-r", "blob:conf-bucket/tree")
    left = cli.run("blob", "ls", "-r", "blob:conf-bucket/").stdout
    assert "tree/" not in left, left

    cli.run("blob", "rmbucket", "conf-bucket")
    assert "conf-bucket" not in cli.run("blob", "lsbucket").stdout


def test_sdk_buckets_credentials_and_signed_url(make_cli) -> None:
    cli: Cli = make_cli("blob-sdk")

    async def body(client):
        import aiohttp

        bucket = await client.buckets.create(name="sdk-bucket")
        assert bucket.provider.value == "minio"
        async with client.buckets.list() as it:
            assert bucket.id in [b.id async for b in it]
        await client.buckets.put_blob(bucket.id, "k/hello.txt", b"hello")
        entry = await client.buckets.head_blob(bucket.id, "k/hello.txt")
        assert entry.size == 5
        chunks = []
        async with client.buckets.fetch_blob(bucket.id, "k/hello.txt", offset=1) as it:
            async for chunk in it:
                chunks.append(chunk)
        assert b"".join(chunks) == b"ello"

        creds = await client.buckets.request_tmp_credentials(bucket.id)
        for key in ("access_key_id", "secret_access_key", "session_token", "expiration"):
            assert key in creds.credentials

        usage = []
        async with client.buckets.get_disk_usage(bucket.id) as it:
            async for u in it:
                usage.append(u)
        assert usage[-1].object_count == 1 and usage[-1].total_bytes == 5

        url = await client.buckets.make_signed_url(bucket.uri / "k" / "hello.txt")
        async with aiohttp.ClientSession() as session:
            async with session.get(str(url)) as resp:
                assert resp.status == 200
                assert await resp.read() == b"hello"

        persistent = await client.buckets.persistent_credentials_create(
            [bucket.id], name="sdk-creds", read_only=True
        )
        assert persistent.read_only
        assert persistent.credentials[0].bucket_id == bucket.id
        await client.buckets.persistent_credentials_rm(persistent.id)
        await client.buckets.rm(bucket.id)
        return True

    assert with_sdk(cli, body)
