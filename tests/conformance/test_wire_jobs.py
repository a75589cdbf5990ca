"""The raw job object neuro-local sends, checked against what platform-api
always sends (wire-protocol-core §7.6, "server ref"). There are no recorded
jobs transcripts, and both SDKs fill in defaults for missing keys, so a key
neuro-local forgot would pass every client-level comparison: this catches it.
"""

import asyncio
import json
import urllib.request

from conftest import with_sdk

# Key -> JSON type(s) platform-api always sends.
ALWAYS = {
    "id": str,
    "owner": str,
    "cluster_name": str,
    "status": str,
    "statuses": list,
    "history": dict,
    "container": dict,
    "scheduler_enabled": bool,
    "preemptible_node": bool,
    "is_preemptible": bool,
    "is_preemptible_node_required": bool,
    "pass_config": bool,
    "uri": str,
    "restart_policy": str,
    "privileged": bool,
    "materialized": bool,
    "being_dropped": bool,
    "logs_removed": bool,
    "total_price_credits": str,
    "price_credits_per_hour": str,
    "priority": str,
}
# Sent when set (the job below sets all of them).
WHEN_SET = {
    "name": str,
    "preset_name": str,
    "description": str,
    "tags": list,
    "http_url": str,
    "internal_hostname": str,
    "internal_hostname_named": str,
    "schedule_timeout": (int, float),
    "max_run_time_minutes": int,
}
HISTORY_ALWAYS = {
    "status": str,
    "reason": str,
    "description": str,
    "created_at": str,
    "run_time_seconds": (int, float),
    "restarts": int,
}
STATUS_ITEM = {"status": str, "transition_time": str, "reason": str, "description": str}


def _type_problems(obj: dict, expected: dict, where: str) -> list:
    problems = []
    for key, kind in expected.items():
        if key not in obj:
            problems.append(f"{where}.{key} missing")
        elif isinstance(obj[key], bool) and kind is not bool:
            problems.append(f"{where}.{key} is a bool")
        elif not isinstance(obj[key], kind):
            problems.append(f"{where}.{key}: {type(obj[key]).__name__} {obj[key]!r}")
    return problems


def test_job_object_has_every_platform_api_key(make_cli, platform) -> None:
    cli = make_cli()

    async def body(client):
        from neuro_sdk import HTTPPort, RemoteImage

        job = await client.jobs.start(
            image=RemoteImage.new_external_image(name="ubuntu"),
            preset_name="cpu-small",
            command="true",
            name="wire-shape",
            tags=["wire"],
            description="raw job object",
            http=HTTPPort(port=80),
            life_span=3600.0,
            schedule_timeout=30.0,
        )
        for _ in range(600):
            if (await client.jobs.status(job.id)).status.is_finished:
                break
            await asyncio.sleep(0.1)
        return job.id, await client.config.token()

    job_id, token = with_sdk(cli, body)
    request = urllib.request.Request(
        f"{platform.api_url}/jobs/{job_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        assert resp.headers.get_content_type() == "application/json"
        job = json.load(resp)

    problems = _type_problems(job, ALWAYS, "job")
    problems += _type_problems(job, WHEN_SET, "job")
    problems += _type_problems(job["history"], HISTORY_ALWAYS, "job.history")
    for key in ("started_at", "finished_at", "exit_code"):  # known: it finished
        if key not in job["history"]:
            problems.append(f"job.history.{key} missing for a finished job")
    for i, item in enumerate(job["statuses"]):
        problems += _type_problems(item, STATUS_ITEM, f"job.statuses[{i}]")
    for key in ("image", "resources"):
        if key not in job["container"]:
            problems.append(f"job.container.{key} missing")
    assert not problems, "\n".join(problems) + f"\n{json.dumps(job, indent=1)[:3000]}"
    assert [s["status"] for s in job["statuses"]][0] == "pending"
    assert job["uri"] == f"job://default/{cli.user}/{job_id}"
