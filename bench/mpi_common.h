/* Helpers of the MPI benchmarks (w5a_mpi, w5b_mpi): each program, started
 * without mpirun, is the launcher: it runs itself and its mpi4py.futures
 * peer under `mpirun --oversubscribe -n K+1` for each number K of worker
 * ranks, in the same run, and prints their result lines. */
#ifndef CC_BENCH_MPI_COMMON_H
#define CC_BENCH_MPI_COMMON_H

#include <stddef.h>

/* True when this process is a rank of an mpirun job. */
int bench_mpi_is_rank(void);

/* Runs `mpirun --oversubscribe -n np <args>` (args: a shell word list),
 * with stdout into out (NUL-terminated); returns 0 if it exited 0. Sets the
 * environment Open MPI needs here first (root, no ptrace single copy). */
int bench_mpi_run(int np, const char *args, char *out, size_t cap);

/* The value of key=<number> in text (the last occurrence), or -1. */
double bench_mpi_key(const char *text, const char *key);

/* Path of this executable and of the Python for the peers. */
const char *bench_mpi_self(void);
const char *bench_mpi_python(void);

#endif
