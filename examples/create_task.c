/* The asyncio example of "Concurrency in Python: threads, processes and
 * coroutines" (seed 003), with concur.
 *
 *   async def execute_task(task):
 *       print(f"Executing task {task}")
 *       await asyncio.sleep(1)
 *   async def main():
 *       task1 = asyncio.create_task(execute_task("task1"))
 *       task2 = asyncio.create_task(execute_task("task2"))
 *       await asyncio.gather(task1, task2)
 *   asyncio.run(main())
 */
#include <stdio.h>

#include <concur.h>

static intptr_t execute_task(void *arg) {
  const char *name = arg;
  printf("Executing task %s\n", name);
  int r = cc_sleep(100);
  printf("Finished task %s\n", name);
  return r;
}

static intptr_t amain(void *arg) {
  cc_task_t *t[2];
  int r = cc_spawn(&t[0], execute_task, "task1");
  if (r == 0)
    r = cc_spawn(&t[1], execute_task, "task2");
  if (r < 0)
    return r;
  return cc_gather(t, 2, NULL);
}

int main(void) {
  int64_t t0 = cc_now();
  int r = cc_run(amain, NULL, NULL);
  if (r < 0) {
    fprintf(stderr, "create_task: %s\n", cc_strerror(r));
    return 1;
  }
  printf("both done in %ld ms (they ran concurrently)\n", (long)(cc_now() - t0));
  return 0;
}
