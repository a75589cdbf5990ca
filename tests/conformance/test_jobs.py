"""Jobs through the real SDK and CLI: start from a preset, status, list, kill."""

import asyncio

from conftest import Cli, with_sdk


def test_sdk_job_runs_to_completion(cli: Cli) -> None:
    async def body(client):
        from neuro_sdk import Container, JobStatus, RemoteImage, Resources

        job = await client.jobs.start(
            image=RemoteImage.new_external_image(name="ubuntu", tag="latest"),
            preset_name="cpu-small",
            command="sh -c 'echo hello from conformance; exit 3'",
            name="conformance-exit",
            tags=["conformance"],
        )
        for _ in range(200):
            job = await client.jobs.status(job.id)
            if job.status.is_finished:
                break
            await asyncio.sleep(0.1)
        assert job.status == JobStatus.FAILED
        assert job.history.exit_code == 3
        assert [t.status for t in job.history.transitions][:1] == [JobStatus.PENDING]
        assert list(job.tags) == ["conformance"]
        assert job.preset_name == "cpu-small"

        async with client.jobs.list(tags={"conformance"}) as it:
            ids = [j.id async for j in it]
        assert job.id in ids

        _ = (Container, Resources)
        return True

    assert with_sdk(cli, body)


def test_cli_run_status_kill(cli: Cli) -> None:
    out = cli.run(
        "run",
        "--detach",
        "--preset",
        "cpu-small",
        "--name",
        "conformance-sleep",
        "ubuntu",
        "--",
        "sleep 60",
    ).stdout
    assert "job-" in out
    ps = cli.run("ps").stdout
    assert "conformance-sleep" in ps
    cli.run("kill", "conformance-sleep")
    status = cli.run("status", "conformance-sleep").stdout
    assert "cancelled" in status.lower() or "cancel" in status.lower()
