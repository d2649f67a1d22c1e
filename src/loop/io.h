/* Internal: I/O callback watchers and callback timers on the loop.
 *
 * The loop's own waits wake a task (cc__fd_wait, cc__park with a deadline).
 * Some callers want "call me back" instead: libcurl's multi-socket
 * interface (CURLMOPT_SOCKETFUNCTION asks to watch an fd for IN/OUT,
 * CURLMOPT_TIMERFUNCTION for one timer) and anything shaped like it. These
 * are modelled on libuv's uv__io_t and uv_timer_t: the caller owns the
 * structure, the loop links it. Usable by any layer above loop (net, http).
 *
 * Rules: callbacks run on the loop's thread in the loop's own context
 * (between task runs, after polling), never inside a task: they must not
 * suspend. They may call cc__wake(), cc_spawn(), cc__io_start/stop and
 * cc__cbtimer_start/stop (on any watcher or timer, their own included).
 * While the loop's main task lives, a started watcher or an armed timer is
 * polled for even when no task is runnable or parked; watchers alone do not
 * keep cc_run() alive after main returns. cc_loop_free() with watchers still
 * started is a caller bug: an assert in debug builds, otherwise they are
 * dropped.
 *
 * An fd has one owner on a loop: either callback watchers (one cc__io_t)
 * or tasks waiting through cc__fd_wait(). Each refuses the fd while the
 * other holds it (-EEXIST).
 */
#ifndef CC_LOOP_IO_H
#define CC_LOOP_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "concur/loop.h"
#include "loop/sched.h"
#include "loop/timer.h"

typedef struct cc__io cc__io_t;
/* events: CC__READ | CC__WRITE (loop/sched.h), only among those wanted; an
 * error or hang-up is reported as both. */
typedef void (*cc__io_fn)(cc__io_t *w, unsigned events);

struct cc__io {
  cc__io_fn fn;
  void *data; /* the caller's */
  /* private */
  cc_loop_t *loop;
  int fd;
  unsigned events; /* wanted: CC__READ | CC__WRITE, 0 when paused */
  uint32_t tag;    /* this registration's tag in the poller */
  bool active;     /* started and not stopped */
};

/* Prepares `w` to watch `fd`; does not register anything. Never fails. */
void cc__io_init(cc__io_t *w, int fd, cc__io_fn fn, void *data);

/* Sets the events `w` waits for on `loop` (the calling thread's loop):
 * CC__READ, CC__WRITE, both, or 0 (paused but kept). Level-triggered: while
 * the fd stays ready and the event is wanted, fn is called again on every
 * loop iteration. Calling it again only changes the mask: the poller is not
 * called at all when the mask is unchanged, and is never asked to drop and
 * re-add the fd. Errors: -EEXIST if a task is parked on this fd through
 * cc__fd_wait() or another watcher watches it, -ENOMEM, -EBADF (including
 * files that cannot be polled), -EINVAL (NULL, or another loop than the
 * one it was started on). */
int cc__io_start(cc_loop_t *loop, cc__io_t *w, unsigned events);

/* Stops watching. Safe if never started; safe when the fd was already
 * closed, even if its number was reused meanwhile by an fd that something
 * else watches (only w's own registration is dropped); safe from inside fn
 * (fn is then not called again for that iteration's events). Once it
 * returns, the loop holds no reference to w. (The kernel drops a closed
 * fd from the poller only when no duplicate of it stays open: with dup()ed
 * fds, stop the watcher before closing.) */
void cc__io_stop(cc__io_t *w);

/* True while w is started (between cc__io_start and cc__io_stop). */
static inline bool cc__io_active(const cc__io_t *w) {
  return w->active;
}

/* One-shot callback timer on the loop's timer structure (millisecond
 * deadlines of cc_now()). */
typedef struct cc__cbtimer cc__cbtimer_t;
typedef void (*cc__cbtimer_fn)(cc__cbtimer_t *t);

struct cc__cbtimer {
  cc__cbtimer_fn fn;
  void *data; /* the caller's */
  /* private */
  cc__timer_t timer;
  cc_loop_t *loop;
  struct cc__cbtimer *due_prev, *due_next; /* in the loop's list of expired timers */
  uint8_t state;
};

void cc__cbtimer_init(cc__cbtimer_t *t, cc__cbtimer_fn fn, void *data);
/* (Re)arms the timer to fire once at absolute `deadline` (cc_now() ms;
 * <= now fires on the next loop iteration, never from inside this call;
 * a negative deadline is taken as 0). Returns 0 or -ENOMEM (-EINVAL for
 * NULL). */
int cc__cbtimer_start(cc_loop_t *loop, cc__cbtimer_t *t, int64_t deadline);
/* Disarms the timer. Safe if not armed; safe from inside fn. */
void cc__cbtimer_stop(cc__cbtimer_t *t);
/* True while armed (started, and neither fired nor stopped). */
bool cc__cbtimer_armed(const cc__cbtimer_t *t);

#endif
