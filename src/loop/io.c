/* Readiness of file descriptors: tasks parked on an fd (cc__fd_wait, for
 * the net layer's reads and writes) and callback watchers and timers
 * (io.h, for libcurl-style "call me back" users).
 *
 * Tasks use one edge-triggered registration per fd, made on first use and
 * kept until cc__fd_forget(): an edge that arrives with nobody waiting is
 * remembered in `ready`. Watchers use a level-triggered registration whose
 * mask cc__io_start() changes in place. The slot of an fd belongs to one
 * of the two at a time; the invariant is
 *     w->active  <=>  l->fds[w->fd].io == w.
 * Every registration carries a tag in the poller (0 for tasks, a fresh
 * number for each watcher registration), so that an event already fetched
 * for a registration that a callback dropped is not delivered to whatever
 * took the fd number next in the same batch.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "loop/io.h"
#include "loop/loop_int.h"

_Static_assert(CC__READ == CC__POLL_IN && CC__WRITE == CC__POLL_OUT,
               "the loop passes poller events through untranslated");

/* A poller error as cc__fd_wait/cc__io_start report it. */
static int poll_err(int r) {
  return r == -EPERM ? -EBADF : r;
}

/* Drops the watcher of slot s (whose fd was closed and reused: the caller
 * has just registered the new fd). The watcher stays the caller's; its
 * cc__io_stop() becomes a no-op. */
static void io_evict(cc_loop_t *l, cc__fdslot_t *s) {
  s->io->active = false;
  s->io = NULL;
  l->nio--;
}

static cc__fdslot_t *fd_slot(cc_loop_t *l, int fd) {
  if ((size_t)fd >= l->nfds) {
    size_t n = l->nfds ? l->nfds : 64;
    while (n <= (size_t)fd)
      n *= 2;
    cc__fdslot_t *p = realloc(l->fds, n * sizeof *p);
    if (!p)
      return NULL;
    memset(p + l->nfds, 0, (n - l->nfds) * sizeof *p);
    l->fds = p;
    l->nfds = n;
  }
  return &l->fds[fd];
}

int cc__fd_wait(int fd, unsigned events, int64_t deadline) {
  cc_loop_t *l = cc__tl_loop;
  cc_task_t *self = l ? l->current : NULL;
  if (!self)
    return -CC_ENOTCORO;
  if (fd < 0 || !(events & (CC__READ | CC__WRITE)))
    return -EBADF;
  cc__fdslot_t *s = fd_slot(l, fd);
  if (!s)
    return -ENOMEM;
  if (CC_UNLIKELY(s->io != NULL)) {
    /* A callback watcher owns the fd, unless the fd it watched was closed
     * and its number reused: then the kernel dropped that registration
     * and adding this fd succeeds. */
    int r = cc__poller_add(l->poller, fd, CC__POLL_IN | CC__POLL_OUT, 0);
    if (r < 0)
      return poll_err(r);
    l->poller_ctls++;
    io_evict(l, s);
    s->registered = 1;
    s->ready = 0;
    s->hup = 0;
  } else if (!s->registered) {
    int r = cc__poller_add(l->poller, fd, CC__POLL_IN | CC__POLL_OUT, 0);
    if (r == -EEXIST)
      r = cc__poller_mod(l->poller, fd, CC__POLL_IN | CC__POLL_OUT, 0);
    if (r < 0)
      return poll_err(r);
    l->poller_ctls++;
    s->registered = 1;
    s->ready = 0;
    s->hup = 0;
  } else if (s->ready & events) {
    /* An edge arrived since the caller's last wait: let it retry first. */
    s->ready &= (uint8_t)~events;
    return 0;
  }
  if (((events & CC__READ) && s->rd) || ((events & CC__WRITE) && s->wr))
    return -EBUSY;
  uint64_t tok = self->token;
  if (events & CC__READ) {
    s->rd = self;
    s->rtok = tok;
  }
  if (events & CC__WRITE) {
    s->wr = self;
    s->wtok = tok;
  }
  int r = cc__park(events & CC__READ ? "fd read" : "fd write", (const void *)(intptr_t)fd,
                   deadline);
  s = &l->fds[fd]; /* the table may have moved while parked */
  if (s->rd == self && s->rtok == tok)
    s->rd = NULL;
  if (s->wr == self && s->wtok == tok)
    s->wr = NULL;
  if (r == 0)
    s->ready &= (uint8_t)~events;
  return r;
}

