"""Config and presets through the real CLI and SDK: config show / show-token /
get-clusters / switch-cluster / logout, login with NEURO_PASSED_CONFIG and
with the SDK's login_with_token, config.fetch / check_server / get_cluster."""

import base64
import json
import subprocess
import urllib.request
from decimal import Decimal
from pathlib import Path

import humanize
import pytest
from yarl import URL

from conftest import LocalPlatform, VENV_BIN, _clean_env

# neuro-local's built-in presets (sized from the machine, so only the names
# are fixed; crates/neuro-local/src/settings.rs).
PRESETS = ("cpu-small", "cpu-medium", "cpu-large")


def _server_presets(platform: LocalPlatform, token: str) -> dict:
    """name -> preset object of the raw `GET /config` answer."""
    request = urllib.request.Request(
        f"{platform.api_url}/config", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        config = json.load(resp)
    return {p["name"]: p for p in config["clusters"][0]["resource_presets"]}


def _preset_rows(text: str) -> dict:
    rows = {}
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[0] in PRESETS:
            rows[cells[0]] = cells
    return rows


def test_cli_config_show_and_clusters(make_cli, platform: LocalPlatform) -> None:
    cli = make_cli()
    show = cli.run("config", "show").stdout
    assert cli.user in show and "default" in show
    assert platform.api_url in show, show
    rows = _preset_rows(show)
    assert set(rows) == set(PRESETS), show
    for name, preset in _server_presets(platform, cli.token()).items():
        # The CLI prints str(cpu), humanize.naturalsize(memory), credits.
        cells = rows[name]
        assert float(cells[1]) == preset["cpu"], cells
        assert " ".join(cells[2:4]) == humanize.naturalsize(preset["memory"]), cells
        assert Decimal(cells[-1]) == Decimal(preset["credits_per_hour"]), cells

    clusters = cli.run("config", "get-clusters").stdout
    assert "* Name: default" in clusters and set(_preset_rows(clusters)) == set(PRESETS)
    cli.run("config", "switch-cluster", "default")
    bad = cli.run("config", "switch-cluster", "no-such-cluster", check=False)
    assert bad.returncode != 0

    token = cli.run("config", "show-token").stdout.strip()
    assert token == cli.token()
    cli.run("config", "aliases")

    cli.run("config", "logout")
    res = cli.run("config", "show", check=False)
    assert res.returncode != 0 and "login" in (res.stderr + res.stdout).lower()


def test_cli_login_with_passed_config(platform: LocalPlatform, tmp_path: Path) -> None:
    """`NEURO_PASSED_CONFIG` (what jobs get with pass_config) logs the CLI in."""
    token = platform.token("passed-config-user")
    passed = {"token": token, "cluster": "default", "url": platform.api_url}
    env = _clean_env(tmp_path, tmp_path / "cfg")
    env["NEURO_PASSED_CONFIG"] = base64.b64encode(json.dumps(passed).encode()).decode()
    res = subprocess.run(
        [
            str(VENV_BIN / "neuro"),
            "--skip-stats",
            "--disable-pypi-version-check",
            "--neuromation-config",
            str(tmp_path / "cfg"),
            "config",
            "show",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0, res.stderr
    assert "passed-config-user" in res.stdout


def test_cli_login_with_bad_token_fails(platform: LocalPlatform, tmp_path: Path) -> None:
    # A well-formed JWT the server did not issue: /config says authorized: false.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    payload = base64.urlsafe_b64encode(b'{"identity":"mallory"}').rstrip(b"=")
    forged = b".".join([header, payload, b"c2lnbmF0dXJl"]).decode()
    env = _clean_env(tmp_path, tmp_path / "cfg")
    res = subprocess.run(
        [
            str(VENV_BIN / "neuro"),
            "--skip-stats",
            "--disable-pypi-version-check",
            "--neuromation-config",
            str(tmp_path / "cfg"),
            "config",
            "login-with-token",
            forged,
            platform.api_url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode != 0, res.stdout


def test_sdk_login_fetch_and_presets(platform: LocalPlatform, tmp_path: Path) -> None:
    import asyncio

    import neuro_sdk

    token = platform.token("sdk-login-user")
    path = tmp_path / "cfg"

    async def main():
        await neuro_sdk.login_with_token(token, url=URL(platform.api_url), path=path)
        client = await neuro_sdk.get(path=path)
        try:
            cfg = client.config
            await cfg.check_server()
            await cfg.fetch()
            assert cfg.username == "sdk-login-user"
            assert cfg.cluster_name == "default"
            assert cfg.org_name is None
            assert list(cfg.clusters) == ["default"]
            cluster = cfg.get_cluster("default")
            assert cluster.presets == cfg.presets
            served = _server_presets(platform, token)
            assert list(cfg.presets) == list(served) == list(PRESETS)
            for name, raw in served.items():
                preset = cfg.presets[name]
                assert preset.cpu == raw["cpu"] and preset.memory == raw["memory"]
                assert preset.credits_per_hour == Decimal(raw["credits_per_hour"])
                assert not preset.scheduler_enabled and not preset.preemptible_node
            assert str(cfg.api_url) == platform.api_url
            assert str(cfg.storage_url) == f"{platform.api_url}/storage"
            assert str(cfg.monitoring_url) == f"{platform.api_url}/jobs"
            assert await cfg.token() == token
            await cfg.switch_cluster("default")
            with pytest.raises(RuntimeError):
                await cfg.switch_cluster("no-such-cluster")
        finally:
            await client.close()
        await neuro_sdk.logout(path=path)
        with pytest.raises(neuro_sdk.ConfigError):
            await neuro_sdk.get(path=path)

    asyncio.run(main())

