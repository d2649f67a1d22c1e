/* The raw cost of the context switch routine alone: two contexts switching
 * back and forth with cc__ctx_switch, no scheduler. The W2 target is
 * measured against this figure. */
#include <stdio.h>

#include "common.h"
#include "coro/coro.h"

static cc__ctx_t main_ctx, co_ctx;

static void co_entry(void *arg) {
  for (;;)
    cc__ctx_switch(&co_ctx, &main_ctx);
}

int main(int argc, char **argv) {
  long long n = bench_arg(argc, argv, 1, 50000000);
  cc__stack_t *s = cc__stack_map(64 * 1024);
  if (!s)
    return 1;
  cc__ctx_make(&co_ctx, s->lo, s->size, co_entry, NULL);
  cc__ctx_switch(&main_ctx, &co_ctx); /* warm up */
  double t0 = bench_now();
  for (long long i = 0; i < n; i++)
    cc__ctx_switch(&main_ctx, &co_ctx);
  double wall = bench_now() - t0;
  printf("X switch-raw impl=concur n=%lld wall_s=%.4f ns_per_switch=%.2f\n", 2 * n, wall,
         wall * 1e9 / (2.0 * (double)n));
  cc__stack_unmap(s);
  return 0;
}
