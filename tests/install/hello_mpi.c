/* A user's MPI program against an installed concur::mpi: one rank (run
 * without mpirun), as tests/install/run.sh builds and runs it. */
#include <stdio.h>
#include <stdlib.h>

#include <concur.h>
#include <concur/mpi.h>

int main(int argc, char **argv) {
  cc_mpi_t *m;
  int rc = cc_mpi_init(&m, &argc, &argv, NULL);
  if (rc != 0) {
    fprintf(stderr, "cc_mpi_init: %s\n", cc_strerror(rc));
    return 1;
  }
  printf("hello from concur %s, rank %d of %d\n", cc_version_string(), cc_mpi_rank(m),
         cc_mpi_size(m));
  cc_mpi_finalize(m);
  return 0;
}
