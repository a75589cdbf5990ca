"""The Images section against neuro-local's registry with the real Python
client: `neuro image ls/tags` and the SDK's registry calls on an image pushed
here through the registry API, and `neuro push/pull` through Podman's
Docker-compatible service (run privately, DOCKER_HOST pointing at it). Podman
4.3 refuses the client's tag requests (`repo=<name>:<tag>`), so the push starts
from an image already named after its target and the pull is a strict xfail."""

import base64
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Dict, Tuple

import pytest

from conftest import Cli, push_test_image, with_sdk

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
    """Pushes a one-layer image to `<user>/<name>:<tag>`; its digest."""

    def send(method, path, body, headers):
        return _request(cli, method, path, body, headers).status

    return push_test_image(send, f"{cli.user}/{name}", tag, text)


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


class Podman:
    """Podman's Docker-compatible service on a private socket and storage."""

    def __init__(self, tmp: Path, registry: str) -> None:
        exe = shutil.which("podman")
        if exe is None:
            pytest.fail("podman is needed (tests/setup.sh installs it)")
        conf = tmp / "registries.conf"
        conf.write_text(
            'unqualified-search-registries = []\n\n'
            '[[registry]]\nlocation = "localhost"\ninsecure = true\n\n'
            f'[[registry]]\nlocation = "{registry}"\ninsecure = true\n'
        )
        self.tmp = tmp
        self.socket = tmp / "podman.sock"
        self.log = tmp / "podman.log"
        env = dict(os.environ, CONTAINERS_REGISTRIES_CONF=str(conf), XDG_RUNTIME_DIR=str(tmp))
        self.env = env
        self.proc = subprocess.Popen(
            [
                exe,
                "--root", str(tmp / "root"),
                "--runroot", str(tmp / "run"),
                "--storage-driver", "vfs",
                "system", "service", "--time=0", f"unix://{self.socket}",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "wb"),
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(self.socket))
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    pytest.fail(f"podman system service did not start: {self.log.read_text()}")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _podman(podman: "Podman", *args: str) -> str:
    """Runs the podman CLI on the service's storage."""
    res = subprocess.run(
        [
            shutil.which("podman") or "podman",
            "--root", str(podman.tmp / "root"),
            "--runroot", str(podman.tmp / "run"),
            "--storage-driver", "vfs",
            *args,
        ],
        env=podman.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_push_through_podman(make_cli) -> None:
    cli = make_cli()
    push_image(cli, "hello", "v1", b"pushed\n")
    host, port = _registry(cli)
    registry = f"{host}:{port}"
    # Podman refuses a run root path longer than 50 characters.
    tmp = Path(tempfile.mkdtemp(prefix="neuro-podman-"))
    podman = Podman(tmp, registry)
    try:
        # The local image, put into Podman's storage by the podman CLI, is
        # already named after its target.
        source = f"{registry}/{cli.user}/hello:v1"
        target = f"{registry}/{cli.user}/pushed:v3"
        _podman(podman, "pull", "--tls-verify=false", "--creds", f"token:{cli.token()}", source)
        _podman(podman, "tag", source, target)
        cli.env["DOCKER_HOST"] = f"unix://{podman.socket}"
        res = cli.run("push", target, check=False, timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr + podman.log.read_text()[-3000:]
        tags = cli.run("image", "tags", "image:pushed").stdout.split()
        assert [t for t in tags if t.startswith("v")] == ["v3"], tags
    finally:
        podman.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="Podman 4.3 refuses the Python client's retag after the pull: "
    "`POST /images/<ref>/tag?repo=<name>:<tag>` (the tag inside `repo`, as "
    "aiodocker sends it and Docker accepts) gives `invalid reference format`; "
    "the image itself is pulled",
)
def test_pull_through_podman(make_cli) -> None:
    cli = make_cli()
    push_image(cli, "hello", "v1", b"pulled\n")
    host, port = _registry(cli)
    # Podman refuses a run root path longer than 50 characters.
    tmp = Path(tempfile.mkdtemp(prefix="neuro-podman-"))
    podman = Podman(tmp, f"{host}:{port}")
    try:
        cli.env["DOCKER_HOST"] = f"unix://{podman.socket}"
        res = cli.run("pull", "image:hello:v1", "hello-local:v1", check=False, timeout=300)
        # The transfer itself went through neuro-local's registry.
        log = podman.log.read_text()
        assert "Writing manifest to image destination" in log, log[-3000:]
        assert res.returncode == 0, res.stdout + res.stderr
    finally:
        podman.stop()
        shutil.rmtree(tmp, ignore_errors=True)
