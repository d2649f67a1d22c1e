"""W9 peer, the seed articles' way: crawl with aiohttp (32 requests in
flight), parse each page with BeautifulSoup, count the words in a
multiprocessing.Pool. Takes ~46 s on this machine: bench/w9_crawl runs it
only with BENCH_FULL=1.

    python3 w9_crawl.py http://127.0.0.1:PORT/index.html
"""
import asyncio
import collections
import multiprocessing
import re
import sys
import time
from urllib.parse import urldefrag, urljoin, urlsplit

import aiohttp
from bs4 import BeautifulSoup

WORD = re.compile(r"[a-z]+")


def count(body):
    soup = BeautifulSoup(body, "html.parser")
    for t in soup(["script", "style", "noscript"]):
        t.decompose()
    text = " ".join(soup.find_all(string=True)).lower()
    return collections.Counter(w for w in WORD.findall(text) if len(w) >= 3)


def links(base, body):
    soup = BeautifulSoup(body, "html.parser")
    return [urldefrag(urljoin(base, a["href"]))[0] for a in soup.find_all("a", href=True)]


async def crawl(start):
    s = urlsplit(start)
    top = s.path[: s.path.rfind("/") + 1]
    seen, bodies = {start}, []
    queue = asyncio.Queue()
    queue.put_nowait(start)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:

        async def worker():
            while True:
                url = await queue.get()
                try:
                    async with session.get(url) as r:
                        if r.status == 200:
                            body = await r.text()
                            bodies.append(body)
                            for link in links(url, body):
                                u = urlsplit(link)
                                if (u.scheme, u.netloc) == (s.scheme, s.netloc) and \
                                        u.path.startswith(top) and u.path.endswith(".html") \
                                        and link not in seen:
                                    seen.add(link)
                                    queue.put_nowait(link)
                finally:
                    queue.task_done()

        tasks = [asyncio.create_task(worker()) for _ in range(32)]
        await queue.join()
        for t in tasks:
            t.cancel()
    return bodies


def main():
    t0 = time.perf_counter()
    bodies = asyncio.run(crawl(sys.argv[1]))
    total = collections.Counter()
    with multiprocessing.Pool() as pool:
        for c in pool.imap_unordered(count, bodies, chunksize=4):
            total.update(c)
    wall = time.perf_counter() - t0
    top = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    print(f"W9 crawl impl=python-aiohttp-bs4-pool pages={len(bodies)} wall_s={wall:.3f} "
          f"pages_per_s={len(bodies) / wall:.1f} top10=" + ",".join(f"{w}:{c}" for w, c in top))


if __name__ == "__main__":
    main()
