"""Python side of the storage transfer benchmarks (neuro-sdk==22.7.1), the
counterpart of `crates/neuro-bench/src/scenarios/storage_*.rs`: same data
sizes, same remote paths, one JSON line per run with "client": "python".

Scenarios: storage-upload-1g, storage-download-1g, storage-upload-tree,
storage-download-tree. Needs NEURO_BENCH_API_URL and NEURO_BENCH_TOKEN.
"""

import asyncio
import os
import shutil
import sys
import time
from pathlib import Path

import benchlib

BIG = 1 << 30
TREE_FILES = 5000
TREE_FILE_SIZE = 4096
TREE_DIRS = 10
REMOTE_BIG = "storage:bench/transfer/big.bin"
REMOTE_TREE = "storage:bench/transfer/tree"


def _big_file(work: Path) -> Path:
    path = work / "big.bin"
    if not path.exists() or path.stat().st_size != BIG:
        with path.open("wb") as out:
            for _ in range(BIG >> 20):
                out.write(os.urandom(1 << 20))
    return path


def _fresh(prefix: str) -> str:
    """A name no earlier run used. Uploads and tree downloads go to fresh
    destinations rather than over a copy deleted or replaced in the same run
    (see storage_data.rs: on this disk that would time the deletion)."""
    return f"{prefix}-{time.time_ns()}"


def _tree(work: Path) -> Path:
    root = work / "tree"
    if not (root / f"d{TREE_DIRS - 1}").is_dir():
        for i in range(TREE_FILES):
            d = root / f"d{i % TREE_DIRS}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"f{i:05}.bin").write_bytes(bytes([i % 251]) * TREE_FILE_SIZE)
    return root


async def _client(bench: benchlib.BenchEnv):
    import neuro_sdk
    from yarl import URL

    config = bench.work_dir / "python-config"
    shutil.rmtree(config, ignore_errors=True)
    await neuro_sdk.login_with_token(bench.token, url=URL(bench.api_url), path=config)
    return await neuro_sdk.get(path=config)


async def _exists(client, uri) -> bool:
    try:
        await client.storage.stat(uri)
        return True
    except Exception:
        return False


async def _run(scenario: str) -> dict:
    from yarl import URL

    bench = benchlib.BenchEnv()
    work = bench.work_dir
    client = await _client(bench)
    try:
        storage = client.storage
        await storage.mkdir(URL("storage:bench/transfer"), parents=True, exist_ok=True)
        big, tree = URL(REMOTE_BIG), URL(REMOTE_TREE)
        if scenario == "storage-upload-1g":
            src = _big_file(work)
            dst = URL(_fresh(REMOTE_BIG))
            os.sync()  # earlier runs' writeback stays out of the timed part
            started = time.monotonic()
            await storage.upload_file(URL(src.as_uri()), dst)
            seconds = time.monotonic() - started
            await storage.rm(dst)  # runs must not fill the disk
            return dict(seconds=seconds, bytes=BIG, items=1)
        if scenario == "storage-download-1g":
            if not await _exists(client, big):
                await storage.upload_file(URL(_big_file(work).as_uri()), big)
            dst = work / "big.python-download"
            dst.unlink(missing_ok=True)
            os.sync()  # earlier runs' writeback stays out of the timed part
            started = time.monotonic()
            await storage.download_file(big, URL(dst.as_uri()))
            seconds = time.monotonic() - started
            dst.unlink()  # runs must not fill the disk
            return dict(seconds=seconds, bytes=BIG, items=1)
        if scenario == "storage-upload-tree":
            src = _tree(work)
            tree = URL(_fresh(REMOTE_TREE))
            os.sync()  # earlier runs' writeback stays out of the timed part
            started = time.monotonic()
            await storage.upload_dir(URL(src.as_uri()), tree)
            return dict(
                seconds=time.monotonic() - started,
                bytes=TREE_FILES * TREE_FILE_SIZE,
                items=TREE_FILES,
            )
        if scenario == "storage-download-tree":
            if not await _exists(client, tree):
                await storage.upload_dir(URL(_tree(work).as_uri()), tree)
            dst = work / _fresh("tree.python-download")
            os.sync()  # earlier runs' writeback stays out of the timed part
            started = time.monotonic()
            await storage.download_dir(tree, URL(dst.as_uri()))
            return dict(
                seconds=time.monotonic() - started,
                bytes=TREE_FILES * TREE_FILE_SIZE,
                items=TREE_FILES,
            )
        raise SystemExit(f"unknown scenario {scenario}")
    finally:
        await client.close()


def main(scenario: str) -> None:
    result = asyncio.run(_run(scenario))
    benchlib.emit(scenario, peak_rss_kb=benchlib.peak_rss_kb(), **result)


if __name__ == "__main__":
    main(sys.argv[1])
