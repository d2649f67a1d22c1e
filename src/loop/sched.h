/* Internal: the scheduler contract that every module above the loop
 * builds on, implemented by src/loop/ (loop.c: parking and waking; io.c:
 * fd waits). Nothing here is public API.
 *
 * Suspending a coroutine ("parking") and resuming it ("waking") is the only
 * mechanism: every primitive registers the running task somewhere (a
 * waiter list, an fd slot, a future), parks, and is woken by whoever
 * completes the condition. The park token makes stale wake-ups harmless:
 * each park of a task gets a new token, and a wake carrying an old token
 * (the task timed out or was cancelled and moved on) is ignored.
 *
 *   waiter registration          wake (same loop)       wake (other thread)
 *   w.task = cc__self();          cc__wake(t, tok, r)    lock(obj)
 *   w.token = cc__park_token();    -> t runnable now      cc__wake(t, tok, r)
 *   add w to obj                                           -> posted to t's
 *   r = cc__park("what", obj, dl)                             loop inbox
 *   remove w from obj if still in                         unlock(obj)
 *
 * Rule for cross-thread wakers: call cc__wake() while holding the lock that
 * guards the waiter's registration. The waiter removes its registration
 * under the same lock after cc__park() returns, so the task (and its loop)
 * cannot be gone while cc__wake() runs.
 */
#ifndef CC_LOOP_SCHED_H
#define CC_LOOP_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "concur/error.h"
#include "concur/loop.h"
#include "concur/task.h"

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

#define CC_LIKELY(x)   __builtin_expect(!!(x), 1)
#define CC_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* The running task, or NULL outside a coroutine (same as cc_self()). */
cc_task_t *cc__self(void);

/* The token that the next cc__park() of the running task will carry. */
uint64_t cc__park_token(void);

/* Suspends the running task until cc__wake() with the current token, or
 * until min(deadline, the task's scoped deadline) passes (-ETIMEDOUT), or
 * until it is cancelled (-ECANCELED). `what` (a static string such as
 * "queue get") and `obj` are shown by cc_loop_dump(). If the task is already
 * cancelled or past its deadline, returns at once without suspending.
 * Returns the `result` passed to cc__wake() otherwise.
 * -CC_ENOTCORO outside a coroutine. */
int cc__park(const char *what, const void *obj, int64_t deadline);

/* Makes `t` runnable with cc__park() returning `result`, if t is still
 * parked with `token`; otherwise does nothing. From t's own loop thread it
 * acts at once (t runs after the current task suspends or yields); from any
 * other thread it is posted through the loop's inbox (see the rule above).
 * Never suspends.
 * Returns whether the wake-up was delivered. From t's own loop this is
 * exact: false means that park already ended (t was cancelled, timed out
 * or woken by someone else and is merely waiting to run), so a waker that
 * hands something over (a lock, a unit, an item) must give it to the next
 * waiter instead (sync/). From another thread the answer is not known yet
 * and it returns true; cross-thread primitives use the waiter-side rule of
 * task/wait.h instead (a signalled waiter reports success). */
bool cc__wake(cc_task_t *t, uint64_t token, int result);

/* 0 if the running task may suspend now, else -ECANCELED / -ETIMEDOUT
 * (the value cc__park() would return at once). */
int cc__check(void);

/* Sets the task's shield flag and returns the previous value. While
 * shielded, cc__park() ignores cancellation and scope deadlines: used for
 * clean-up waits that must not be cut short (joining cancelled children,
 * re-acquiring a condition's lock). */
bool cc__shield(cc_task_t *t, bool on);

/* The loop a task belongs to. */
cc_loop_t *cc__task_loop(const cc_task_t *t);

/* ---- waiting on file descriptors --------------------------------------- */

#define CC__READ  1u
#define CC__WRITE 2u

/* Suspends the running task until `fd` is readable (CC__READ) or writable
 * (CC__WRITE), the deadline passes, or the task is cancelled. The fd is
 * registered with the poller edge-triggered on first use and stays
 * registered; call cc__fd_forget() before closing it. One reader and one
 * writer may wait on an fd at a time (-EBUSY otherwise); -EEXIST while a
 * callback watcher (loop/io.h) owns the fd. Returns 0 when the fd is ready
 * (or has an error/hang-up condition: the following read/write reports
 * it), or -ETIMEDOUT / -ECANCELED / -EBADF. */
int cc__fd_wait(int fd, unsigned events, int64_t deadline);

/* cc__fd_wait(fd, CC__READ, deadline) for a reader whose last read was
 * short, i.e. that emptied the socket: returns 0 at once if the loop has
 * seen the peer hang up (or an error) on the fd, since the FIN may have
 * come with the data that read took and no further edge would follow;
 * otherwise waits for the next edge (at once if one came since). Lets a
 * request/response reader skip the read that would say EAGAIN. */
int cc__fd_wait_more(int fd, int64_t deadline);

/* The same wait for a plain thread: blocks the calling thread in poll(2)
 * until `fd` is ready or the deadline passes (an error or hang-up counts as
 * ready). Returns 0, -ETIMEDOUT, -EBADF or another -errno. Callers that may
 * run either way use cc__fd_wait() when cc__self() is set, this otherwise. */
int cc__poll_fd(int fd, unsigned events, int64_t deadline);

/* Drops the loop's registration of `fd` (call before close()). Waiters on
 * it are woken with -EBADF. Safe on fds never waited on; leaves an fd that
 * a callback watcher owns alone (cc__io_stop() is its owner's to call). */
void cc__fd_forget(int fd);

/* ---- intrusive waiter lists (for the primitives of sync/ and exec/) ---- */

typedef struct cc__waiter {
  struct cc__waiter *next, *prev;
  cc_task_t *task;
  uint64_t token;
  void *data; /* primitive-specific: the item being put/got, etc. */
  int result; /* set by the waker before cc__wake(), read by the waiter */
  bool linked;
} cc__waiter_t;

/* No count: "anyone waiting?" is `head != NULL` (one store less on every
 * push and pop of a hand-off). */
typedef struct cc__wlist {
  cc__waiter_t *head, *tail;
} cc__wlist_t;

static inline void cc__wlist_push(cc__wlist_t *l, cc__waiter_t *w) {
  w->next = NULL;
  w->prev = l->tail;
  if (l->tail)
    l->tail->next = w;
  else
    l->head = w;
  l->tail = w;
  w->linked = true;
}

static inline void cc__wlist_remove(cc__wlist_t *l, cc__waiter_t *w) {
  if (!w->linked)
    return;
  if (w->prev)
    w->prev->next = w->next;
  else
    l->head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    l->tail = w->prev;
  w->next = w->prev = NULL;
  w->linked = false;
}

/* Unlinks `w`, the head of `l` (cheaper than cc__wlist_remove). */
static inline void cc__wlist_pop_head(cc__wlist_t *l, cc__waiter_t *w) {
  cc__waiter_t *n = w->next;
  l->head = n;
  if (n)
    n->prev = NULL;
  else
    l->tail = NULL;
  w->linked = false;
}

static inline cc__waiter_t *cc__wlist_pop(cc__wlist_t *l) {
  cc__waiter_t *w = l->head;
  if (w)
    cc__wlist_pop_head(l, w);
  return w;
}

/* Initialises `w` for the running task (task + current token). */
static inline void cc__waiter_init(cc__waiter_t *w, void *data) {
  w->next = w->prev = NULL;
  w->task = cc__self();
  w->token = cc__park_token();
  w->data = data;
  w->result = 0;
  w->linked = false;
}

#endif
