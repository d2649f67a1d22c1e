#!/usr/bin/python3
# W5b pmap-cpu over MPI ranks, mpi4py peer of bench/w5b_mpi.c (which runs it
# with 1, 2 and 4 worker ranks in the same run and prints the speed-up):
#
#   mpirun -n K+1 /usr/bin/python3 -m mpi4py.futures mpi4py_w5b.py [ITEMS]
#
# MPIPoolExecutor().map(count_primes, [200_000] * ITEMS) over the K worker
# ranks (default chunksize 1: one item per task), warmed up before the clock.
# Prints: "# ranks=K items=N wall_s=S" (the launcher makes the W5b line).
# Exit status: 0 ok, 1 wrong answer.
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor

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


def main():
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    ranks = MPI.COMM_WORLD.Get_size() - 1
    with MPIPoolExecutor() as ex:
        list(ex.map(warm, range(4 * ranks)))
        t0 = time.perf_counter()
        res = list(ex.map(count_primes, [LIMIT] * items))
        wall = time.perf_counter() - t0
    if res != [PRIMES_BELOW_LIMIT] * items:
        print("wrong result", file=sys.stderr)
        return 1
    print(f"# ranks={ranks} items={items} wall_s={wall:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
