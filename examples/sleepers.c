/* Massive concurrency: N coroutines sleeping one second at once.
 * Usage: sleepers [N]   (default 100000) */
#include <stdio.h>
#include <stdlib.h>

#include <concur.h>

static intptr_t sleeper(void *arg) {
  return cc_sleep(1000);
}

static intptr_t amain(void *arg) {
  long n = *(long *)arg;
  cc_task_t **ts = malloc((size_t)n * sizeof *ts);
  if (!ts)
    return -ENOMEM;
  int64_t t0 = cc_now();
  for (long i = 0; i < n; i++) {
    int r = cc_spawn(&ts[i], sleeper, NULL);
    if (r < 0)
      return r;
  }
  int64_t t1 = cc_now();
  printf("spawned %ld coroutines in %ld ms; %zu alive\n", n, (long)(t1 - t0),
         cc_loop_task_count());
  int r = cc_gather(ts, (size_t)n, NULL);
  free(ts);
  printf("all %ld slept 1 s concurrently: %ld ms in total\n", n, (long)(cc_now() - t0));
  return r;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  if (n <= 0) {
    fprintf(stderr, "usage: sleepers [N]\n");
    return 2;
  }
  cc_loop_opts_t o = {.stack_size = 16 * 1024, .handle_signals = true};
  int r = cc_run_opts(&o, amain, &n, NULL);
  if (r < 0) {
    fprintf(stderr, "sleepers: %s\n", cc_strerror(r));
    return 1;
  }
  return 0;
}
