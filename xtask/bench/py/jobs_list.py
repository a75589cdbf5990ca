"""jobs-list: the whole listing of 10,000 jobs, items counted and dropped."""

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
        items = await common.count(client)
        seconds = time.perf_counter() - started
    finally:
        await client.close()
    if items < common.COUNT:
        raise SystemExit(f"listed only {items} jobs")
    benchlib.emit("jobs-list", seconds, items=items, peak_rss_kb=benchlib.peak_rss_kb())


if __name__ == "__main__":
    asyncio.run(main())
