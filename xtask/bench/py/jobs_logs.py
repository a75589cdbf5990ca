"""jobs-logs: streams the 100 MB log of the finished job `bench-logs`
(`client.jobs.monitor`), bytes counted, nothing kept."""

import asyncio
import time

import benchlib
import jobsbench

LINES = 12_500_000


async def main() -> None:
    bench = benchlib.BenchEnv()
    client = await jobsbench.client(bench, "jobs-logs-config-py")
    try:
        from neuro_sdk import JobStatus

        job = await jobsbench.named_job(
            client, "bench-logs", f"seq 1 {LINES}", lambda j: j.status == JobStatus.SUCCEEDED
        )
        started = time.perf_counter()
        size = 0
        async with client.jobs.monitor(job.id) as it:
            async for chunk in it:
                size += len(chunk)
        seconds = time.perf_counter() - started
    finally:
        await client.close()
    if size <= 100_000_000:
        raise SystemExit(f"the log has only {size} bytes")
    benchlib.emit("jobs-logs", seconds, bytes=size, peak_rss_kb=benchlib.peak_rss_kb())


if __name__ == "__main__":
    asyncio.run(main())
