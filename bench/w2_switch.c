/* W2 switch: two tasks pass a token back and forth through cc_queue,
 * N round trips; ns_per_handoff is one way (wall / 2N). */
#include <stdio.h>

#include <concur.h>

#include "common.h"

static long long n;
static double wall;
static cc_queue_t *ping, *pong;

static intptr_t ponger(void *unused) {
  void *v;
  for (long long i = 0; i < n; i++) {
    if (cc_queue_get(ping, &v) != 0 || cc_queue_put(pong, (char *)v + 1) != 0)
      return -EIO;
  }
  return 0;
}

static intptr_t bench(void *arg) {
  size_t cap = (size_t)(intptr_t)arg;
  if (cc_queue_new(&ping, cap) || cc_queue_new(&pong, cap))
    return -ENOMEM;
  cc_task_t *t;
  cc_spawn(&t, ponger, NULL);
  char *tok = NULL;
  double t0 = bench_now();
  for (long long i = 0; i < n; i++) {
    void *v;
    if (cc_queue_put(ping, tok) != 0 || cc_queue_get(pong, &v) != 0)
      return -EIO;
    tok = v;
  }
  wall = bench_now() - t0;
  cc_join(t, NULL);
  cc_queue_free(ping);
  cc_queue_free(pong);
  return tok == (char *)NULL + n ? 0 : -EIO;
}

int main(int argc, char **argv) {
  n = bench_arg(argc, argv, 1, 10000000);
  /* capacity 1 (asyncio.Queue(1)-like) and 0 (Go's unbuffered channel) */
  size_t caps[] = {1, 0};
  for (int i = 0; i < 2; i++) {
    intptr_t r;
    int rc = cc_run(bench, (void *)(intptr_t)caps[i], &r);
    if (rc != 0) {
      fprintf(stderr, "w2_switch: %s\n", cc_strerror(rc));
      return 1;
    }
    printf("W2 switch impl=concur%s n=%lld wall_s=%.4f ns_per_handoff=%.2f\n",
           caps[i] ? "" : "-unbuffered", n, wall, wall * 1e9 / (2.0 * (double)n));
  }
  return 0;
}
