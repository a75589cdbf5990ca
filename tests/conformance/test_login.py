"""Logins of the real Python client through neuro-local's OAuth endpoints
(browser and headless, PKCE), token refresh, login with a token, and switching
clusters and orgs with the CLI and the SDK."""

import asyncio
import re
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import neuro_sdk
import pytest
from yarl import URL

from conftest import Cli, LocalPlatform, Probe, _clean_env, with_sdk


@pytest.fixture(scope="module")
def oauth_platform(tmp_path_factory: pytest.TempPathFactory):
    p = LocalPlatform(
        tmp_path_factory.mktemp("oauth-platform"),
        extra_args=(
            "--org",
            "NO_ORG",
            "--org",
            "acme",
            "--extra-cluster",
            "second=beta,alpha",
            "--oauth-user",
            "erin",
        ),
    )
    yield p
    p.stop()


async def _browse(url: URL):
    """GETs `url` and follows the redirects, as a browser would."""
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            return resp.status, await resp.text(), resp.url


def _stored(path: Path):
    with sqlite3.connect(path / "db") as db:
        return db.execute(
            "SELECT token, expiration_time, refresh_token FROM main"
        ).fetchone()


def _as_client(home: Path, cfg: Path):
    """What the probe needs of a client: its config dir and environment."""
    return SimpleNamespace(config_dir=cfg, env=_clean_env(home, cfg))


def test_browser_login_and_refresh(
    oauth_platform: LocalPlatform, tmp_path: Path, probe: Probe
) -> None:
    cfg = tmp_path / "cfg"

    async def main():
        factory = neuro_sdk.Factory(cfg)
        landed = []

        async def show_browser(url: URL) -> None:
            assert url.query["code_challenge_method"] == "S256"
            status, body, final = await _browse(url)
            landed.append(final)
            assert (status, body) == (200, "OK")

        await factory.login(show_browser, url=URL(oauth_platform.api_url))
        assert landed[0].host == "127.0.0.1" and landed[0].port in (54540, 54541, 54542)
        token, expires, refresh = _stored(cfg)
        assert refresh

        # An expired token is refreshed with the refresh token and stored.
        with sqlite3.connect(cfg / "db") as db:
            db.execute("UPDATE main SET expiration_time = 1.0")
        client = await factory.get()
        try:
            assert client.config.username == "erin"
            fresh = await client.config.token()
            assert fresh != token
            assert _stored(cfg)[0] == fresh
            assert _stored(cfg)[2] == refresh
            await client.storage.mkdir(URL("storage:after-refresh"), parents=True)
        finally:
            await client.close()

    asyncio.run(main())
    # The Rust SDK reads the OAuth login the Python client stored.
    seen = probe.run(_as_client(tmp_path, cfg), "config")
    assert (seen["username"], seen["cluster_name"], seen["org_name"]) == (
        "erin",
        "default",
        None,
    )


def test_headless_login(oauth_platform: LocalPlatform, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"

    async def main():
        factory = neuro_sdk.Factory(cfg)

        async def get_code(url: URL) -> str:
            assert url.query["redirect_uri"].endswith("/oauth/show-code")
            status, body, _ = await _browse(url)
            assert status == 200
            return re.search(r'<code id="code">([^<]+)</code>', body).group(1)

        await factory.login_headless(get_code, url=URL(oauth_platform.api_url))
        client = await factory.get()
        try:
            assert client.config.username == "erin"
            assert client.config.cluster_name == "default"
            assert client.config.org_name is None
        finally:
            await client.close()

    asyncio.run(main())


def test_bad_authorize_requests_are_refused(oauth_platform: LocalPlatform) -> None:
    base = URL(oauth_platform.api_url).with_path("/oauth/authorize")

    async def main():
        common = {
            "response_type": "code",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
            "client_id": "neuro-local",
        }
        # An unregistered redirect gets no code.
        status, body, _ = await _browse(
            base.with_query({**common, "redirect_uri": "http://evil.example:54540"})
        )
        assert status == 400 and "code=" not in body
        # No PKCE: redirected back with an error, which the SDK's callback turns
        # into a failed login.
        async with aiohttp.ClientSession() as session:
            async with session.get(
                base.with_query(
                    {**common, "code_challenge_method": "plain",
                     "redirect_uri": "http://127.0.0.1:54540"}
                ),
                allow_redirects=False,
            ) as resp:
                assert resp.status == 302
                location = URL(resp.headers["Location"])
                assert location.query["error"] == "invalid_request"

    asyncio.run(main())


def test_switch_cluster_and_org(
    oauth_platform: LocalPlatform, tmp_path: Path, probe: Probe
) -> None:
    cli = Cli(oauth_platform, "frank", tmp_path)

    def selection():
        seen = probe.run(cli, "config")
        python = with_sdk(
            cli,
            lambda c: (c.config.cluster_name, c.config.org_name, sorted(c.config.clusters)),
        )
        assert python[:2] == (seen["cluster_name"], seen["org_name"])
        return python

    assert selection() == ("default", None, ["default", "second"])
    cli.run("config", "switch-cluster", "second")
    # Neither "no org" nor the old org exists on "second": the first by name.
    assert selection()[:2] == ("second", "alpha")
    cli.run("config", "switch-org", "beta")
    assert selection()[:2] == ("second", "beta")

    async def switch_back(client):
        await client.config.switch_cluster("default")
        await client.config.switch_org("acme")

    with_sdk(cli, switch_back)
    assert selection()[:2] == ("default", "acme")
