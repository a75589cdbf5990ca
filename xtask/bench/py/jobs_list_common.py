"""Set-up of jobs-list and jobs-list-first: 10,000 jobs tagged `bench-list`
(the Rust side seeds the same ones)."""

import asyncio

COUNT = 10_000
TAG = "bench-list"
SEED_PARALLEL = 16


async def count(client) -> int:
    n = 0
    async with client.jobs.list(tags={TAG}) as it:
        async for _ in it:
            n += 1
    return n


async def seed(client) -> None:
    from neuro_sdk import Container, RemoteImage, Resources

    present = await count(client)
    container = Container(
        image=RemoteImage.new_external_image(name="ubuntu", tag="latest"),
        resources=Resources(memory=64 << 20, cpu=100_000.0),
    )
    missing = COUNT - present
    while missing > 0:
        batch = min(missing, SEED_PARALLEL)
        await asyncio.gather(
            *(
                client.jobs.run(container, tags=[TAG], schedule_timeout=1.0)
                for _ in range(batch)
            )
        )
        missing -= batch
