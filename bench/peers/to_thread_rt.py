#!/usr/bin/python3
# to_thread round trip, Python peer: a coroutine awaits asyncio.to_thread()
# of a trivial function N times in a row (the default executor), then 8
# coroutines do it concurrently.
#
#   /usr/bin/python3 to_thread_rt.py [--impl asyncio|uvloop] [N]   (default N = 20,000)
#
# Prints: X to_thread impl=<impl> n=N wall_s=S us_per_call=U conc=1, and a
# conc=8 line (impl=<impl>-conc8).
# impls: asyncio uvloop
import asyncio
import sys
import time

from _asyncio_peer import parse_args, new_loop


def plus_one(x):
    return x + 1


async def caller(n):
    bad = 0
    for i in range(n):
        if await asyncio.to_thread(plus_one, i) != i + 1:
            bad += 1
    return bad


async def main(impl, n):
    await caller(100)
    t0 = time.perf_counter()
    bad = await caller(n)
    wall = time.perf_counter() - t0
    print(f"X to_thread impl={impl} n={n} wall_s={wall:.4f} us_per_call={wall * 1e6 / n:.3f} conc=1",
          flush=True)
    c = 8
    t0 = time.perf_counter()
    bads = await asyncio.gather(*(caller(n // c) for _ in range(c)))
    wall = time.perf_counter() - t0
    total = (n // c) * c
    print(f"X to_thread impl={impl}-conc8 n={total} wall_s={wall:.4f} "
          f"us_per_call={wall * 1e6 / total:.3f} conc={c}", flush=True)
    return bad + sum(bads)


def run():
    impl, n = parse_args(20_000)
    loop = new_loop(impl)
    try:
        bad = loop.run_until_complete(main(impl, n))
    finally:
        loop.close()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(run())
