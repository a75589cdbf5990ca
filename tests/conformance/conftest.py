"""Fixtures for the conformance suite: a real neuro-local process and the real
Python client (neuro-sdk / neuro-cli 22.7.1) logged in to it.

Hygiene (see docs/conformance.md):

- one neuro-local per session (`platform`); tests isolate themselves by user
  (`make_cli` creates a fresh user with a private HOME and config dir);
- nothing leaves the machine: proxies are unset, the PyPI check and stats are
  off, and a connect guard (`offline/sitecustomize.py`, loaded in this process
  and in every `neuro` subprocess) refuses any non-loopback connection;
- every test has a time limit (`@pytest.mark.timeout_s(N)`, default
  `DEFAULT_TEST_TIMEOUT_S`), every subprocess too;
- neuro-local runs in its own process group, killed as a whole at the end
  (also on Ctrl-C); on a failure the part of its log written during the test
  is attached to the report.
"""

import asyncio
import atexit
import gzip
import hashlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "offline"))
import sitecustomize as _offline  # noqa: E402  (the connect guard)

NEURO_LOCAL_BIN = os.environ.get("NEURO_LOCAL_BIN", "")
NEURO_PROBE_BIN = os.environ.get("NEURO_PROBE_BIN", "")
VENV_BIN = Path(sys.executable).parent
DEFAULT_TEST_TIMEOUT_S = 180
CLI_TIMEOUT_S = 120
STARTUP_TIMEOUT_S = 30

