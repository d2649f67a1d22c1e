/* threading.Thread, from the seed articles, written with concur.
 *
 *   thread1 = threading.Thread(target=task1)
 *   thread2 = threading.Thread(target=execute_task, args=(task2,))
 *   thread1.start(); thread2.start()
 *   thread1.join();  thread2.join()
 *
 * and the data-mining variant: one thread per URL (here: per item, no
 * network), results collected through a thread-safe queue, a Lock guarding
 * a shared counter. */
#include <concur.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static cc_tlock_t *lock;
static long processed;

/* def execute_task(task): "perform the task" -- here: sum the digits of a
 * number slowly, so that the threads really overlap. */
static intptr_t execute_task(void *arg) {
  intptr_t n = (intptr_t)arg, sum = 0;
  for (; n > 0; n /= 10) {
    sum += n % 10;
    usleep(1000);
  }
  cc_tlock_acquire(lock, CC_FOREVER);
  processed++;
  cc_tlock_release(lock);
  printf("  %-15s (tid %llu) finished: %ld\n", cc_thread_name(NULL),
         (unsigned long long)cc_thread_id(), (long)sum);
  return sum; /* handed to whoever joins the thread */
}

typedef struct {
  const char *url;
  cc_tqueue_t *results;
} fetch_job;

/* def fetch_data(url): ... -- "fetches" by measuring the URL's length. */
static intptr_t fetch_data(void *arg) {
  fetch_job *job = arg;
  usleep(2000);
  cc_tqueue_put(job->results, (void *)(intptr_t)strlen(job->url), CC_FOREVER);
  return 0;
}

int main(void) {
  if (cc_tlock_new(&lock, 0) < 0)
    return 1;

  /* Two threads, started, then joined for their return values. */
  cc_thread_t *t1, *t2;
  cc_thread_opts_t o1 = {.name = "task1"}, o2 = {.name = "task2"};
  printf("two threads:\n");
  if (cc_thread_start(&t1, execute_task, (void *)(intptr_t)123456, &o1) < 0 ||
      cc_thread_start(&t2, execute_task, (void *)(intptr_t)999, &o2) < 0)
    return 1;
  intptr_t r1, r2;
  cc_thread_join(t1, &r1);
  cc_thread_join(t2, &r2);
  printf("task1 returned %ld, task2 returned %ld\n", (long)r1, (long)r2);

  /* One thread per URL; results through a queue (threads = [...]; join all). */
  const char *urls[] = {"https://example.com/page1", "https://example.com/page2",
                        "https://example.com/a/longer/page3", "https://example.org/"};
  enum { N = sizeof urls / sizeof urls[0] };
  cc_tqueue_t *results;
  if (cc_tqueue_new(&results, 0) < 0)
    return 1;
  fetch_job jobs[N];
  cc_thread_t *threads[N];
  for (int i = 0; i < N; i++) {
    jobs[i] = (fetch_job){urls[i], results};
    if (cc_thread_start(&threads[i], fetch_data, &jobs[i], NULL) < 0)
      return 1;
  }
  for (int i = 0; i < N; i++)
    cc_thread_join(threads[i], NULL);
  long total = 0;
  void *item;
  while (cc_tqueue_try_get(results, &item) == 0)
    total += (long)(intptr_t)item;
  printf("fetched %d urls, %ld bytes of url in all\n", N, total);

  int ok = r1 == 21 && r2 == 27 && processed == 2 && total == 25 + 25 + 34 + 20;
  cc_tqueue_free(results);
  cc_tlock_free(lock);
  printf("%s\n", ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
