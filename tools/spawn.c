/* concur spawn [N]: spawn and join N tasks, with the cost of each. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

static intptr_t ret_index(void *arg) {
  return (intptr_t)arg;
}

static intptr_t spawn_task(void *arg) {
  long n = *(long *)arg;
  cc_task_t **ts = malloc((size_t)n * sizeof *ts);
  if (!ts)
    return -ENOMEM;
  int64_t t0 = cc_now_ns();
  for (long i = 0; i < n; i++) {
    int r = cc_spawn(&ts[i], ret_index, (void *)(intptr_t)i);
    if (r < 0)
      return r;
  }
  long long sum = 0;
  for (long i = 0; i < n; i++) {
    intptr_t v;
    int r = cc_join(ts[i], &v);
    if (r < 0)
      return r;
    sum += v;
  }
  double s = (double)(cc_now_ns() - t0) / 1e9;
  free(ts);
  printf("  spawned and joined %ld tasks in %.3f s (%.0f ns per task), sum %s\n", n, s,
         s * 1e9 / (double)n, sum == (long long)n * (n - 1) / 2 ? "correct" : "WRONG");
  return sum == (long long)n * (n - 1) / 2 ? 0 : -EIO;
}

static int spawn_main(int argc, char **argv) {
  long n = 1000000;
  if (argc > 2)
    return concur_usage_error(argv[0], "unexpected argument '%s'", argv[2]);
  if (argc == 2 && concur_parse_count(argv[0], "count", argv[1], &n) != 0)
    return 2;
  return concur_run(argv[0], spawn_task, &n, 0);
}

const concur_cmd_t concur_cmd_spawn = {
    .name = "spawn",
    .args = "[N]",
    .summary = "spawn and join N tasks (1,000,000)",
    .help = "Spawns N tasks that each return their index, joins them in order, checks\n"
            "the sum and prints the time per task.\n"
            "\n"
            "  N    how many tasks (default 1000000)\n",
    .main = spawn_main,
};