_PROXY_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def _clean_env(home: Path, config_dir: Path) -> Dict[str, str]:
    """The environment of a client process: private HOME and config, offline."""
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}
    env.pop("NEURO_PASSED_CONFIG", None)
    env.update(
        HOME=str(home),
        NEURO_CLI_DISABLE_PYPI_VERSION_CHECK="1",
        NEUROMATION_CONFIG=str(config_dir),
        NO_PROXY="*",
        # `neuro config logout` opens the logout page: a no-op "browser".
        BROWSER="true",
        PYTHONPATH=os.pathsep.join(
            p for p in (str(HERE / "offline"), env.get("PYTHONPATH", "")) if p
        ),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Every LocalPlatform started in this session, for log excerpts and cleanup.
_PLATFORMS: List["LocalPlatform"] = []


class LocalPlatform:
    """A neuro-local server process on a private data dir, in its own process
    group (so jobs it spawned go down with it)."""

    def __init__(self, tmp: Path, extra_args: tuple = ()) -> None:
        self.data_dir = tmp / "data"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.url}/api/v1"
        self.log_path = tmp / "neuro-local.log"
        self.log = open(self.log_path, "wb")
        env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}
        env.setdefault("RUST_LOG", "info,neuro_local=debug")
        env["HOME"] = str(tmp)
        self.proc = subprocess.Popen(
            [
                NEURO_LOCAL_BIN,
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--listen",
                f"127.0.0.1:{self.port}",
                "--no-client-config",
                *extra_args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        _PLATFORMS.append(self)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(
                    f"neuro-local exited with {self.proc.returncode}:\n{self.log_text()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"neuro-local did not listen within {STARTUP_TIMEOUT_S} s:\n{self.log_text()}"
        )

    def token(self, user: str) -> str:
        """A new token for `user` (created if needed)."""
        out = subprocess.run(
            [NEURO_LOCAL_BIN, "token", "create", user, "--data-dir", str(self.data_dir)],
            check=True,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
        )
        return out.stdout.strip()

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_text(self, start: int = 0, limit: int = 20000) -> str:
        """The log from byte `start`, at most the last `limit` bytes of it."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                data = f.read()
        except OSError as e:
            return f"(cannot read {self.log_path}: {e})"
        if len(data) > limit:
            data = b"...\n" + data[-limit:]
        return data.decode("utf-8", "replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:
            # Whatever the server left behind in its group (job processes).
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait()
        if not self.log.closed:
            self.log.close()
        if self in _PLATFORMS:
            _PLATFORMS.remove(self)


@atexit.register
def _stop_leftover_platforms() -> None:
    for p in list(_PLATFORMS):
        p.stop()


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory):
    if not NEURO_LOCAL_BIN:
        pytest.fail("NEURO_LOCAL_BIN is not set; run tests/conformance/run.sh")
    p = LocalPlatform(tmp_path_factory.mktemp("platform"))
    yield p
    p.stop()


class Cli:
    """The real `neuro` CLI, logged in as one user with a private HOME and
    config dir."""

    def __init__(self, platform: LocalPlatform, user: str, home: Path) -> None:
        self.platform = platform
        self.user = user
        self.home = home
        self.config_dir = home / "neuro-config"
        self.env = _clean_env(home, self.config_dir)
        self.run("config", "login-with-token", platform.token(user), platform.api_url)

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = CLI_TIMEOUT_S,
        input: Optional[str] = None,
    ) -> subprocess.CompletedProcess:
        """Runs `neuro ARGS...`; with `check`, a non-zero exit fails the test
        with the command's output."""
        cmd = [
            str(VENV_BIN / "neuro"),
            "--skip-stats",
            "--disable-pypi-version-check",
            "--neuromation-config",
            str(self.config_dir),
            *args,
        ]
        try:
            res = subprocess.run(
                cmd,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as e:
            raise AssertionError(
                f"neuro {' '.join(args)} did not finish in {timeout} s:\n"
                f"stdout:\n{e.stdout}\nstderr:\n{e.stderr}"
            ) from None
        if check and res.returncode != 0:
            raise AssertionError(
                f"neuro {' '.join(args)} failed ({res.returncode}):\n"
                f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}"
            )
        return res

    def token(self) -> str:
        """The token this CLI is logged in with."""
        return with_sdk(self, lambda client: client.config.token())


@pytest.fixture(scope="session")
def cli(platform: LocalPlatform, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The CLI logged in as `alice`, shared by the whole session."""
    return Cli(platform, "alice", tmp_path_factory.mktemp("alice-home"))


_user_counter = 0


def _user_name(hint: str) -> str:
    global _user_counter
    _user_counter += 1
    base = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-")[:40].strip("-")
    return f"{base or 'user'}-{_user_counter}"


@pytest.fixture
def make_cli(
    platform: LocalPlatform, tmp_path_factory: pytest.TempPathFactory, request
) -> Callable[..., Cli]:
    """A factory of CLIs, each a fresh user (named after the test unless given)
    with a private HOME and config dir: `make_cli()`, `make_cli("bob")`."""

    def make(hint: Optional[str] = None) -> Cli:
        name = _user_name(hint or request.node.name.removeprefix("test_"))
        return Cli(platform, name, tmp_path_factory.mktemp(f"{name}-home"))

    return make


def with_sdk(cli: Cli, body):
    """Runs `await body(client)` with a real `neuro_sdk.Client` logged in as `cli`."""
    import neuro_sdk

    async def main():
        client = await neuro_sdk.get(path=cli.config_dir)
        try:
            result = body(client)
            if asyncio.iscoroutine(result):
                result = await result
            return result
        finally:
            await client.close()

    return asyncio.run(main())


async def aiterate(context_manager):
    """Iterates an SDK listing (`async with client.storage.list(...) as it`)."""
    async with context_manager as it:
        async for item in it:
            yield item


class Probe:
    """`neuro-conformance-probe`: what the Rust SDK reads, as JSON keyed by the
    Python SDK's attribute names (see tests/src/bin/neuro-conformance-probe)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def run(self, cli: Cli, *args: str) -> Any:
        cmd = [self.binary, "--config", str(cli.config_dir), *args]
        res = subprocess.run(
            cmd,
            env=cli.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        if res.returncode != 0:
            raise AssertionError(
                f"probe {' '.join(args)} failed ({res.returncode}):\n{res.stderr}"
            )
        return json.loads(res.stdout)


@pytest.fixture(scope="session")
def probe() -> Probe:
    if not NEURO_PROBE_BIN:
        pytest.fail("NEURO_PROBE_BIN is not set; run tests/conformance/run.sh")
    return Probe(NEURO_PROBE_BIN)


# --- time limits and failure reports -----------------------------------------


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        f"timeout_s(seconds): time limit of the test (default {DEFAULT_TEST_TIMEOUT_S})",
    )
    # This process is a client too: no proxies, no PyPI check (HOME: below).
    for var in _PROXY_VARS:
        os.environ.pop(var, None)
    os.environ["NO_PROXY"] = "*"
    os.environ["NEURO_CLI_DISABLE_PYPI_VERSION_CHECK"] = "1"
    os.environ.pop("NEURO_PASSED_CONFIG", None)


@pytest.fixture(scope="session", autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory):
    """Points this process's HOME and default config dir at a temp dir."""
    home = tmp_path_factory.mktemp("session-home")
    saved = {k: os.environ.get(k) for k in ("HOME", "NEUROMATION_CONFIG")}
    os.environ["HOME"] = str(home)
    os.environ["NEUROMATION_CONFIG"] = str(home / "no-such-config")
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


class TestTimeout(Exception):
    """A test ran past its time limit."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item.stash[_log_offsets] = {id(p): p.log_size() for p in _PLATFORMS}
    marker = item.get_closest_marker("timeout_s")
    limit = int(marker.args[0]) if marker else DEFAULT_TEST_TIMEOUT_S

    def on_alarm(signum, frame):
        raise TestTimeout(f"{item.nodeid} ran longer than {limit} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


_log_offsets = pytest.StashKey[Dict[int, int]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and not hasattr(report, "wasxfail"):
        offsets = item.stash.get(_log_offsets, {})
        for p in _PLATFORMS:
            text = p.log_text(offsets.get(id(p), 0))
            report.sections.append(
                (f"neuro-local log during {report.when} ({p.log_path})", text)
            )


_ = _offline  # imported for its side effect


MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def push_test_image(send, repo: str, tag: str, text: bytes) -> str:
    """Pushes a one-layer image (`/hello.txt` holding `text`) to `repo:tag`
    through the registry API: each blob at once (`POST ...?digest=`), then a
    Docker v2 manifest. `send(method, path, body, headers)` makes one
    authenticated request and returns its status. The manifest's digest."""
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
            "config": {"Cmd": ["cat", "/hello.txt"]},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()],
            },
        }
    ).encode()
    descriptors = []
    for blob, media_type in (
        (config, "application/vnd.docker.container.image.v1+json"),
        (layer, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
    ):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        status = send(
            "POST",
            f"/v2/{repo}/blobs/uploads/?digest={digest}",
            blob,
            {"Content-Type": "application/octet-stream"},
        )
        assert status == 201, status
        descriptors.append({"mediaType": media_type, "size": len(blob), "digest": digest})
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_V2,
            "config": descriptors[0],
            "layers": descriptors[1:],
        }
    ).encode()
    status = send("PUT", f"/v2/{repo}/manifests/{tag}", manifest, {"Content-Type": MANIFEST_V2})
    assert status == 201, status
    return "sha256:" + hashlib.sha256(manifest).hexdigest()
