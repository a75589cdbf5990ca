"""Python side of the blob transfer benchmarks (neuro-sdk==22.7.1), the
counterpart of `crates/neuro-bench/src/scenarios/blob_transfer.rs`: the same
data, the same bucket and keys, one JSON line per run with "client": "python".
As there, 1 GiB uploads go to new keys and downloads to new local paths, dirty
pages are written back before the clock starts, and the 1 GiB copy is removed
after it stops.

Scenarios: blob-upload-1g, blob-download-1g, blob-upload-tree,
blob-download-tree. Needs NEURO_BENCH_API_URL and NEURO_BENCH_TOKEN.
"""

import asyncio
import os
import sys
import time

import benchlib
from storage_transfer import BIG, TREE_FILE_SIZE, TREE_FILES, _big_file, _client, _fresh, _tree

BUCKET = "bench-blobs"


async def _bucket(client):
    try:
        return await client.buckets.get(BUCKET)
    except Exception:
        return await client.buckets.create(name=BUCKET)


async def _has(client, key: str) -> bool:
    try:
        await client.buckets.head_blob(BUCKET, key)
        return True
    except Exception:
        return False


async def _tree_uploaded(client) -> bool:
    from yarl import URL

    last = URL(f"blob:{BUCKET}/python/tree/d9/")
    async with client.buckets.list_blobs(last, recursive=False, limit=1) as it:
        return bool([e async for e in it])


async def _run(scenario: str) -> dict:
    from yarl import URL

    bench = benchlib.BenchEnv()
    work = bench.work_dir
    client = await _client(bench)
    try:
        buckets = client.buckets
        bucket = await _bucket(client)
        big = URL(f"blob:{BUCKET}/python/big.bin")
        tree = URL(f"blob:{BUCKET}/python/tree")
        if scenario == "blob-upload-1g":
            src = _big_file(work)
            key = _fresh("python/big") + ".bin"
            os.sync()  # earlier runs' writeback stays out of the timed part
            started = time.monotonic()
            await buckets.upload_file(URL(src.as_uri()), URL(f"blob:{BUCKET}/{key}"))
            seconds = time.monotonic() - started
            await buckets.delete_blob(BUCKET, key)  # runs must not fill the disk
            return dict(seconds=seconds, bytes=BIG, items=1)
        if scenario == "blob-download-1g":
            if not await _has(client, "python/big.bin"):
                await buckets.upload_file(URL(_big_file(work).as_uri()), big)
            dst = work / _fresh("big.python-blob-download")
            os.sync()  # earlier runs' writeback stays out of the timed part
            started = time.monotonic()
            await buckets.download_file(big, URL(dst.as_uri()))
            seconds = time.monotonic() - started
            dst.unlink()  # runs must not fill the disk
            return dict(seconds=seconds, bytes=BIG, items=1)
        if scenario == "blob-upload-tree":
            src = _tree(work)
            # Over the same key (see blob_transfer.rs: listings walk the bucket).
            if await _tree_uploaded(client):
                await buckets.blob_rm(tree, recursive=True)
            os.sync()  # earlier runs' writeback stays out of the timed part
            started = time.monotonic()
            await buckets.upload_dir(URL(src.as_uri()), tree)
            return dict(
                seconds=time.monotonic() - started,
                bytes=TREE_FILES * TREE_FILE_SIZE,
                items=TREE_FILES,
            )
        if scenario == "blob-download-tree":
            if not await _tree_uploaded(client):
                await buckets.upload_dir(URL(_tree(work).as_uri()), tree)
            dst = work / _fresh("tree.python-blob-download")
            os.sync()  # earlier runs' writeback stays out of the timed part
            started = time.monotonic()
            await buckets.download_dir(tree, URL(dst.as_uri()))
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
