"""Fixtures for the conformance suite: a real neuro-local process and the real
Python client (neuro-sdk / neuro-cli 22.7.1) logged in to it."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

NEURO_LOCAL_BIN = os.environ.get("NEURO_LOCAL_BIN", "")
VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPlatform:
    """A neuro-local server process on a private data dir."""

    def __init__(self, tmp: Path) -> None:
        self.data_dir = tmp / "data"
        self.port = _free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api/v1"
        self.log = open(tmp / "neuro-local.log", "wb")
        self.proc = subprocess.Popen(
            [
                NEURO_LOCAL_BIN,
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--listen",
                f"127.0.0.1:{self.port}",
                "--no-client-config",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"neuro-local exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("neuro-local did not start listening in 30 s")

    def token(self, user: str) -> str:
        out = subprocess.run(
            [NEURO_LOCAL_BIN, "token", "create", user, "--data-dir", str(self.data_dir)],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory):
    if not NEURO_LOCAL_BIN:
        pytest.fail("NEURO_LOCAL_BIN is not set; run tests/conformance/run.sh")
    p = LocalPlatform(tmp_path_factory.mktemp("platform"))
    yield p
    p.stop()


class Cli:
    """The real `neuro` CLI, logged in as one user with a private config dir."""

    def __init__(self, platform: LocalPlatform, user: str, home: Path) -> None:
        self.user = user
        self.home = home
        self.config_dir = home / "neuro-config"
        self.env = dict(os.environ)
        self.env.update(
            HOME=str(home),
            NEURO_CLI_DISABLE_PYPI_VERSION_CHECK="1",
            NEUROMATION_CONFIG=str(self.config_dir),
        )
        self.env.pop("NEURO_PASSED_CONFIG", None)
        self.run("config", "login-with-token", platform.token(user), platform.api_url)

    def run(self, *args: str, check: bool = True, timeout: float = 120):
        cmd = [
            str(VENV_BIN / "neuro"),
            "--skip-stats",
            "--disable-pypi-version-check",
            "--neuromation-config",
            str(self.config_dir),
            *args,
        ]
        res = subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed ({res.returncode}):\n"
                f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}"
            )
        return res


@pytest.fixture(scope="session")
def cli(platform: LocalPlatform, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(platform, "alice", tmp_path_factory.mktemp("alice-home"))


def with_sdk(cli: Cli, body):
    """Runs `await body(client)` with a real `neuro_sdk.Client` logged in as `cli`."""
    import asyncio

    import neuro_sdk

    async def main():
        client = await neuro_sdk.get(path=cli.config_dir)
        try:
            return await body(client)
        finally:
            await client.close()

    return asyncio.run(main())