int cc__fd_wait_more(int fd, int64_t deadline) {
  cc_loop_t *l = cc__tl_loop;
  if (l && l->current && fd >= 0 && (size_t)fd < l->nfds && l->fds[fd].hup)
    return 0;
  return cc__fd_wait(fd, CC__READ, deadline);
}

int cc__poll_fd(int fd, unsigned events, int64_t deadline) {
  struct pollfd p = {.fd = fd, .events = 0};
  if (events & CC__READ)
    p.events |= POLLIN;
  if (events & CC__WRITE)
    p.events |= POLLOUT;
  for (;;) {
    int ms = -1;
    if (deadline >= 0) {
      int64_t left = deadline - cc_now();
      if (left <= 0)
        return -ETIMEDOUT;
      ms = left > INT_MAX ? INT_MAX : (int)left;
    }
    int r = poll(&p, 1, ms);
    if (r > 0)
      return (p.revents & POLLNVAL) ? -EBADF : 0;
    if (r < 0 && errno != EINTR)
      return -errno;
    /* 0 (time-out) or EINTR: re-check the deadline against the clock */
  }
}

void cc__fd_forget(int fd) {
  cc_loop_t *l = cc__tl_loop;
  if (!l || fd < 0 || (size_t)fd >= l->nfds)
    return;
  cc__fdslot_t *s = &l->fds[fd];
  if (s->io)
    return; /* a callback watcher's: its owner stops it */
  if (s->registered) {
    cc__poller_del(l->poller, fd);
    l->poller_ctls++;
  }
  if (s->rd)
    cc__wake(s->rd, s->rtok, -EBADF);
  if (s->wr)
    cc__wake(s->wr, s->wtok, -EBADF);
  memset(s, 0, sizeof *s);
}

void cc__fd_ready(cc_loop_t *l, const cc__poll_event_t *pe) {
  int fd = pe->fd;
  if ((size_t)fd >= l->nfds)
    return;
  cc__fdslot_t *s = &l->fds[fd];
  if (CC_UNLIKELY(s->io != NULL)) {
    cc__io_t *w = s->io;
    unsigned e = pe->events & w->events;
    /* The tag tells this registration from an earlier one of the same fd
     * number stopped by a callback of this batch. */
    if (e && pe->tag == w->tag)
      w->fn(w, e);
    return;
  }
  if (CC_UNLIKELY(pe->tag != 0))
    return; /* a watcher's, stopped earlier in this batch */
  unsigned ev = pe->events;
  if (CC_UNLIKELY(ev & CC__POLL_HUP))
    s->hup = 1;
  if (ev & CC__READ) {
    if (s->rd) {
      cc__wake(s->rd, s->rtok, 0);
      s->rd = NULL;
    } else {
      s->ready |= CC__READ;
    }
  }
  if (ev & CC__WRITE) {
    if (s->wr) {
      cc__wake(s->wr, s->wtok, 0);
      s->wr = NULL;
    } else {
      s->ready |= CC__WRITE;
    }
  }
}

/* ---- callback watchers ---------------------------------------------------- */

void cc__io_init(cc__io_t *w, int fd, cc__io_fn fn, void *data) {
  memset(w, 0, sizeof *w);
  w->fn = fn;
  w->data = data;
  w->fd = fd;
}

