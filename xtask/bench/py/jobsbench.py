"""Set-up shared by the jobs scenarios (untimed): an SDK client and jobs found
by name or started; the same jobs the Rust side uses."""

import asyncio
from typing import Callable

import benchlib

SETUP_TIMEOUT_S = 600


async def client(bench: benchlib.BenchEnv, name: str):
    import neuro_sdk

    config_dir = bench.work_dir / name
    benchlib.login(bench, config_dir)
    return await neuro_sdk.get(path=config_dir)


async def start(client, command: str, **kwargs):
    from neuro_sdk import RemoteImage

    return await client.jobs.start(
        image=RemoteImage.new_external_image(name="ubuntu", tag="latest"),
        preset_name="cpu-small",
        command=command,
        **kwargs,
    )


async def named_job(client, name: str, command: str, ready: Callable):
    """The job `name` once `ready(job)`; started when missing or ended otherwise."""
    try:
        job = await client.jobs.status(name)
    except Exception:
        job = None
    if job is not None and ready(job):
        return job
    if job is None or job.status.is_finished:
        job = await start(client, command, name=name)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETUP_TIMEOUT_S
    while True:
        job = await client.jobs.status(job.id)
        if ready(job):
            return job
        if job.status.is_finished:
            raise SystemExit(f"set-up job {name} ended as {job.status}")
        if loop.time() > deadline:
            raise SystemExit(f"set-up job {name} not ready")
        await asyncio.sleep(0.1)
