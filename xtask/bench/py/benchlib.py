"""Shared helpers of the Python benchmark scenarios (run by `cargo xtask bench`).

Each scenario script prints one JSON line per measurement, the same line the
Rust `neuro-bench` prints, with "client": "python".
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Tuple

VENV_BIN = Path(sys.executable).parent


class BenchEnv:
    """The platform to talk to, from NEURO_BENCH_API_URL / NEURO_BENCH_TOKEN."""

    def __init__(self) -> None:
        try:
            self.api_url = os.environ["NEURO_BENCH_API_URL"]
            self.token = os.environ["NEURO_BENCH_TOKEN"]
        except KeyError as missing:
            sys.exit(f"{missing.args[0]} is not set")
        work = os.environ.get("NEURO_BENCH_WORK_DIR")
        self.work_dir = Path(work) if work else Path(tempfile.mkdtemp(prefix="neuro-bench-py-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)


def neuro_cli(config_dir: Path) -> Tuple[List[str], dict]:
    """argv prefix and environment for the real `neuro` CLI using `config_dir`."""
    env = dict(os.environ)
    env.update(
        NEURO_CLI_DISABLE_PYPI_VERSION_CHECK="1",
        NEUROMATION_CONFIG=str(config_dir),
    )
    env.pop("NEURO_PASSED_CONFIG", None)
    argv = [
        str(VENV_BIN / "neuro"),
        "--skip-stats",
        "--disable-pypi-version-check",
        "--neuromation-config",
        str(config_dir),
    ]
    return argv, env


def login(bench: BenchEnv, config_dir: Path) -> Tuple[List[str], dict]:
    """Logs the `neuro` CLI in with the benchmark token (untimed set-up)."""
    argv, env = neuro_cli(config_dir)
    shutil.rmtree(config_dir, ignore_errors=True)
    subprocess.run(
        argv + ["config", "login-with-token", bench.token, bench.api_url],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return argv, env


def peak_rss_kb() -> int:
    """VmHWM of this process in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def emit(scenario: str, seconds: float, *, bytes: int = 0, items: int = 0, peak_rss_kb: int) -> None:
    print(
        json.dumps(
            {
                "scenario": scenario,
                "client": "python",
                "seconds": seconds,
                "bytes": bytes,
                "items": items,
                "peak_rss_kb": peak_rss_kb,
            }
        ),
        flush=True,
    )
