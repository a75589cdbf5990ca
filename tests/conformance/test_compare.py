"""The Rust SDK and the Python SDK read the same objects from the same server
and must agree on every field: the config (clusters, presets, URLs), storage
file statuses, and job descriptions (status history, container, resources,
volumes, HTTP port, tags, life span, restart policy, priority ...).

The Rust side is `neuro-conformance-probe` (the `probe` fixture), which prints
what `neuro_sdk` (Rust) decoded, keyed by the Python attribute names.
"""

import asyncio
from datetime import datetime, timedelta, timezone

from yarl import URL

from conftest import Probe, aiterate, with_sdk
from fieldcompare import assert_same, compare_properties

CONFIG_PROPERTIES = (
    "username",
    "cluster_name",
    "org_name",
    "api_url",
    "admin_url",
    "storage_url",
    "monitoring_url",
    "registry_url",
    "secrets_url",
    "disk_api_url",
    "bucket_api_url",
    "cluster_orgs",
    "presets",
    "clusters",
)

# Storage names that need quoting in URLs: percent, space, '#', '?', non-ASCII.
NAMES = ["file %41.txt", "hash#q?.bin", "\u00fcml\u00e4ut \u65e5\u672c.txt", "sub dir"]

# Fields of a running job that change from one read to the next.
RUNNING_CLOCKS = ("history.run_time_seconds", "total_price_credits")


def test_config_fields_match(make_cli, probe: Probe) -> None:
    cli = make_cli()
    rust = probe.run(cli, "config")

    def body(client):
        compare_properties(client.config, rust, CONFIG_PROPERTIES, "config")
        return True

    assert with_sdk(cli, body)


def test_storage_file_status_fields_match(make_cli, probe: Probe) -> None:
    cli = make_cli()

    async def body(client):
        base = URL("storage:cmp")
        await client.storage.mkdir(base / "sub dir", parents=True)

        async def data():
            yield b"x" * 1234

        for name in NAMES[:-1]:
            await client.storage.create(base / name, data())
        listed = [s async for s in aiterate(client.storage.list(base))]
        stats = {name: await client.storage.stat(base / name) for name in NAMES}
        root = await client.storage.stat(base)
        # (Listing the cluster root, storage://default/, fails in the Python
        # SDK on the real server too: it asks for /storage without the slash.)
        home = [s async for s in aiterate(client.storage.list(URL("storage:")))]
        return listed, stats, root, home

    listed, stats, root, home = with_sdk(cli, body)
    rust_listed = probe.run(cli, "storage-ls", "storage:cmp")
    by_name = {s.name: s for s in listed}
    rust_by_name = {r["path"]: r for r in rust_listed}
    assert sorted(by_name) == sorted(rust_by_name) == sorted(NAMES)
    for name, status in by_name.items():
        assert_same(status, rust_by_name[name], f"storage ls entry {name!r}")
    for name, status in stats.items():
        # URIs built from text: "%41" must stay literal, the space encoded.
        rust = probe.run(cli, "storage-stat", str(URL("storage:cmp") / name))
        assert_same(status, rust, f"storage stat {name!r}")
    assert_same(root, probe.run(cli, "storage-stat", "storage:cmp"), "storage stat dir")
    assert_same(home, probe.run(cli, "storage-ls", "storage:"), "storage ls home")


