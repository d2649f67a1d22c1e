#include "mpi_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int bench_mpi_is_rank(void) {
  return getenv("OMPI_COMM_WORLD_SIZE") != NULL;
}

int bench_mpi_run(int np, const char *args, char *out, size_t cap) {
  if (geteuid() == 0) {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  }
  setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "%s --oversubscribe -n %d %s", MPIEXEC, np, args);
  FILE *f = popen(cmd, "r");
  if (!f)
    return -1;
  size_t len = 0, k;
  while (len + 1 < cap && (k = fread(out + len, 1, cap - 1 - len, f)) > 0)
    len += k;
  out[len] = 0;
  int st = pclose(f);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

double bench_mpi_key(const char *text, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, " %s=", key);
  const char *p = NULL, *q = text;
  while ((q = strstr(q, pat)))
    p = q++;
  return p ? atof(p + strlen(pat)) : -1;
}

const char *bench_mpi_self(void) {
  static char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  path[n > 0 ? n : 0] = 0;
  return path;
}

const char *bench_mpi_python(void) {
  const char *py = getenv("BENCH_PYTHON");
  return py && *py ? py : "/usr/bin/python3";
}
