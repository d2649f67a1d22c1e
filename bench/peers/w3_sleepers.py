#!/usr/bin/python3
# W3 sleepers, Python peer (see WORKLOADS.md): N tasks each sleep 1.0 s
# concurrently, then all are joined with gather (ideal wall: 1.0 s).
#
#   /usr/bin/python3 w3_sleepers.py [--impl asyncio|uvloop] [N]
#       (default N = 100,000; bench/run also runs 1,000,000)
#
# Prints: W3 sleepers impl=<impl> n=N wall_s=S rss_mb=M kb_per_coro=K
# where kb_per_coro = (peak RSS - peak RSS before spawning) / N, in KiB.
# Exit status: 0 ok, 1 wrong answer, 2 bad arguments, 77 impl not installed.
# impls: asyncio uvloop
import asyncio
import resource
import sys
import time

from _asyncio_peer import parse_args, new_loop


def peak_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


async def sleeper():
    await asyncio.sleep(1.0)
    return 1


async def main(n):
    base = peak_rss_kb()
    start = time.perf_counter()
    tasks = [asyncio.create_task(sleeper()) for _ in range(n)]
    woke = sum(await asyncio.gather(*tasks))
    return time.perf_counter() - start, woke, base


def run():
    impl, n = parse_args(100_000)
    loop = new_loop(impl)
    try:
        wall, woke, base = loop.run_until_complete(main(n))
    finally:
        loop.close()
    peak = peak_rss_kb()
    print(
        f"W3 sleepers impl={impl} n={n} wall_s={wall:.4f} rss_mb={peak / 1024.0:.1f} "
        f"kb_per_coro={(peak - base) / n:.2f}",
        flush=True,
    )
    if woke != n or wall < 1.0:
        print(f"W3 sleepers: {woke} of {n} woke, wall {wall:.3f} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run())
