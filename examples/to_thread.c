/* asyncio.to_thread: a coroutine hands blocking calls to the thread pool
 * while the loop keeps running its other coroutines.
 *
 *   async def main():
 *       ticker = asyncio.create_task(tick())
 *       sizes = await asyncio.gather(*(asyncio.to_thread(blocking_io, p)
 *                                      for p in paths))
 */
#include <concur.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int ticks;

static intptr_t tick(void *arg) {
  (void)arg;
  while (cc_sleep(5) == 0)
    ticks++;
  return 0;
}

/* A blocking call: stat() a file, then sleep as a slow disk would. */
static intptr_t blocking_io(void *arg) {
  struct stat st;
  usleep(50000);
  return stat(arg, &st) == 0 ? (intptr_t)st.st_size : -ENOENT;
}

static intptr_t one_file(void *arg) {
  intptr_t size = 0;
  int r = cc_to_thread(blocking_io, arg, &size);
  return r < 0 ? r : size;
}

static intptr_t amain(void *arg) {
  (void)arg;
  const char *paths[] = {"/etc/hostname", "/etc/passwd", "/bin/sh", "/nonexistent"};
  enum { N = 4 };
  cc_task_t *ticker, *t[N];
  cc_spawn(&ticker, tick, NULL);
  int64_t t0 = cc_now();
  for (int i = 0; i < N; i++)
    cc_spawn(&t[i], one_file, (void *)paths[i]);
  intptr_t sizes[N];
  int r = cc_gather(t, N, sizes);
  int64_t ms = cc_now() - t0;
  for (int i = 0; i < N; i++)
    printf("  %-15s %s %ld\n", paths[i], sizes[i] < 0 ? "error" : "size",
           sizes[i] < 0 ? (long)-sizes[i] : (long)sizes[i]);
  printf("4 blocking calls of 50 ms took %ld ms; the loop ticked %d times meanwhile\n",
         (long)ms, ticks);
  cc_cancel(ticker);
  cc_join(ticker, NULL);
  /* gather reports the failed lookup; everything else succeeded */
  int ok = r == -ENOENT && sizes[1] > 0 && ms < 1000 && ticks >= 3;
  printf("%s\n", ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}

int main(void) {
  intptr_t r = 1;
  if (cc_run(amain, NULL, &r) < 0)
    return 1;
  return (int)r;
}
