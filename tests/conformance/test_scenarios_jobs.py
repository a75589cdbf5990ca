"""Job scenarios through the real CLI and SDK: run (preset and explicit
container forms), status, ps / jobs.list with every filter, bump-life-span,
generate-run-command, kill, and isolation between users."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from yarl import URL

from conftest import HERE, VENV_BIN, Cli, aiterate, with_sdk


def _ids(res) -> list:
    return res.stdout.split()


async def _wait(client, job_id: str, done) -> object:
    for _ in range(600):
        job = await client.jobs.status(job_id)
        if done(job):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"{job_id} stuck in {job.status}")


def _wait_running(cli: Cli, job_id: str) -> None:
    from neuro_sdk import JobStatus

    with_sdk(cli, lambda c: _wait(c, job_id, lambda j: j.status != JobStatus.PENDING))


def test_cli_run_ps_filters_status_bump_kill(make_cli) -> None:
    cli = make_cli()
    other = make_cli()
    sleeper = cli.run(
        "-q", "run", "--detach", "--preset", "cpu-small",
        "--name", "cli-sleeper", "--tag", "t1", "--tag", "t2",
        "--description", "sleeps a while", "--life-span", "1h",
        "--env", "GREETING=hi there", "--workdir", "/tmp",
        "ubuntu", "--", "sleep 300",
    ).stdout.strip()
    # `run --detach` exits with the job's code when the job is already over.
    res = cli.run(
        "-q", "run", "--detach", "--preset", "cpu-small", "--tag", "t1",
        "ubuntu", "--", "sh -c 'exit 7'", check=False,
    )
    assert res.returncode in (0, 7), res.stderr
    failing = res.stdout.strip()
    assert sleeper.startswith("job-") and failing.startswith("job-")
    _wait_running(cli, sleeper)
    with_sdk(cli, lambda c: _wait(c, failing, lambda j: j.status.is_finished))

    # ps: the default shows active jobs only; each filter narrows the list.
    assert _ids(cli.run("-q", "ps")) == [sleeper]
    assert set(_ids(cli.run("-q", "ps", "-a"))) == {sleeper, failing}
    assert _ids(cli.run("-q", "ps", "-s", "failed")) == [failing]
    assert _ids(cli.run("-q", "ps", "-a", "-n", "cli-sleeper")) == [sleeper]
    assert _ids(cli.run("-q", "ps", "-a", "-t", "t1", "-t", "t2")) == [sleeper]
    assert set(_ids(cli.run("-q", "ps", "-a", "-o", "ME", "--since", "1h"))) == {
        sleeper,
        failing,
    }
    assert _ids(cli.run("-q", "ps", "-a", "--until", "1h")) == []
    assert _ids(cli.run("-q", "ps", "-a", "--cluster", "default", "--recent-first")) == [
        failing,
        sleeper,
    ]
    # Another user sees none of them.
    assert _ids(other.run("-q", "ps", "-a")) == []

    status = cli.run("status", "cli-sleeper").stdout
    for text in ("cli-sleeper", "t1, t2", "sleeps a while", "running", "1h", "cpu-small"):
        assert text in status, status
    failed = cli.run("status", failing).stdout
    assert "failed" in failed and "7" in failed, failed

    cli.run("job", "bump-life-span", "cli-sleeper", "30m")
    job = with_sdk(cli, lambda c: c.jobs.status(sleeper))
    assert job.life_span == 5400.0
    assert job.container.env == {"GREETING": "hi there"}
    assert job.container.working_dir == "/tmp"
    rerun = cli.run("job", "generate-run-command", "cli-sleeper").stdout
    assert "--life-span 1h30m" in rerun and "--name cli-sleeper" in rerun, rerun

    denied = other.run("kill", sleeper, check=False)
    assert denied.returncode != 0, denied.stdout
    cli.run("kill", "cli-sleeper")
    assert _ids(cli.run("-q", "ps", "-s", "cancelled")) == [sleeper]
    assert "cancelled" in cli.run("status", sleeper).stdout


def test_sdk_run_start_list_filters_kill(make_cli) -> None:
    cli = make_cli()
    before = datetime.now(timezone.utc) - timedelta(seconds=5)

    async def body(client):
        from neuro_sdk import (
            Container,
            JobRestartPolicy,
            JobStatus,
            RemoteImage,
            Resources,
        )

        image = RemoteImage.new_external_image(name="ubuntu", tag="latest")
        # The explicit-container form (POST jobs with a container body).
        ran = await client.jobs.run(
            Container(
                image=image,
                resources=Resources(memory=256 * 2**20, cpu=0.1),
                command="sh -c 'echo ran; exit 0'",
                env={"X": "1"},
            ),
            name="sdk-ran",
            tags=["sdk"],
            description="explicit container",
            restart_policy=JobRestartPolicy.NEVER,
        )
        # The preset form.
        started = await client.jobs.start(
            image=image,
            preset_name="cpu-small",
            command="sleep 300",
            tags=["sdk", "long"],
            life_span=600.0,
        )
        ran = await _wait(client, ran.id, lambda j: j.status.is_finished)
        assert ran.status == JobStatus.SUCCEEDED, ran.history
        assert ran.history.exit_code == 0
        assert ran.container.resources.memory == 256 * 2**20
        assert ran.container.resources.cpu == 0.1
        started = await _wait(
            client, started.id, lambda j: j.status == JobStatus.RUNNING
        )
        assert started.life_span == 600.0
        assert started.history.started_at is not None

        async def ids(**kw):
            return {j.id async for j in aiterate(client.jobs.list(**kw))}

        me = {client.config.username}
        both = {ran.id, started.id}
        assert await ids(owners=me) == both
        assert await ids(statuses={JobStatus.RUNNING}, owners=me) == {started.id}
        assert await ids(statuses={JobStatus.SUCCEEDED}, owners=me) == {ran.id}
        assert await ids(name="sdk-ran") == {ran.id}
        assert await ids(tags={"sdk"}) == both
        assert await ids(tags={"sdk", "long"}) == {started.id}
        assert await ids(since=before, owners=me) == both
        assert await ids(until=before, owners=me) == set()
        assert await ids(cluster_name="default", owners=me) == both
        listed = [j.id async for j in aiterate(client.jobs.list(owners=me, reverse=True, limit=1))]
        assert listed == [started.id]

        await client.jobs.bump_life_span(started.id, 120)
        assert (await client.jobs.status(started.id)).life_span == 720.0
        await client.jobs.kill(started.id)
        killed = await _wait(client, started.id, lambda j: j.status.is_finished)
        assert killed.status == JobStatus.CANCELLED
        assert [t.status for t in killed.history.transitions][-1] == JobStatus.CANCELLED
        return True

    assert with_sdk(cli, body)


def test_sdk_other_users_job_is_hidden(make_cli) -> None:
    owner = make_cli()
    stranger = make_cli()

    async def start(client):
        from neuro_sdk import RemoteImage

        job = await client.jobs.start(
            image=RemoteImage.new_external_image(name="ubuntu"),
            preset_name="cpu-small",
            command="true",
        )
        return job.id

    job_id = with_sdk(owner, start)

    async def peek(client):
        from neuro_sdk import AuthorizationError, ResourceNotFound

        with pytest.raises((AuthorizationError, ResourceNotFound)):
            await client.jobs.status(job_id)
        with pytest.raises((AuthorizationError, ResourceNotFound)):
            await client.jobs.kill(job_id)
        return True

    assert with_sdk(stranger, peek)


def test_pass_config_logs_the_cli_in_inside_the_job(make_cli, tmp_path) -> None:
    """A job started with pass_config gets NEURO_PASSED_CONFIG; the real CLI
    run inside the job logs in from it and talks to the platform as the job's
    owner (it makes a storage directory the test then finds)."""
    cli = make_cli()
    home = tmp_path / "job-home"
    home.mkdir()
    inner = " ".join(
        [
            f"HOME={home}",
            "NEURO_CLI_DISABLE_PYPI_VERSION_CHECK=1",
            f"PYTHONPATH={HERE / 'offline'}",
            f"{VENV_BIN / 'neuro'} --skip-stats --neuromation-config {home / 'cfg'}",
            "mkdir -p storage:made-by-job/inside",
        ]
    )

    async def body(client):
        from neuro_sdk import JobStatus, RemoteImage

        job = await client.jobs.start(
            image=RemoteImage.new_external_image(name="ubuntu"),
            preset_name="cpu-small",
            command=f"sh -c '{inner}'",
            pass_config=True,
        )
        assert job.pass_config
        job = await _wait(client, job.id, lambda j: j.status.is_finished)
        assert job.status == JobStatus.SUCCEEDED, job.history
        stat = await client.storage.stat(URL("storage:made-by-job/inside"))
        assert stat.is_dir()
        return True

    assert with_sdk(cli, body)
