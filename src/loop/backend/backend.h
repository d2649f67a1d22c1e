/* Internal: the poller backend contract (in the spirit of Redis's aeApi*).
 * One implementation per platform under src/loop/backend/, chosen by CMake;
 * epoll.c is the Linux one. A kqueue or io_uring backend is one new file
 * implementing the five functions below.
 *
 * The backend has its own event bits, so it depends on nothing of the
 * scheduler; the loop's CC__READ/CC__WRITE happen to have the same values
 * (checked at compile time in loop/io.c) so that nothing is translated. */
#ifndef CC_LOOP_BACKEND_H
#define CC_LOOP_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#define CC__POLL_IN    1u /* readable, or the peer shut its side down */
#define CC__POLL_OUT   2u /* writable */
#define CC__POLL_LEVEL 4u /* (add/mod only) level-triggered; edge otherwise */
#define CC__POLL_HUP   8u /* (reported only) the peer hung up, or an error: sticky */

typedef struct cc__poller cc__poller_t;

/* What a ready fd reported: CC__POLL_IN / CC__POLL_OUT; error and hang-up
 * conditions are reported as both, so that every waiter wakes and its next
 * system call returns the error. `tag` is the one given at add/mod. */
typedef struct cc__poll_event {
  int fd;
  uint32_t tag;
  unsigned events;
} cc__poll_event_t;

/* Errors of every function: a negative errno. */
int cc__poller_new(cc__poller_t **out);
void cc__poller_free(cc__poller_t *p);
/* Registers fd for `events` (CC__POLL_IN|CC__POLL_OUT, possibly none, plus
 * CC__POLL_LEVEL). -EEXIST if it is registered already, -EPERM for files
 * that cannot be polled (regular files), -EBADF. */
int cc__poller_add(cc__poller_t *p, int fd, unsigned events, uint32_t tag);
/* Changes a registration's events and tag. -ENOENT if fd is not registered
 * (it was closed since). */
int cc__poller_mod(cc__poller_t *p, int fd, unsigned events, uint32_t tag);
int cc__poller_del(cc__poller_t *p, int fd);
/* Waits up to timeout_ms (-1: forever, 0: poll) and fills at most `max`
 * events; returns their number or a negative code (-EINTR is returned as 0). */
int cc__poller_wait(cc__poller_t *p, int timeout_ms, cc__poll_event_t *evs, int max);

#endif
