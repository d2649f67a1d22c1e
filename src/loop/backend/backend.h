/* Internal: the poller backend contract (in the spirit of Redis's aeApi*).
 * One implementation per platform under src/loop/backend/, chosen by CMake;
 * epoll.c is the Linux one. A kqueue or io_uring backend is one new file. */
#ifndef CC_LOOP_BACKEND_H
#define CC_LOOP_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

typedef struct cc__poller cc__poller_t;

/* What a ready fd reported: CC__READ / CC__WRITE bits (sched.h); error and
 * hang-up conditions are reported as both, so that every waiter wakes and
 * its next system call returns the error. */
typedef struct cc__poll_event {
  int fd;
  unsigned events;
} cc__poll_event_t;

int cc__poller_new(cc__poller_t **out);
void cc__poller_free(cc__poller_t *p);
/* Registers fd for CC__READ|CC__WRITE. Edge-triggered unless `level`. */
int cc__poller_add(cc__poller_t *p, int fd, unsigned events, bool level);
int cc__poller_del(cc__poller_t *p, int fd);
/* Waits up to timeout_ms (-1: forever, 0: poll) and fills at most `max`
 * events; returns their number or a negative code (-EINTR is returned as 0). */
int cc__poller_wait(cc__poller_t *p, int timeout_ms, cc__poll_event_t *evs, int max);

#endif
