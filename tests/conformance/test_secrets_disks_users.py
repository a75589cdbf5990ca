"""Secrets, disks, sharing (acl) and service accounts through the real SDK and
CLI (neuro 22.7.1) against neuro-local, with a second user to share with."""

import json

import pytest

from conftest import Cli, with_sdk


@pytest.fixture(scope="module")
def bob(platform, tmp_path_factory) -> Cli:
    return Cli(platform, "bob", tmp_path_factory.mktemp("bob-home"))


def test_cli_secret_add_ls_rm(cli: Cli) -> None:
    cli.run("secret", "add", "conf-secret", "value-1")
    cli.run("secret", "add", "conf-secret", "value-2")
    out = cli.run("secret", "ls").stdout
    assert "conf-secret" in out
    assert "value-2" not in out
    full = cli.run("secret", "ls", "--full-uri").stdout
    assert "secret://default/alice/conf-secret" in full
    cli.run("secret", "rm", "conf-secret")
    assert "conf-secret" not in cli.run("secret", "ls").stdout
    res = cli.run("secret", "rm", "conf-secret", check=False)
    assert res.returncode != 0


def test_sdk_secrets(cli: Cli) -> None:
    async def body(client):
        await client.secrets.add("sdk-secret", b"\x00binary\xff")
        async with client.secrets.list() as it:
            secrets = [s async for s in it]
        mine = [s for s in secrets if s.key == "sdk-secret"]
        assert len(mine) == 1
        assert mine[0].owner == "alice"
        assert str(mine[0].uri) == "secret://default/alice/sdk-secret"
        await client.secrets.rm("sdk-secret")
        async with client.secrets.list() as it:
            assert "sdk-secret" not in [s.key async for s in it]
        return True

    assert with_sdk(cli, body)


def test_cli_disk_create_ls_get_rm(cli: Cli) -> None:
    out = cli.run(
        "disk", "create", "--name", "conf-disk", "--timeout-unused", "2h", "1M"
    ).stdout
    ids = [w for w in out.split() if w.startswith("disk-")]
    assert ids, out
    disk_id = ids[0]
    assert "Ready" in out
    assert "2h" in out
    assert disk_id in cli.run("disk", "ls").stdout
    got = cli.run("disk", "get", "conf-disk").stdout
    assert disk_id in got
    assert "Ready" in got
    cli.run("disk", "rm", "conf-disk")
    assert disk_id not in cli.run("disk", "ls").stdout


def test_sdk_disks(cli: Cli) -> None:
    async def body(client):
        from datetime import timedelta

        from neuro_sdk import Disk

        disk = await client.disks.create(
            storage=2 * 1024 * 1024, timeout_unused=timedelta(hours=1), name="sdk-disk"
        )
        assert disk.status == Disk.Status.READY
        assert disk.storage == 2 * 1024 * 1024
        assert disk.timeout_unused == timedelta(hours=1)
        assert disk.used_bytes == 0
        assert disk.last_usage is None
        assert str(disk.uri) == f"disk://default/alice/{disk.id}"
        same = await client.disks.get("sdk-disk")
        assert same.id == disk.id
        async with client.disks.list() as it:
            assert disk.id in [d.id async for d in it]
        await client.disks.rm(disk.id)
        async with client.disks.list() as it:
            assert disk.id not in [d.id async for d in it]
        return True

    assert with_sdk(cli, body)


def test_cli_acl_grant_revoke_ls(cli: Cli, bob: Cli) -> None:
    cli.run("mkdir", "-p", "storage:shared-dir")
    res = bob.run("ls", "storage://default/alice/shared-dir", check=False)
    assert res.returncode != 0
    cli.run("acl", "grant", "storage:shared-dir", "bob", "read")
    assert bob.run("ls", "storage://default/alice/shared-dir").returncode == 0
    shared = cli.run("acl", "ls", "--shared", "--full-uri").stdout
    assert "storage://default/alice/shared-dir" in shared
    assert "bob" in shared
    mine = bob.run("acl", "ls", "--full-uri").stdout
    assert "storage://default/alice/shared-dir" in mine
    assert "storage://default/bob" in mine
    res = bob.run("mkdir", "storage://default/alice/shared-dir/sub", check=False)
    assert res.returncode != 0
    cli.run("acl", "revoke", "storage:shared-dir", "bob")
    res = bob.run("ls", "storage://default/alice/shared-dir", check=False)
    assert res.returncode != 0


def test_sdk_users_share_roles(cli: Cli, bob: Cli) -> None:
    async def body(client):
        from yarl import URL

        from neuro_sdk import Action, Permission

        uri = URL("storage://default/alice/sdk-shared")
        perm = await client.users.share("bob", Permission(uri, Action.WRITE))
        assert perm == Permission(uri, Action.WRITE)
        shares = await client.users.get_shares("alice", scheme="storage")
        assert any(s.user == "bob" and s.permission == perm for s in shares)
        acl = await client.users.get_acl("alice", uri=URL("storage:"))
        assert all(p.uri.scheme == "storage" for p in acl)
        await client.users.revoke("bob", uri)
        await client.users.add("alice/conformance")
        await client.users.share("bob", Permission(URL("role://alice/conformance"), Action.READ))
        assert await client.users.get_subroles("alice") == []
        await client.users.remove("alice/conformance")
        return True

    assert with_sdk(cli, body)

    async def bob_body(client):
        return await client.users.get_subroles("bob")

    assert with_sdk(bob, bob_body) == []


def test_cli_service_account_create_ls_get_rm(cli: Cli, platform) -> None:
    token = cli.run("-q", "service-account", "create", "--name", "conf-sa").stdout.strip()
    assert token
    assert "conf-sa" in cli.run("service-account", "ls").stdout
    got = cli.run("service-account", "get", "conf-sa").stdout
    assert "alice/service-accounts/conf-sa" in got

    def whoami(tok: str) -> int:
        import urllib.error
        import urllib.request

        req = urllib.request.Request(
            f"{platform.api_url}/secrets", headers={"Authorization": f"Bearer {tok}"}
        )
        try:
            with urllib.request.urlopen(req) as resp:
                json.load(resp)
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code

    assert whoami(token) == 200
    cli.run("service-account", "rm", "conf-sa")
    assert whoami(token) == 401
    assert "conf-sa" not in cli.run("service-account", "ls").stdout


def test_sdk_service_accounts(cli: Cli) -> None:
    async def body(client):
        account, token = await client.service_accounts.create(name="sdk-sa")
        assert account.name == "sdk-sa"
        assert account.owner == "alice"
        assert account.default_cluster == "default"
        assert account.role == "alice/service-accounts/sdk-sa"
        assert token
        assert await client.service_accounts.get(account.id) == account
        async with client.service_accounts.list() as it:
            assert account in [a async for a in it]
        await client.service_accounts.rm("sdk-sa")
        async with client.service_accounts.list() as it:
            assert account not in [a async for a in it]
        return True

    assert with_sdk(cli, body)
