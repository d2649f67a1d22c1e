#!/usr/bin/python3
# W5b pmap-cpu, Python peer (see WORKLOADS.md): process-pool map over ITEMS
# items, each counting the primes below 200,000 by trial division, with 1
# and with 2 workers.
#
#   /usr/bin/python3 w5b_pmap_cpu.py [--impl mp-pool|ppe] [ITEMS]   (default 64)
#
# mp-pool: multiprocessing.Pool(w).map (default chunksize);
# ppe:     concurrent.futures.ProcessPoolExecutor(w).map (default chunksize 1).
# Each pool is started before the clock.
# Prints: W5b pmap-cpu impl=<impl> items=N wall_s_1=S wall_s_2=S speedup=X
# Exit status: 0 ok, 1 wrong answer, 2 bad arguments.
# impls: mp-pool ppe
import argparse
import concurrent.futures
import multiprocessing
import sys
import time

LIMIT = 200_000
PRIMES_BELOW_LIMIT = 17_984


def count_primes(limit):
    count = 0
    for n in range(2, limit):
        d = 2
        prime = True
        while d * d <= n:
            if n % d == 0:
                prime = False
                break
            d += 1
        if prime:
            count += 1
    return count


def warm(_):
    return 0


def run(impl, workers, items):
    data = [LIMIT] * items
    if impl == "mp-pool":
        with multiprocessing.Pool(workers) as pool:
            pool.map(warm, range(workers))
            t0 = time.perf_counter()
            res = pool.map(count_primes, data)
            wall = time.perf_counter() - t0
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as ex:
            list(ex.map(warm, range(workers)))
            t0 = time.perf_counter()
            res = list(ex.map(count_primes, data))
            wall = time.perf_counter() - t0
    if res != [PRIMES_BELOW_LIMIT] * items:
        print("wrong result", file=sys.stderr)
        sys.exit(1)
    return wall


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--impl", choices=("mp-pool", "ppe"), default="mp-pool")
    p.add_argument("items", nargs="?", type=int, default=64)
    a = p.parse_args()
    if a.items <= 0:
        p.error("ITEMS must be positive")
    w1 = run(a.impl, 1, a.items)
    w2 = run(a.impl, 2, a.items)
    print(f"W5b pmap-cpu impl={a.impl} items={a.items} wall_s_1={w1:.3f} "
          f"wall_s_2={w2:.3f} speedup={w1 / w2:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
