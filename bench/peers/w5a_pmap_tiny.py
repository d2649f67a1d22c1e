#!/usr/bin/python3
# W5a pmap-tiny, Python peer (see WORKLOADS.md): process-pool map of
# f(x) = x*x over N ints, results in order, 2 worker processes.
#
#   /usr/bin/python3 w5a_pmap_tiny.py [--impl mp-pool|ppe] [N]   (default N = 10,000,000)
#
# mp-pool: multiprocessing.Pool(2).map with its default chunksize.
# ppe:     concurrent.futures.ProcessPoolExecutor(2).map with chunksize 10,000
#          (its default of 1 costs ~89 us per item: hours for N = 10M).
# The pool is started before the clock, as in the C program.
# Prints: W5a pmap-tiny impl=<impl> n=N wall_s=S
# Exit status: 0 ok, 1 wrong answer, 2 bad arguments.
# impls: mp-pool ppe
import argparse
import concurrent.futures
import multiprocessing
import sys
import time


def square(x):
    return x * x


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--impl", choices=("mp-pool", "ppe"), default="mp-pool")
    p.add_argument("n", nargs="?", type=int, default=10_000_000)
    a = p.parse_args()
    if a.n <= 0:
        p.error("N must be positive")
    data = list(range(a.n))
    if a.impl == "mp-pool":
        with multiprocessing.Pool(2) as pool:
            pool.map(square, [0, 1])  # workers up before the clock
            t0 = time.perf_counter()
            res = pool.map(square, data)
            wall = time.perf_counter() - t0
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=2) as ex:
            list(ex.map(square, [0, 1]))
            t0 = time.perf_counter()
            res = list(ex.map(square, data, chunksize=10_000))
            wall = time.perf_counter() - t0
    if len(res) != a.n or any(r != i * i for i, r in enumerate(res)):
        print("wrong result", file=sys.stderr)
        return 1
    print(f"W5a pmap-tiny impl={a.impl} n={a.n} wall_s={wall:.4f} "
          f"items_per_s={a.n / wall:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
