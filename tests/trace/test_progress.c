/* The progress display: the bar on a terminal, plain lines elsewhere, the
 * caller's fields, the stateless formatter the pool uses, many threads. */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "test.h"

static char *contents(FILE *f) {
  fflush(f);
  long n = ftell(f);
  rewind(f);
  char *s = calloc(1, (size_t)n + 1);
  ASSERT_EQ(fread(s, 1, (size_t)n, f), (size_t)n);
  return s;
}

static int count(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

TEST(lines) {
  FILE *f = tmpfile();
  ASSERT_NOT_NULL(f);
  cc_progress_t *p;
  cc_progress_opts_t o = {.label = "mine",
                          .unit = "files",
                          .mode = CC_PROGRESS_LINES,
                          .out = f,
                          .interval_ms = 20};
  ASSERT_EQ(cc_progress_new(&p, 10, &o), 0);
  ASSERT_EQ(cc_progress_field(p, "in flight", 4), 0);
  ASSERT_EQ(cc_progress_field(p, "errors", 0), 0);
  cc_progress_add(p, 3); /* too soon: no line yet */
  usleep(30 * 1000);
  cc_progress_add(p, 1); /* a line: 4/10 */
  cc_progress_field(p, "errors", 2);
  cc_progress_add(p, 6); /* too soon again */
  cc_progress_finish(p);
  cc_progress_finish(p); /* once only */
  cc_progress_free(p);
  char *s = contents(f);
  /* Exactly two lines unless the machine stalls past the interval between
   * calls "too soon" (then a 3/10 or 10/10 line too): not a timing test. */
  ASSERT_GE(count(s, "\n"), 2);
  ASSERT_TRUE(strstr(s, "mine: 4/10 files (40.0%), ") != NULL);
  ASSERT_TRUE(strstr(s, ", in flight 4, errors 0, ") != NULL);
  ASSERT_TRUE(strstr(s, "eta ") != NULL);
  ASSERT_TRUE(strstr(s, "\nmine: done, 10/10 files in ") != NULL);
  ASSERT_TRUE(strstr(s, "files/s), in flight 4, errors 2\n") != NULL);
  ASSERT_TRUE(strchr(s, '\r') == NULL && strchr(s, '\033') == NULL);
  free(s);
  fclose(f);
}

TEST(bar) {
  FILE *f = tmpfile();
  cc_progress_t *p;
  cc_progress_opts_t o = {.label = "crawl",
                          .unit = "pages",
                          .mode = CC_PROGRESS_BAR,
                          .out = f,
                          .redraw_ms = 1};
  ASSERT_EQ(cc_progress_new(&p, 4, &o), 0);
  cc_progress_field(p, "queue", 7);
  usleep(2000);
  cc_progress_add(p, 2);
  cc_progress_free(p); /* finishes */
  char *s = contents(f);
  ASSERT_TRUE(strstr(s, "\rcrawl [############............] 2/4 pages 50.0% | ") == s);
  ASSERT_TRUE(strstr(s, " | queue 7 | ") != NULL);
  ASSERT_TRUE(strstr(s, "\033[K") != NULL);
  ASSERT_EQ(count(s, "\n"), 1);
  ASSERT_EQ(s[strlen(s) - 1], '\n');
  free(s);
  fclose(f);
}

TEST(unknown_total_and_limits) {
  FILE *f = tmpfile();
  cc_progress_t *p;
  cc_progress_opts_t o = {.mode = CC_PROGRESS_LINES, .out = f, .interval_ms = 1};
  ASSERT_EQ(cc_progress_new(&p, 0, &o), 0);
  static const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
  for (int i = 0; i < CC_PROGRESS_MAX_FIELDS; i++)
    ASSERT_EQ(cc_progress_field(p, names[i], i), 0);
  ASSERT_ERR(cc_progress_field(p, names[8], 8), -ENOSPC);
  ASSERT_EQ(cc_progress_field(p, "a", 42), 0); /* an existing one still updates */
  ASSERT_ERR(cc_progress_field(p, NULL, 1), -EINVAL);
  usleep(3000);
  cc_progress_add(p, 5); /* a stats line: total unknown */
  cc_progress_set_total(p, 0);
  cc_progress_free(p);
  char *s = contents(f);
  ASSERT_TRUE(strstr(s, "progress: 5 items, ") == s);
  ASSERT_TRUE(strstr(s, "\nprogress: done, 5 items in ") != NULL);
  ASSERT_TRUE(strstr(s, ", a 42, b 1,") != NULL);
  ASSERT_TRUE(strstr(s, "%") == NULL);
  free(s);
  fclose(f);
  ASSERT_ERR(cc_progress_new(NULL, 1, NULL), -EINVAL);
  cc_progress_free(NULL);
}

TEST(short_job_stays_silent) {
  FILE *f = tmpfile();
  cc_progress_t *p;
  cc_progress_opts_t o = {.mode = CC_PROGRESS_LINES, .out = f, .interval_ms = 60000};
  ASSERT_EQ(cc_progress_new(&p, 3, &o), 0);
  cc_progress_add(p, 3);
  cc_progress_free(p);
  ASSERT_EQ(ftell(f), 0);
  fclose(f);
}

TEST(off_and_print) {
  FILE *f = tmpfile();
  cc_progress_t *p;
  cc_progress_opts_t o = {.mode = CC_PROGRESS_OFF, .out = f};
  ASSERT_EQ(cc_progress_new(&p, 3, &o), 0);
  cc_progress_add(p, 3);
  cc_progress_free(p);
  ASSERT_EQ(ftell(f), 0);
  /* The stateless form, as the process pool draws its bar. */
  cc_progress_print(f, true, "pool", "items", 10, 10, 2.0, true, NULL, 0);
  cc_progress_field_t fl[] = {{"errors", 1}};
  cc_progress_print(f, false, "pool", "items", 5, 10, 1.0, false, fl, 1);
  char *s = contents(f);
  ASSERT_TRUE(strstr(s, "\rpool [########################] 10/10 items 100.0% | 5.00/s | "
                        "2.0s\033[K\n") == s);
  ASSERT_TRUE(strstr(s, "pool: 5/10 items (50.0%), 5.00 items/s, errors 1, 1.0s elapsed, "
                        "eta 1.0s\n") != NULL);
  free(s);
  fclose(f);
}

static void *adder(void *arg) {
  for (int i = 0; i < 2000; i++) {
    cc_progress_add(arg, 1);
    if (i % 100 == 0)
      cc_progress_field(arg, "errors", i);
  }
  return NULL;
}

TEST(threads) {
  FILE *f = tmpfile();
  cc_progress_t *p;
  cc_progress_opts_t o = {.mode = CC_PROGRESS_LINES, .out = f, .interval_ms = 1};
  ASSERT_EQ(cc_progress_new(&p, 8000, &o), 0);
  usleep(3000); /* the first add is past the interval: a line, so a summary */
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    ASSERT_EQ(pthread_create(&t[i], NULL, adder, p), 0);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  cc_progress_free(p);
  char *s = contents(f);
  ASSERT_TRUE(strstr(s, "progress: done, 8000/8000 items in ") != NULL);
  free(s);
  fclose(f);
}
