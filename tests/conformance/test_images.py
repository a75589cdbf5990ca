"""The Images section against neuro-local's registry with the real Python
client: `neuro image ls/tags` and the SDK's registry calls on an image pushed
here through the registry API."""

import base64
import gzip
import hashlib
import http.client
import io
import json
import tarfile
import urllib.parse
from typing import Dict, Tuple

from conftest import Cli, with_sdk

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def _registry(cli: Cli) -> Tuple[str, int]:
    """Host and port of the registry the CLI's config names."""
    url = with_sdk(cli, lambda client: str(client.config.registry_url))
    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port


def _request(
    cli: Cli, method: str, path: str, body: bytes = b"", headers: Dict[str, str] = {}
) -> http.client.HTTPResponse:
    host, port = _registry(cli)
    conn = http.client.HTTPConnection(host, port, timeout=60)
    cred = base64.b64encode(f"{cli.user}:{cli.token()}".encode()).decode()
    conn.request(method, path, body=body, headers={"Authorization": f"Basic {cred}", **headers})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def push_image(cli: Cli, name: str, tag: str, text: bytes) -> str:
    """Pushes a one-layer image holding `/hello.txt` to `<user>/<name>:<tag>`
    through the registry API; its manifest digest."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/hello.txt"]},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()],
            },
        }
    ).encode()
    repo = f"{cli.user}/{name}"
    descriptors = []
    for blob, media_type in (
        (config, "application/vnd.docker.container.image.v1+json"),
        (layer, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
    ):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        resp = _request(cli, "POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", blob)
        assert resp.status == 201, resp.status
        descriptors.append({"mediaType": media_type, "size": len(blob), "digest": digest})
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_V2,
            "config": descriptors[0],
            "layers": descriptors[1:],
        }
    ).encode()
    resp = _request(
        cli, "PUT", f"/v2/{repo}/manifests/{tag}", manifest, {"Content-Type": MANIFEST_V2}
    )
    assert resp.status == 201, resp.status
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def test_image_ls_and_tags(make_cli) -> None:
    cli = make_cli()
    digest = push_image(cli, "hello", "v1", b"one\n")
    push_image(cli, "hello", "v2", b"two\n")
    push_image(cli, "other", "latest", b"other\n")

    out = cli.run("image", "ls", "--full-uri").stdout.split()
    assert f"image://default/{cli.user}/hello" in out
    assert f"image://default/{cli.user}/other" in out
    out = cli.run("image", "ls").stdout.split()
    assert "image:hello" in out, out
    tags = cli.run("image", "tags", "image:hello").stdout.split()
    assert f"image://default/{cli.user}/hello" in tags, tags
    assert [t for t in tags if t.startswith("v")] == ["v1", "v2"], tags
    long = cli.run("image", "tags", "-l", "image:hello").stdout
    assert "v1" in long and "v2" in long

    # Another user sees none of it.
    bob = make_cli("bob")
    assert f"{cli.user}/hello" not in bob.run("image", "ls", "--full-uri").stdout
    assert bob.run("image", "tags", f"image:/{cli.user}/hello", check=False).returncode != 0

    async def sdk_calls(client):
        from neuro_sdk import TagOption

        image = client.parse.remote_image("image:hello:v1")
        repo = client.parse.remote_image("image:hello", tag_option=TagOption.DENY)
        listed = [str(i) for i in await client.images.list()]
        tags = [i.tag for i in await client.images.tags(repo)]
        got = await client.images.digest(image)
        size = await client.images.size(image)
        await client.images.rm(image, got)
        after = [i.tag for i in await client.images.tags(repo)]
        return listed, tags, got, size, after

    listed, tags, got, size, after = with_sdk(cli, sdk_calls)
    assert f"image://default/{cli.user}/hello" in listed
    assert tags == ["v1", "v2"]
    assert got == digest
    assert size > 0
    assert after == ["v2"]
