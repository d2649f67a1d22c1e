/* Timeouts and cancellation, as asyncio has them, with concur.
 *
 *   try: await asyncio.wait_for(slow(), timeout=0.05)
 *   except asyncio.TimeoutError: ...
 *   async with asyncio.timeout(0.05): await slow()
 *   task.cancel()
 */
#include <stdio.h>

#include <concur.h>

static intptr_t slow(void *arg) {
  int r = cc_sleep(10000);
  if (r == -ECANCELED)
    printf("  slow(): cancelled, cleaning up\n");
  return r < 0 ? r : 42;
}

static intptr_t amain(void *arg) {
  intptr_t v;
  /* asyncio.wait_for */
  int r = cc_wait_for(slow, NULL, 50, &v);
  printf("wait_for(slow, 50 ms) -> %s\n", cc_err_name(r));
  if (r != -ETIMEDOUT)
    return -EIO;

  /* asyncio.timeout(): every suspending call in the block honours it */
  cc_timeout_t scope;
  cc_timeout_begin(&scope, cc_deadline_in(50));
  r = cc_sleep(10000);
  bool expired = cc_timeout_end(&scope);
  printf("timeout(50 ms): sleep -> %s, expired=%d\n", cc_err_name(r), expired);
  if (r != -ETIMEDOUT || !expired)
    return -EIO;

  /* task.cancel() */
  cc_task_t *t;
  if ((r = cc_spawn(&t, slow, NULL)) < 0)
    return r;
  cc_sleep(10);
  cc_cancel(t);
  r = cc_join(t, &v);
  printf("cancelled task -> %s\n", cc_err_name(r));
  return r == -ECANCELED ? 0 : -EIO;
}

int main(void) {
  int r = cc_run(amain, NULL, NULL);
  if (r < 0) {
    fprintf(stderr, "timeouts: %s\n", cc_strerror(r));
    return 1;
  }
  return 0;
}
