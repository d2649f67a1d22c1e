#!/usr/bin/python3
# W2 switch, Python peer (see WORKLOADS.md): two tasks pass a token back and
# forth through asyncio.Queue, N round trips (2N one-way hand-offs).
#
#   /usr/bin/python3 w2_switch.py [--impl asyncio|uvloop] [N]
#
# The default N is 1,000,000, a tenth of the workload's 10,000,000, so that
# the run takes seconds rather than a minute; the line reports the n actually
# run and ns_per_handoff is per hand-off, so the figures stay comparable.
# Prints: W2 switch impl=<impl> n=N wall_s=S ns_per_handoff=H  (one-way: wall / (2 N))
# Exit status: 0 ok, 1 wrong answer, 2 bad arguments, 77 impl not installed.
# impls: asyncio uvloop
import asyncio
import sys
import time

from _asyncio_peer import parse_args, new_loop


async def partner(ping, pong, n):
    # Adds one to every token it receives and sends it back.
    for _ in range(n):
        v = await ping.get()
        await pong.put(v + 1)


async def main(n):
    ping = asyncio.Queue()
    pong = asyncio.Queue()
    other = asyncio.create_task(partner(ping, pong, n))
    await asyncio.sleep(0)  # let the partner start and block on its queue
    start = time.perf_counter()
    tok = 0
    for _ in range(n):
        await ping.put(tok + 1)
        tok = await pong.get()
    wall = time.perf_counter() - start
    await other
    return wall, tok


def run():
    impl, n = parse_args(1_000_000)
    loop = new_loop(impl)
    try:
        wall, tok = loop.run_until_complete(main(n))
    finally:
        loop.close()
    print(f"W2 switch impl={impl} n={n} wall_s={wall:.4f} ns_per_handoff={wall * 1e9 / (2 * n):.1f}", flush=True)
    if tok != 2 * n:
        print(f"W2 switch: token {tok}, want {2 * n}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run())
