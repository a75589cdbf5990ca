"""jobs-exec: round trips of `exec true` into the running job `bench-exec`,
each from the handshake to the exit code; seconds is the mean round trip."""

import asyncio
import time

import benchlib
import jobsbench

ROUNDS = 30


async def main() -> None:
    from neuro_sdk import StdStreamError

    bench = benchlib.BenchEnv()
    client = await jobsbench.client(bench, "jobs-exec-config-py")
    try:
        job = await jobsbench.named_job(
            client, "bench-exec", "sleep 86400", lambda j: j.status.is_running
        )
        started = time.perf_counter()
        for _ in range(ROUNDS):
            code = None
            async with client.jobs.exec(job.id, "true", stdout=True, stderr=True) as stream:
                try:
                    while await stream.read_out() is not None:
                        pass
                except StdStreamError as e:
                    code = e.exit_code
            if code != 0:
                raise SystemExit(f"exec true ended with {code}")
        seconds = (time.perf_counter() - started) / ROUNDS
    finally:
        await client.close()
    benchlib.emit("jobs-exec", seconds, items=ROUNDS, peak_rss_kb=benchlib.peak_rss_kb())


if __name__ == "__main__":
    asyncio.run(main())