def test_job_description_fields_match(make_cli, probe: Probe) -> None:
    cli = make_cli()

    async def body(client):
        from neuro_sdk import (
            HTTPPort,
            JobPriority,
            JobRestartPolicy,
            RemoteImage,
            Volume,
        )

        await client.storage.mkdir(URL("storage:vol"), exist_ok=True)
        job = await client.jobs.start(
            image=RemoteImage.new_external_image(name="ubuntu", tag="22.04"),
            preset_name="cpu-small",
            command="sh -c 'echo compared; exit 0'",
            working_dir="/tmp",
            http=HTTPPort(port=8080, requires_auth=False),
            env={"A": "1", "B": "two words"},
            volumes=[
                Volume(
                    storage_uri=URL(f"storage://default/{client.config.username}/vol"),
                    container_path="/mnt/vol",
                    read_only=True,
                )
            ],
            name="cmp-job",
            tags=["cmp", "fields"],
            description="compared field by field",
            schedule_timeout=120.0,
            restart_policy=JobRestartPolicy.NEVER,
            life_span=3600.0,
            priority=JobPriority.HIGH,
        )
        for _ in range(600):
            job = await client.jobs.status(job.id)
            if job.status.is_finished:
                break
            await asyncio.sleep(0.1)
        return job

    job = with_sdk(cli, body)
    assert job.status.is_finished, job.status
    assert len(job.history.transitions) >= 2
    assert_same(job, probe.run(cli, "job-status", job.id), "job status")


def test_job_list_with_filters_matches(make_cli, probe: Probe) -> None:
    cli = make_cli()
    before = datetime.now(timezone.utc) - timedelta(seconds=5)

    async def body(client):
        from neuro_sdk import JobPriority, JobRestartPolicy, JobStatus, RemoteImage

        image = RemoteImage.new_external_image(name="ubuntu")
        done = await client.jobs.start(
            image=image,
            preset_name="cpu-small",
            command="true",
            tags=["lst", "a"],
            restart_policy=JobRestartPolicy.ON_FAILURE,
            priority=JobPriority.LOW,
        )
        running = await client.jobs.start(
            image=image,
            preset_name="cpu-small",
            command="sleep 300",
            name="lst-running",
            tags=["lst", "b"],
        )
        for _ in range(600):
            d = await client.jobs.status(done.id)
            r = await client.jobs.status(running.id)
            if d.status.is_finished and r.status == JobStatus.RUNNING:
                break
            await asyncio.sleep(0.1)

        async def listing(**kw):
            return [j async for j in aiterate(client.jobs.list(**kw))]

        owner = client.config.username
        expected = {
            "all": {done.id, running.id},
            "tag": {running.id},
            "name": {running.id},
            "status": {running.id},
            "since": {done.id, running.id},
            "until": set(),
            "cluster": {done.id, running.id},
            "limit": {running.id},
        }
        queries = {
            "all": ({"owners": {owner}}, ["--owner", owner]),
            "tag": ({"tags": {"lst", "b"}}, ["--tag", "lst", "--tag", "b"]),
            "name": ({"name": "lst-running"}, ["--name", "lst-running"]),
            "status": (
                {"statuses": {JobStatus.RUNNING}, "owners": {owner}},
                ["--status", "running", "--owner", owner],
            ),
            "since": (
                {"since": before, "owners": {owner}},
                ["--since", before.isoformat(), "--owner", owner],
            ),
            "until": (
                {"until": before, "owners": {owner}},
                ["--until", before.isoformat(), "--owner", owner],
            ),
            "cluster": (
                {"cluster_name": "default", "owners": {owner}, "reverse": True},
                ["--cluster", "default", "--owner", owner, "--reverse"],
            ),
            "limit": (
                {"owners": {owner}, "limit": 1, "reverse": True},
                ["--owner", owner, "--limit", "1", "--reverse"],
            ),
        }
        try:
            for key, (kw, args) in queries.items():
                jobs = await listing(**kw)
                assert {j.id for j in jobs} == expected[key], key
                rust = probe.run(cli, "job-list", *args)
                assert [r["id"] for r in rust] == [j.id for j in jobs], key
                for job, rust_job in zip(jobs, rust):
                    # A running job's run time and price grow between reads.
                    moving = () if job.status.is_finished else RUNNING_CLOCKS
                    assert_same(job, rust_job, f"job list {key} {job.id}", moving)
        finally:
            await client.jobs.kill(running.id)
        return True

    assert with_sdk(cli, body)
