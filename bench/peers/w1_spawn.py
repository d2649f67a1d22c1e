#!/usr/bin/python3
# W1 spawn, Python peer (see WORKLOADS.md): start N tasks that each return
# their index, wait for all of them with gather, check the sum.
#
#   /usr/bin/python3 w1_spawn.py [--impl asyncio|uvloop] [N]   (default N = 1,000,000)
#
# Prints: W1 spawn impl=<impl> n=N wall_s=S rss_mb=M
# Exit status: 0 ok, 1 wrong answer, 2 bad arguments, 77 impl not installed.
# impls: asyncio uvloop
import asyncio
import resource
import sys
import time

from _asyncio_peer import parse_args, new_loop


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


async def child(i):
    return i


async def main(n):
    start = time.perf_counter()
    tasks = [asyncio.create_task(child(i)) for i in range(n)]
    results = await asyncio.gather(*tasks)
    total = sum(results)
    return time.perf_counter() - start, total


def run():
    impl, n = parse_args(1_000_000)
    loop = new_loop(impl)
    try:
        wall, total = loop.run_until_complete(main(n))
    finally:
        loop.close()
    print(f"W1 spawn impl={impl} n={n} wall_s={wall:.4f} rss_mb={peak_rss_mb():.1f}", flush=True)
    if total != n * (n - 1) // 2:
        print(f"W1 spawn: wrong sum {total}, want {n * (n - 1) // 2}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run())
