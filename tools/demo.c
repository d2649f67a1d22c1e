/* concur demo: the showcase, everything in order: the asyncio example of the
 * seed articles, then the sleepers, spawn and mine subcommands. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

/* ---- the asyncio examples of the seed articles ------------------------------ */

static intptr_t execute_task(void *arg) {
  printf("  Executing task %s\n", (const char *)arg);
  int r = cc_sleep(100); /* await asyncio.sleep(...) */
  printf("  Finished task %s\n", (const char *)arg);
  return r < 0 ? r : (intptr_t)strlen(arg);
}

static intptr_t seed_main(void *arg) {
  /* task1 = asyncio.create_task(execute_task("task1")); ... gather */
  cc_task_t *t[2];
  int r;
  if ((r = cc_spawn(&t[0], execute_task, "task1")) < 0 ||
      (r = cc_spawn(&t[1], execute_task, "task2")) < 0)
    return r;
  intptr_t res[2];
  int64_t t0 = cc_now();
  r = cc_gather(t, 2, res);
  printf("  gather -> [%ld, %ld] in %ld ms: the two sleeps overlapped\n", (long)res[0],
         (long)res[1], (long)(cc_now() - t0));
  return r;
}

/* Runs another subcommand as `concur <argv...>` would. */
static int sub(char **argv) {
  int argc = 0;
  while (argv[argc])
    argc++;
  return concur_find_cmd(argv[0])->main(argc, argv);
}

static int demo_main(int argc, char **argv) {
  if (argc > 1)
    return concur_usage_error(argv[0], "unexpected argument '%s'", argv[1]);
  int rc = 0;
  printf("concur %s demo\n\n", cc_version_string());
  printf("1. The asyncio example of the seed articles, as C coroutines\n");
  rc |= concur_run("demo", seed_main, NULL, 0);
  printf("\n2. Massive concurrency: 100,000 sleeping coroutines\n");
  rc |= sub((char *[]){"sleepers", "100000", NULL}) != 0;
  printf("\n3. Spawn and join 1,000,000 tasks\n");
  rc |= sub((char *[]){"spawn", "1000000", NULL}) != 0;
  printf("\n4. Data mining on every core: word frequencies over the Python docs\n");
  rc |= sub((char *[]){"mine", NULL}) != 0;
  printf("\n%s\n", rc ? "demo finished with errors" : "demo finished");
  return rc;
}

const concur_cmd_t concur_cmd_demo = {
    .name = "demo",
    .args = "",
    .summary = "the showcase: everything below, in order",
    .help = "Runs the asyncio example of the seed articles (two tasks gathered),\n"
            "then `sleepers 100000`, `spawn 1000000` and `mine` (which reads the\n"
            "Python documentation of the python3-doc package). `make demo` runs it.\n",
    .main = demo_main,
};