int cc__io_start(cc_loop_t *l, cc__io_t *w, unsigned events) {
  if (!l || !w || !w->fn)
    return -EINVAL;
  events &= CC__READ | CC__WRITE;
  if (w->fd < 0)
    return -EBADF;
  if (w->active && w->loop != l)
    return -EINVAL;
  cc__fdslot_t *s = fd_slot(l, w->fd);
  if (!s)
    return -ENOMEM;
  /* Paused watchers stay registered edge-triggered with no events: a
   * hang-up is then reported once, not on every iteration. */
  unsigned pev = events ? events | CC__POLL_LEVEL : 0;
  int r;
  if (w->active) {
    if (events == w->events)
      return 0;
    r = cc__poller_mod(l->poller, w->fd, pev, w->tag);
    if (r == -ENOENT) /* w's fd was closed; the number is another file now */
      r = cc__poller_add(l->poller, w->fd, pev, w->tag);
    if (r < 0)
      return poll_err(r);
    l->poller_ctls++;
    w->events = events;
    return 0;
  }
  if (s->rd || s->wr)
    return -EEXIST;
  uint32_t tag = ++l->io_tag;
  if (tag == 0)
    tag = ++l->io_tag;
  if (s->io) {
    /* Another watcher's, unless its fd was closed and the number reused. */
    r = cc__poller_add(l->poller, w->fd, pev, tag);
    if (r == 0)
      io_evict(l, s);
  } else if (s->registered) {
    /* Tasks waited on it before (nobody waits now): take it over. */
    r = cc__poller_mod(l->poller, w->fd, pev, tag);
    if (r == -ENOENT)
      r = cc__poller_add(l->poller, w->fd, pev, tag);
  } else {
    r = cc__poller_add(l->poller, w->fd, pev, tag);
    if (r == -EEXIST)
      r = cc__poller_mod(l->poller, w->fd, pev, tag);
  }
  if (r < 0)
    return poll_err(r);
  l->poller_ctls++;
  s->registered = 0;
  s->ready = 0;
  s->hup = 0;
  s->io = w;
  w->loop = l;
  w->tag = tag;
  w->events = events;
  w->active = true;
  l->nio++;
  return 0;
}

void cc__io_stop(cc__io_t *w) {
  if (!w || !w->active)
    return;
  cc_loop_t *l = w->loop;
  cc__fdslot_t *s = &l->fds[w->fd];
  assert(s->io == w);
  /* Fails harmlessly (ENOENT, EBADF) when the fd was closed already. */
  cc__poller_del(l->poller, w->fd);
  l->poller_ctls++;
  s->io = NULL;
  s->ready = 0;
  s->hup = 0;
  w->active = false;
  w->events = 0;
  l->nio--;
}

/* ---- callback timers ------------------------------------------------------ */

enum { CBT_IDLE = 0, CBT_ARMED, CBT_DUE };

void cc__cbtimer_init(cc__cbtimer_t *t, cc__cbtimer_fn fn, void *data) {
  memset(t, 0, sizeof *t);
  t->fn = fn;
  t->data = data;
  t->timer.kind = CC__TIMER_CALLBACK;
}

static void due_unlink(cc_loop_t *l, cc__cbtimer_t *t) {
  if (t->due_prev)
    t->due_prev->due_next = t->due_next;
  else
    l->due_head = t->due_next;
  if (t->due_next)
    t->due_next->due_prev = t->due_prev;
  else
    l->due_tail = t->due_prev;
  t->due_prev = t->due_next = NULL;
}

void cc__cbtimer_stop(cc__cbtimer_t *t) {
  if (!t || t->state == CBT_IDLE)
    return;
  cc_loop_t *l = t->loop;
  if (t->state == CBT_ARMED)
    cc__timers_del(&l->timers, &t->timer);
  else
    due_unlink(l, t);
  t->state = CBT_IDLE;
  l->ncbtimers--;
}

int cc__cbtimer_start(cc_loop_t *l, cc__cbtimer_t *t, int64_t deadline) {
  if (!l || !t || !t->fn)
    return -EINVAL;
  cc__cbtimer_stop(t);
  if (deadline < 0)
    deadline = 0;
  t->timer.kind = CC__TIMER_CALLBACK;
  int r = cc__timers_add(&l->timers, &t->timer, deadline);
  if (r < 0)
    return r;
  t->loop = l;
  t->state = CBT_ARMED;
  l->ncbtimers++;
  return 0;
}

bool cc__cbtimer_armed(const cc__cbtimer_t *t) {
  return t && t->state != CBT_IDLE;
}

/* Expired timers are first collected, then run: a callback that re-arms a
 * timer for "now" thus fires on the next iteration, not in this one. */
void cc__cbtimer_expired(cc_loop_t *l, cc__timer_t *tm) {
  cc__cbtimer_t *t = container_of(tm, cc__cbtimer_t, timer);
  cc__timers_del(&l->timers, tm);
  t->state = CBT_DUE;
  t->due_next = NULL;
  t->due_prev = l->due_tail;
  if (l->due_tail)
    l->due_tail->due_next = t;
  else
    l->due_head = t;
  l->due_tail = t;
}

void cc__cbtimers_run(cc_loop_t *l) {
  cc__cbtimer_t *t;
  while ((t = l->due_head) != NULL) {
    due_unlink(l, t);
    t->state = CBT_IDLE;
    l->ncbtimers--;
    t->fn(t);
  }
}
