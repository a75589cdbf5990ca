"""ls-cold: `neuro ls` of a directory from a stored login, timed spawn to exit.

Set-up (untimed): log the CLI in into a private config dir and make sure
storage:bench/ls-cold holds 100 files (the Rust side makes the same ones).
"""

import asyncio
import os
import subprocess
import time

import benchlib

DIR = "storage:bench/ls-cold"
ENTRIES = 100


async def prepare(config_dir) -> None:
    import neuro_sdk

    client = await neuro_sdk.get(path=config_dir)
    try:
        uri = client.parse.str_to_uri(DIR)
        await client.storage.mkdir(uri, parents=True, exist_ok=True)
        async with client.storage.list(uri) as it:
            present = [entry.name async for entry in it]
        if len(present) != ENTRIES:
            for name in present:
                await client.storage.rm(uri / name, recursive=True)
            for i in range(ENTRIES):
                await client.storage.create(uri / f"f{i:03}.txt", f"file {i}\n".encode())
    finally:
        await client.close()


def main() -> None:
    bench = benchlib.BenchEnv()
    config_dir = bench.work_dir / "ls-cold-config-py"
    argv, env = benchlib.login(bench, config_dir)
    asyncio.run(prepare(config_dir))
    out_path = bench.work_dir / "ls-cold.out"
    with open(out_path, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv + ["ls", DIR], env=env, stdout=out, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"neuro ls failed with {proc.returncode}")
    items = len(out_path.read_text().split())
    if items != ENTRIES:
        raise SystemExit(f"neuro ls printed {items} entries, expected {ENTRIES}")
    # ru_maxrss of the waited-for child alone, in KiB on Linux.
    benchlib.emit("ls-cold", seconds, items=items, peak_rss_kb=usage.ru_maxrss)


if __name__ == "__main__":
    main()
