#!/usr/bin/python3
# W4 threadpool, Python peer (see WORKLOADS.md): N tiny tasks (return x+1)
# through concurrent.futures.ThreadPoolExecutor(max_workers=2), results
# collected in order (executor.map submits one future per item).
#
#   /usr/bin/python3 w4_threadpool.py [N]   (default N = 100,000: Python is
#                                            scaled down; compare us_per_task)
#
# Prints: W4 threadpool impl=threadpool n=N wall_s=S us_per_task=U
# Exit status: 0 ok, 1 wrong answer, 2 bad arguments.
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def plus_one(x):
    return x + 1


def main():
    try:
        n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    except ValueError:
        n = -1
    if n <= 0:
        print("usage: w4_threadpool.py [N]", file=sys.stderr)
        return 2
    with ThreadPoolExecutor(max_workers=2) as ex:
        start = time.perf_counter()
        results = list(ex.map(plus_one, range(n)))
        wall = time.perf_counter() - start
    print(f"W4 threadpool impl=threadpool n={n} wall_s={wall:.4f} "
          f"us_per_task={wall * 1e6 / n:.4f}", flush=True)
    if results != [x + 1 for x in range(n)]:
        print("W4 threadpool: wrong results", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
