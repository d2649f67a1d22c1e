/* The asyncio example of "Concurrency in Python" (seed 001), with concur.
 *
 *   async def task1(): ...
 *   async def task2(): ...
 *   loop = asyncio.get_event_loop()
 *   results = loop.run_until_complete(asyncio.gather(task1(), task2()))
 *
 * Each coroutine is a plain C function; cc_gather() waits for all of them
 * and collects their results in order.
 */
#include <stdio.h>

#include <concur.h>

static intptr_t task1(void *arg) {
  cc_sleep(20); /* perform some asynchronous work */
  return 1;
}

static intptr_t task2(void *arg) {
  cc_sleep(10); /* perform another asynchronous task */
  return 2;
}

static intptr_t amain(void *arg) {
  cc_task_t *tasks[2];
  int r;
  if ((r = cc_spawn(&tasks[0], task1, NULL)) < 0 ||
      (r = cc_spawn(&tasks[1], task2, NULL)) < 0)
    return r;
  intptr_t results[2];
  int64_t t0 = cc_now();
  r = cc_gather(tasks, 2, results);
  if (r < 0)
    return r;
  /* Both slept concurrently: the whole took ~20 ms, not 30. */
  printf("results: %ld %ld after %ld ms\n", (long)results[0], (long)results[1],
         (long)(cc_now() - t0));
  return results[0] + results[1] == 3 ? 0 : -EIO;
}

int main(void) {
  intptr_t res;
  int r = cc_run(amain, NULL, &res);
  if (r < 0) {
    fprintf(stderr, "asyncio_gather: %s\n", cc_strerror(r));
    return 1;
  }
  return 0;
}
