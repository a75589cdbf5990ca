"""The Images section against neuro-local's registry with the real Python
client: `neuro image ls/tags` and the SDK's registry calls on an image pushed
here through the registry API, and `neuro pull/push` through Podman's
Docker-compatible service (run privately, DOCKER_HOST pointing at it). Podman
4.3 refuses one request form of the client (a tag inside `repo` when tagging),
which `DockerCompat` forwards the way Docker reads it."""

import base64
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Dict, List, Tuple

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
    """Podman's Docker-compatible service (Debian's Podman 4.3) as a private
    engine: storage, run root, temporary files, file locks, events and its
    configuration (`containers.conf`, `storage.conf`, `registries.conf`) all in
    `tmp`, so it neither reads nor changes the machine's Podman state."""

    def __init__(self, tmp: Path, registry: str) -> None:
        exe = shutil.which("podman")
        if exe is None:
            pytest.fail("podman is needed (tests/setup.sh installs it)")
        self.exe = exe
        (tmp / "registries.conf").write_text(
            "unqualified-search-registries = []\n\n"
            '[[registry]]\nlocation = "localhost"\ninsecure = true\n\n'
            f'[[registry]]\nlocation = "{registry}"\ninsecure = true\n'
        )
        (tmp / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp / "root"}"\nrunroot = "{tmp / "run"}"\n'
        )
        (tmp / "containers.conf").write_text(
            '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nlock_type = "file"\n'
            f'tmp_dir = "{tmp / "tmp"}"\nvolume_path = "{tmp / "volumes"}"\n\n'
            f'[network]\nnetwork_config_dir = "{tmp / "networks"}"\n'
        )
        self.tmp = tmp
        self.socket = tmp / "podman.sock"
        self.log = tmp / "podman.log"
        self.env = dict(
            os.environ,
            CONTAINERS_CONF=str(tmp / "containers.conf"),
            CONTAINERS_STORAGE_CONF=str(tmp / "storage.conf"),
            CONTAINERS_REGISTRIES_CONF=str(tmp / "registries.conf"),
            # Podman's compat push leaves a temporary file per push in TMPDIR.
            TMPDIR=str(tmp),
            XDG_RUNTIME_DIR=str(tmp),
        )
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [exe, "system", "service", "--time=0", f"unix://{self.socket}"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
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

    def images(self) -> List[str]:
        """`repository:tag` of every image in the service's storage."""
        res = subprocess.run(
            [self.exe, "images", "--format", "{{.Repository}}:{{.Tag}}"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 0, res.stderr
        return res.stdout.split()

    def stop(self) -> None:
        """Stops the service and waits for it, before its directory goes."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class DockerCompat:
    """A unix socket in front of Podman's service that passes everything
    through except one request form Podman 4.3 refuses and Docker accepts: a
    tag request with the tag inside `repo`
    (`POST /images/<name>/tag?repo=<repo>:<tag>`, as aiodocker sends it) is
    forwarded as `repo=<repo>&tag=<tag>`. Requests and answers are otherwise
    copied byte for byte."""

    def __init__(self, path: Path, upstream: Path) -> None:
        self.path = path
        self.upstream = upstream
        self.rewritten: List[str] = []
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX)
            up.connect(str(self.upstream))
            threading.Thread(target=self._requests, args=(conn, up), daemon=True).start()
            threading.Thread(target=self._answers, args=(up, conn), daemon=True).start()

    def _rewrite(self, line: bytes) -> bytes:
        method, target, version = line.decode("latin-1").split(" ", 2)
        path, _, query = target.partition("?")
        params = urllib.parse.parse_qsl(query, keep_blank_values=True)
        names = [k for k, _ in params]
        if method != "POST" or not path.endswith("/tag") or "tag" in names:
            return line
        repo = dict(params).get("repo", "")
        name, colon, tag = repo.rpartition(":")
        if not colon or "/" in tag:
            return line
        rest = [(k, v) for k, v in params if k != "repo"]
        query = urllib.parse.urlencode([("repo", name), ("tag", tag)] + rest)
        self.rewritten.append(f"{path}?{query}")
        return f"{method} {path}?{query} {version}".encode("latin-1")

    def _requests(self, conn: socket.socket, up: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while True:
                head = [reader.readline()]
                if not head[0]:
                    break
                while head[-1] not in (b"\r\n", b"\n", b""):
                    head.append(reader.readline())
                head[0] = self._rewrite(head[0])
                up.sendall(b"".join(head))
                fields = dict(
                    (k.strip().lower(), v.strip())
                    for k, _, v in (h.decode("latin-1").partition(":") for h in head[1:-1])
                )
                if "chunked" in fields.get("transfer-encoding", "").lower():
                    while True:
                        size_line = reader.readline()
                        size = int(size_line.split(b";")[0].strip() or b"0", 16)
                        up.sendall(size_line + reader.read(size + 2))
                        if size == 0:
                            break
                elif int(fields.get("content-length", "0") or 0):
                    up.sendall(reader.read(int(fields["content-length"])))
        except (OSError, ValueError):
            pass
        finally:
            try:
                up.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _answers(self, up: socket.socket, conn: socket.socket) -> None:
        try:
            while True:
                data = up.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()
            up.close()


def test_pull_and_push_through_podman(make_cli) -> None:
    cli = make_cli()
    push_image(cli, "hello", "v1", b"pulled\n")
    host, port = _registry(cli)
    registry = f"{host}:{port}"
    # Podman refuses a run root path longer than 50 characters: keep it short
    # whatever TMPDIR says.
    tmp = Path(tempfile.mkdtemp(prefix="neuro-podman-", dir="/tmp"))
    podman = Podman(tmp, registry)
    compat = DockerCompat(tmp / "docker.sock", podman.socket)
    try:
        cli.env["DOCKER_HOST"] = f"unix://{compat.path}"
        res = cli.run("pull", "image:hello:v1", "hello-local:v1", check=False, timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr + podman.log.read_text()[-3000:]
        held = podman.images()
        # The local name (normalised as Docker does); the client removed the
        # remote-named copy when it closed.
        assert "docker.io/library/hello-local:v1" in held, held
        assert f"{registry}/{cli.user}/hello:v1" not in held, held

        res = cli.run("push", "hello-local:v1", "image:pushed:v3", check=False, timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr + podman.log.read_text()[-3000:]
        tags = cli.run("image", "tags", "image:pushed").stdout.split()
        assert [t for t in tags if t.startswith("v")] == ["v3"], tags
        # The retag after the pull and the tag before the push.
        assert len(compat.rewritten) == 2, compat.rewritten

        async def sizes(client):
            pulled = client.parse.remote_image("image:hello:v1")
            pushed = client.parse.remote_image("image:pushed:v3")
            return await client.images.size(pulled), await client.images.size(pushed)

        pulled_size, pushed_size = with_sdk(cli, sizes)
        assert pulled_size == pushed_size > 0
    finally:
        podman.stop()
        compat.close()
        shutil.rmtree(tmp, ignore_errors=True)
