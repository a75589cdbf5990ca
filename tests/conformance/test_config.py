"""Login and server configuration through the real client."""

from conftest import Cli, with_sdk


def test_config_show_lists_cluster_and_presets(cli: Cli) -> None:
    res = cli.run("config", "show")
    assert "alice" in res.stdout
    assert "default" in res.stdout
    assert "cpu-small" in res.stdout


def test_sdk_config_reads_login(cli: Cli) -> None:
    async def body(client):
        cfg = client.config
        assert cfg.username == "alice"
        assert cfg.cluster_name == "default"
        assert "cpu-small" in cfg.presets
        preset = cfg.presets["cpu-small"]
        assert preset.cpu > 0 and preset.memory > 0
        assert str(cfg.storage_url).endswith("/api/v1/storage")
        return True

    assert with_sdk(cli, body)
