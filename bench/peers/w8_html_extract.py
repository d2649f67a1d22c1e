#!/usr/bin/python3
# W8 html-extract, Python peers (see WORKLOADS.md): the first <title> and
# every <a href> (the empty value included) of each HTML file under DIR, in
# one thread.
#
#   /usr/bin/python3 w8_html_extract.py [--impl lxml|bs4] [DIR] [ROUNDS]
#
# lxml: lxml.html.document_fromstring, then root.iter("a") (python3-lxml);
# bs4:  BeautifulSoup(data, "html.parser"), soup.title, soup.find_all("a",
#       href=True) (python3-bs4), the seed articles' scraper.
# The files are read into memory first, then timed over ROUNDS rounds
# (default 3 for lxml, 1 for bs4, which takes about half a minute a round).
# Prints: W8 html-extract impl=<impl> workers=1 files mb mb_per_s median_mb_per_s links titles
# Exit status: 0 ok, 1 wrong answer, 77 a module or the documents missing.
# impls: lxml bs4
import argparse
import os
import statistics
import sys
import time

PYDOC = "/usr/share/doc/python3-doc/html/"


def load(d):
    docs = []
    for root, _, files in os.walk(d, followlinks=True):
        for f in files:
            if f.endswith(".html"):
                with open(os.path.join(root, f), "rb") as fp:
                    docs.append(fp.read())
    return docs


def run_lxml(docs):
    import lxml.html

    links = titles = 0
    for d in docs:
        root = lxml.html.document_fromstring(d)
        t = root.find(".//title")
        if t is not None:
            titles += 1
            _ = t.text_content()
        for a in root.iter("a"):
            if a.get("href") is not None:
                links += 1
    return links, titles


def run_bs4(docs):
    from bs4 import BeautifulSoup

    links = titles = 0
    for d in docs:
        soup = BeautifulSoup(d, "html.parser")
        if soup.title is not None:
            titles += 1
            _ = soup.title.string
        links += len(soup.find_all("a", href=True))
    return links, titles


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", default="lxml", choices=["lxml", "bs4"])
    ap.add_argument("dir", nargs="?", default=PYDOC)
    ap.add_argument("rounds", nargs="?", type=int, default=0)
    a = ap.parse_args()
    try:
        if a.impl == "lxml":
            import lxml.html  # noqa: F401
        else:
            import bs4  # noqa: F401
    except ImportError as e:
        print(f"w8_html_extract.py: {e}", file=sys.stderr)
        return 77
    if not os.path.isdir(a.dir):
        print(f"w8_html_extract.py: {a.dir} not found", file=sys.stderr)
        return 77
    rounds = a.rounds or (1 if a.impl == "bs4" or os.environ.get("BENCH_QUICK") == "1" else 3)
    docs = load(a.dir)
    total = sum(len(d) for d in docs)
    fn = run_lxml if a.impl == "lxml" else run_bs4
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        links, titles = fn(docs)
        times.append(time.perf_counter() - t0)
    mb = total / 1e6
    print(f"W8 html-extract impl={a.impl} workers=1 files={len(docs)} mb={mb:.1f} "
          f"mb_per_s={mb / min(times):.1f} median_mb_per_s={mb / statistics.median(times):.1f} "
          f"links={links} titles={titles}", flush=True)
    if os.path.realpath(a.dir) == os.path.realpath(PYDOC):
        if (len(docs), titles, links) != (530, 530, 164265):
            print("w8_html_extract.py: WRONG ANSWER", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
