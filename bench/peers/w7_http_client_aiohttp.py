# W7 http-client, aiohttp peer: N GETs of URL with 64 requests in flight on
# one ClientSession (TCPConnector limit=64, keep-alive), each body read and
# checked. Run by bench/w7_http_client, which starts the nginx and passes
# its URL; aiohttp runs at most 20,000 requests (the rate is per request, so
# the figure compares; n says how many ran).
#
#   python3 w7_http_client_aiohttp.py --impl asyncio|uvloop N URL [bytes]
#
# impls: asyncio uvloop
import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _asyncio_peer import new_loop  # noqa: E402


async def run(n, url, want):
    import aiohttp

    conn = aiohttp.TCPConnector(limit=64)
    bad = 0
    left = n
    async with aiohttp.ClientSession(connector=conn) as s:

        async def worker():
            nonlocal left, bad
            while left > 0:
                left -= 1
                async with s.get(url) as r:
                    body = await r.read()
                    if r.status != 200 or (want >= 0 and len(body) != want):
                        bad += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(64)))
        return time.perf_counter() - t0, bad


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--impl", choices=("asyncio", "uvloop"), default="asyncio")
    p.add_argument("n", nargs="?", type=int)
    p.add_argument("url", nargs="?")
    p.add_argument("want", nargs="?", type=int, default=-1)
    a = p.parse_args()
    if a.url is None:
        print("# skip: needs N URL (run by bench/w7_http_client)", file=sys.stderr)
        sys.exit(77)
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        print("# skip: aiohttp is not installed", file=sys.stderr)
        sys.exit(77)
    n = min(a.n, 20000)
    loop = new_loop(a.impl)
    wall, bad = loop.run_until_complete(run(n, a.url, a.want))
    loop.close()
    print(f"W7 http-client impl={a.impl} n={n} wall_s={wall:.3f} rps={n / wall:.0f}")
    if bad:
        print(f"{bad} bad responses", file=sys.stderr)
        sys.exit(1)


main()
