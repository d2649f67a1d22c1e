/* Parallel processing with ProcessPoolExecutor: Python's
 *
 *     with concurrent.futures.ProcessPoolExecutor() as executor:
 *         executor.map(process_data, data)
 *
 * written with concur, in the two ways the executor is used: map over byte
 * items (here: lines of text, each turned into a word count), and submit()
 * returning futures, waited on from a coroutine while its loop keeps
 * running. */
#include <stdio.h>
#include <string.h>

#include <concur.h>

static const char *lines[] = {
    "Concurrency is a powerful technique",
    "to improve the performance and responsiveness of software",
    "Python provides various tools and libraries for concurrent programming",
    "such as threads, asyncio, and multiprocessing",
    "",
    "Each task runs in its own process, allowing them to execute in parallel",
};
enum { NLINES = sizeof lines / sizeof *lines };

/* process_data: the number of words in a line, as text. */
static ssize_t process_data(const void *in, size_t len, void *out, size_t cap,
                            void *ctx) {
  (void)ctx;
  const char *s = in;
  int words = 0, inword = 0;
  for (size_t i = 0; i < len; i++) {
    int sp = s[i] == ' ';
    words += !sp && !inword;
    inword = !sp;
  }
  int n = snprintf(out, cap, "%d words", words);
  return n < (int)cap ? n : -CC_ETOOBIG;
}

static intptr_t main_coro(void *arg) {
  cc_pool_t *pool = arg;

  /* executor.map(process_data, data) */
  cc_buf_t items[NLINES], results[NLINES];
  for (int i = 0; i < NLINES; i++)
    items[i] = (cc_buf_t){(void *)lines[i], strlen(lines[i])};
  int r = cc_pool_map(pool, process_data, NULL, items, NLINES, results, NULL, NULL, NULL);
  if (r < 0)
    return r;
  for (int i = 0; i < NLINES; i++)
    printf("map:    %-10.*s <- \"%s\"\n", (int)results[i].len, (char *)results[i].data,
           lines[i]);
  cc_pool_free_results(results, NLINES);

  /* futures = [executor.submit(process_data, d) for d in data] */
  cc_future_t *futures[NLINES];
  for (int i = 0; i < NLINES; i++) {
    r = cc_pool_submit(pool, process_data, NULL, lines[i], strlen(lines[i]), &futures[i]);
    if (r < 0)
      return r;
  }
  for (int i = 0; i < NLINES; i++) {
    intptr_t v;
    r = cc_future_result(futures[i], cc_deadline_in(10000),
                         &v); /* suspends this coroutine */
    if (r < 0)
      return r;
    cc_buf_t *res = (cc_buf_t *)v;
    printf("submit: %-10.*s <- line %d\n", (int)res->len, (char *)res->data, i);
    cc_future_unref(futures[i]);
  }
  return 0;
}

int main(void) {
  cc_pool_t *pool;
  if (cc_pool_new(&pool, NULL) < 0)
    return 1;
  intptr_t res = 0;
  int r = cc_run(main_coro, pool, &res);
  cc_pool_free(pool);
  if (r < 0 || res < 0) {
    fprintf(stderr, "failed: %s\n", cc_strerror(r < 0 ? r : (int)res));
    return 1;
  }
  return 0;
}
