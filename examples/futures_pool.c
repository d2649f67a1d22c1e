/* concurrent.futures, from the seed articles, written with concur:
 *
 *   with concurrent.futures.ThreadPoolExecutor() as executor:
 *       results = list(executor.map(process_data, data))
 *
 * plus submit() / as_completed() / wait(FIRST_COMPLETED), and a failing
 * item reported by its index. */
#include <concur.h>
#include <stdio.h>
#include <unistd.h>

/* def process_data(data): -- count the primes below `data`. */
static intptr_t process_data(void *arg) {
  intptr_t limit = (intptr_t)arg, count = 0;
  if (limit < 0)
    return -EDOM; /* a failing item: the future gets the error */
  for (intptr_t n = 2; n < limit; n++) {
    int prime = 1;
    for (intptr_t d = 2; d * d <= n; d++)
      if (n % d == 0) {
        prime = 0;
        break;
      }
    count += prime;
  }
  return count;
}

static intptr_t slow_echo(void *arg) {
  usleep((useconds_t)(intptr_t)arg * 1000);
  return (intptr_t)arg;
}

int main(void) {
  cc_executor_t *ex;
  cc_executor_opts_t opts = {.max_workers = 4, .name_prefix = "mine"};
  if (cc_executor_new(&ex, &opts) < 0)
    return 1;
  int ok = 1;

  /* executor.map: results in input order. */
  void *data[8];
  intptr_t results[8];
  for (int i = 0; i < 8; i++)
    data[i] = (void *)(intptr_t)((i + 1) * 10000);
  int r = cc_executor_map(ex, process_data, data, 8, results, NULL, 1, CC_FOREVER);
  printf("map: %s\n", r == 0 ? "ok" : cc_strerror(r));
  for (int i = 0; i < 8; i++)
    printf("  primes below %6ld: %ld\n", (long)(intptr_t)data[i], (long)results[i]);
  ok &= r == 0 && results[0] == 1229 && results[7] == 7837;

  /* A failing item is reported with its index; the others still ran. */
  data[5] = (void *)(intptr_t)-1;
  size_t bad = 0;
  r = cc_executor_map(ex, process_data, data, 8, results, &bad, 1, CC_FOREVER);
  printf("map with a bad item: %s at index %zu\n", cc_err_name(r), bad);
  ok &= r == -EDOM && bad == 5 && results[6] == 6935;

  /* submit + as_completed: results in the order they finish. */
  intptr_t delays[4] = {40, 10, 30, 0};
  cc_future_t *fs[4];
  for (int i = 0; i < 4; i++)
    if (cc_executor_submit(ex, slow_echo, (void *)delays[i], &fs[i]) < 0)
      return 1;
  cc_as_completed_t *it;
  if (cc_as_completed_new(&it, fs, 4) < 0)
    return 1;
  printf("as_completed:");
  cc_future_t *f;
  int got = 0;
  while (cc_as_completed_next(it, cc_deadline_in(5000), &f) == 0 && f) {
    intptr_t v;
    cc_future_result(f, CC_FOREVER, &v);
    printf(" %ld", (long)v); /* usually 0 10 30 40: in finishing order */
    got++;
  }
  printf("\n");
  ok &= got == 4;
  cc_as_completed_free(it);

  /* wait(FIRST_COMPLETED) with a timeout. */
  for (int i = 0; i < 4; i++)
    cc_future_unref(fs[i]);
  cc_executor_submit(ex, slow_echo, (void *)(intptr_t)200, &fs[0]);
  cc_executor_submit(ex, slow_echo, (void *)(intptr_t)5, &fs[1]);
  int n = cc_futures_wait(fs, 2, CC_FIRST_COMPLETED, cc_deadline_in(1000));
  printf("wait(FIRST_COMPLETED): %d done, the 5 ms one %s\n", n,
         cc_future_done(fs[1]) ? "finished" : "not finished");
  ok &= n >= 1;
  cc_future_unref(fs[0]);
  cc_future_unref(fs[1]);

  /* with ... as executor: shutdown(wait=True) at the end of the block. */
  cc_executor_free(ex);
  printf("%s\n", ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
