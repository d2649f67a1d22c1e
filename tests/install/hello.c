/* The smallest concur program, built against an installed concur by
 * tests/install/run.sh (CMake shared and static, pkg-config shared and
 * static) and run: two coroutines sleep at once and are gathered. */
#include <stdio.h>
#include <string.h>

#include <concur.h>

static intptr_t nap(void *arg) {
  int r = cc_sleep(10);
  return r < 0 ? r : (intptr_t)strlen(arg);
}

static intptr_t main_task(void *arg) {
  cc_task_t *t[2];
  int r;
  if ((r = cc_spawn(&t[0], nap, "ab")) < 0 || (r = cc_spawn(&t[1], nap, "cde")) < 0)
    return r;
  intptr_t res[2];
  if ((r = cc_gather(t, 2, res)) < 0)
    return r;
  return res[0] + res[1];
}

int main(void) {
  intptr_t res = 0;
  int r = cc_run(main_task, NULL, &res);
  if (r < 0 || res != 5) {
    fprintf(stderr, "hello: %s, result %ld\n", cc_strerror(r), (long)res);
    return 1;
  }
  printf("hello from concur %s\n", cc_version_string());
  return 0;
}
