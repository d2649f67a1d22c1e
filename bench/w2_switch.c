/* W2 switch: two tasks pass a token back and forth through cc_queue,
 * N round trips; ns_per_handoff is one way (wall / 2N). */
#include <stdio.h>
#include <time.h>

#include <concur.h>

#include "common.h"
#include "coro/coro.h"

/* The raw cost of cc__ctx_switch alone, measured in the same process so
 * that the hand-off can be given as a ratio to it (the target:
 * at most 2x). */
/* Thread CPU time, printed beside the wall figures: on a shared machine the
 * wall time of a run includes the time other processes held the core, the
 * CPU time does not (see docs/coro.md). */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static cc__ctx_t raw_main, raw_co;
static double raw_cpu_ns;
static void raw_entry(void *arg) {
  for (;;)
    cc__ctx_switch(&raw_co, &raw_main);
}
static double raw_switch_ns(long long n) {
  cc__stack_t *s = cc__stack_map(64 * 1024);
  if (!s)
    return 0;
  cc__ctx_make(&raw_co, s->lo, s->size, raw_entry, NULL);
  cc__ctx_switch(&raw_main, &raw_co);
  double t0 = bench_now(), c0 = cpu_now();
  for (long long i = 0; i < n; i++)
    cc__ctx_switch(&raw_main, &raw_co);
  double ns = (bench_now() - t0) * 1e9 / (2.0 * (double)n);
  raw_cpu_ns = (cpu_now() - c0) * 1e9 / (2.0 * (double)n);
  cc__stack_unmap(s);
  return ns;
}

static long long n;
static double wall, cpu;
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
  double t0 = bench_now(), c0 = cpu_now();
  for (long long i = 0; i < n; i++) {
    void *v;
    if (cc_queue_put(ping, tok) != 0 || cc_queue_get(pong, &v) != 0)
      return -EIO;
    tok = v;
  }
  wall = bench_now() - t0;
  cpu = cpu_now() - c0;
  cc_join(t, NULL);
  cc_queue_free(ping);
  cc_queue_free(pong);
  return tok == (char *)NULL + n ? 0 : -EIO;
}

int main(int argc, char **argv) {
  n = bench_arg(argc, argv, 1, 10000000);
  /* capacity 1 (asyncio.Queue(1)-like) and a rendezvous (Go's unbuffered channel) */
  double raw = raw_switch_ns(n);
  size_t caps[] = {1, CC_QUEUE_RENDEZVOUS};
  for (int i = 0; i < 2; i++) {
    intptr_t r;
    int rc = cc_run(bench, (void *)(intptr_t)caps[i], &r);
    if (rc != 0) {
      fprintf(stderr, "w2_switch: %s\n", cc_strerror(rc));
      return 1;
    }
    double ns = wall * 1e9 / (2.0 * (double)n);
    double cns = cpu * 1e9 / (2.0 * (double)n);
    printf("W2 switch impl=concur%s n=%lld wall_s=%.4f ns_per_handoff=%.2f "
           "raw_switch_ns=%.2f "
           "ratio_to_raw=%.2f cpu_ns_per_handoff=%.2f raw_switch_cpu_ns=%.2f "
           "cpu_ratio_to_raw=%.2f\n",
           caps[i] == CC_QUEUE_RENDEZVOUS ? "-unbuffered" : "", n, wall, ns, raw,
           ns / raw, cns, raw_cpu_ns, cns / raw_cpu_ns);
  }
  return 0;
}
