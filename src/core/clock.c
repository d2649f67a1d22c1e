/* The monotonic clock in milliseconds and nanoseconds. */
#include <stdint.h>
#include <time.h>

#include "concur/loop.h"

int64_t cc_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cc_now(void) {
  return cc_now_ns() / 1000000;
}

/* Saturates: a duration too long to add (INT64_MAX ms) gives the latest
 * deadline there is, which never comes, rather than overflowing into the
 * past (or into CC_FOREVER's negative range). */
int64_t cc_deadline_in(int64_t ms) {
  if (ms < 0)
    return CC_FOREVER;
  int64_t now = cc_now();
  return ms > INT64_MAX - now ? INT64_MAX : now + ms;
}
