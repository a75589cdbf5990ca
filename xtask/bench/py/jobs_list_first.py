"""jobs-list-first: from the listing request to its first item."""

import asyncio
import time

import benchlib
import jobsbench
import jobs_list_common as common


async def main() -> None:
    bench = benchlib.BenchEnv()
    client = await jobsbench.client(bench, "jobs-list-config-py")
    try:
        await common.seed(client)
        started = time.perf_counter()
        async with client.jobs.list(tags={common.TAG}) as it:
            async for _ in it:
                break
        seconds = time.perf_counter() - started
    finally:
        await client.close()
    benchlib.emit("jobs-list-first", seconds, items=1, peak_rss_kb=benchlib.peak_rss_kb())


if __name__ == "__main__":
    asyncio.run(main())
