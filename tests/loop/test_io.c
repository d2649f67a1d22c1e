/* The loop's callback watchers and callback timers (loop/io.h). */
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop/io.h"
#include "loop/loop_int.h"
#include "test.h"

/* Lets the loop poll (sleeping 1 ms at a time) until *flag or ~2 s. */
#define SPIN_UNTIL(cond)                                                                 \
  do {                                                                                   \
    for (int spin_ = 0; spin_ < 2000 && !(cond); spin_++)                                \
      cc_sleep(1);                                                                       \
  } while (0)

/* Lets the loop poll n times. */
static void iterations(int n) {
  for (int i = 0; i < n; i++)
    cc_sleep(1);
}

struct rec {
  int calls;
  unsigned last, all;
  int drain; /* read what is there on each call */
  int stop_self;
  cc__io_t *stop_other;
};

static void on_io(cc__io_t *w, unsigned ev) {
  struct rec *r = w->data;
  r->calls++;
  r->last = ev;
  r->all |= ev;
  if (r->drain && (ev & CC__READ)) {
    char buf[256];
    while (read(w->fd, buf, sizeof buf) > 0) {
    }
  }
  if (r->stop_self)
    cc__io_stop(w);
  if (r->stop_other)
    cc__io_stop(r->stop_other);
}

static void mkpipe(int p[2]) {
  ASSERT_OK(pipe2(p, O_NONBLOCK | O_CLOEXEC));
}

static intptr_t t_readable_writable(void *unused) {
  cc_loop_t *l = cc_loop_current();
  int p[2];
  mkpipe(p);
  struct rec rr = {.drain = 1}, wr = {0};
  cc__io_t rw, ww;
  cc__io_init(&rw, p[0], on_io, &rr);
  cc__io_init(&ww, p[1], on_io, &wr);
  ASSERT_OK(cc__io_start(l, &rw, CC__READ));
  ASSERT_TRUE(cc__io_active(&rw));
  iterations(3);
  ASSERT_EQ(rr.calls, 0); /* nothing to read yet */
  ASSERT_EQ(write(p[1], "x", 1), 1);
  SPIN_UNTIL(rr.calls > 0);
  ASSERT_EQ(rr.calls, 1);
  ASSERT_EQ(rr.last, CC__READ);
  iterations(3);
  ASSERT_EQ(rr.calls, 1); /* drained: not called again */
  /* the write end of an empty pipe is writable at once */
  ASSERT_OK(cc__io_start(l, &ww, CC__WRITE));
  SPIN_UNTIL(wr.calls > 0);
  ASSERT_EQ(wr.last, CC__WRITE);
  cc__io_stop(&ww);
  ASSERT_FALSE(cc__io_active(&ww));
  /* a hang-up reaches a reader as readable (only wanted events are given) */
  close(p[1]);
  SPIN_UNTIL(rr.calls > 1);
  ASSERT_EQ(rr.last, CC__READ);
  cc__io_stop(&rw);
  cc__io_stop(&rw); /* twice is fine */
  close(p[0]);
  ASSERT_EQ(l->nio, 0);
  return 0;
}
TEST(io_readable_writable) {
  cc_test_run(t_readable_writable, NULL);
}

static intptr_t t_mask_change(void *unused) {
  cc_loop_t *l = cc_loop_current();
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
  struct rec r = {0};
  cc__io_t w;
  cc__io_init(&w, sv[0], on_io, &r);
  uint64_t c0 = l->poller_ctls;
  ASSERT_OK(cc__io_start(l, &w, CC__READ));
  ASSERT_EQ(l->poller_ctls, c0 + 1);
  iterations(3);
  ASSERT_EQ(r.calls, 0);
  /* same mask: no poller call at all */
  ASSERT_OK(cc__io_start(l, &w, CC__READ));
  ASSERT_EQ(l->poller_ctls, c0 + 1);
  /* a new mask: exactly one call (a modification, not a del + add) */
  ASSERT_OK(cc__io_start(l, &w, CC__READ | CC__WRITE));
  ASSERT_EQ(l->poller_ctls, c0 + 2);
  SPIN_UNTIL(r.calls > 0);
  ASSERT_EQ(r.last, CC__WRITE);
  ASSERT_OK(cc__io_start(l, &w, CC__WRITE));
  ASSERT_EQ(l->poller_ctls, c0 + 3);
  /* paused: readable and writable, but nothing is called */
  ASSERT_EQ(write(sv[1], "abc", 3), 3);
  ASSERT_OK(cc__io_start(l, &w, 0));
  ASSERT_EQ(l->poller_ctls, c0 + 4);
  ASSERT_TRUE(cc__io_active(&w));
  int before = r.calls;
  iterations(5);
  ASSERT_EQ(r.calls, before);
  /* resumed for reading only */
  ASSERT_OK(cc__io_start(l, &w, CC__READ));
  ASSERT_EQ(l->poller_ctls, c0 + 5);
  SPIN_UNTIL(r.calls > before);
  ASSERT_EQ(r.last, CC__READ);
  /* the peer goes away: a watcher of both gets both */
  ASSERT_OK(cc__io_start(l, &w, CC__READ | CC__WRITE));
  r.drain = 1;
  close(sv[1]);
  r.all = 0;
  SPIN_UNTIL(r.all == (CC__READ | CC__WRITE));
  ASSERT_EQ(r.all, CC__READ | CC__WRITE);
  cc__io_stop(&w);
  ASSERT_EQ(l->poller_ctls, c0 + 7);
  close(sv[0]);
  return 0;
}
TEST(io_mask_change_without_reregistration) {
  cc_test_run(t_mask_change, NULL);
}

static intptr_t t_level(void *unused) {
  cc_loop_t *l = cc_loop_current();
  int p[2];
  mkpipe(p);
  struct rec r = {0}; /* never reads: the fd stays readable */
  cc__io_t w;
  cc__io_init(&w, p[0], on_io, &r);
  ASSERT_OK(cc__io_start(l, &w, CC__READ));
  ASSERT_EQ(write(p[1], "x", 1), 1);
  SPIN_UNTIL(r.calls >= 5);
  ASSERT_GE(r.calls, 5);
  cc__io_stop(&w);
  int n = r.calls;
  iterations(5);
  ASSERT_EQ(r.calls, n);
  /* started again: still readable, so called again */
  ASSERT_OK(cc__io_start(l, &w, CC__READ));
  SPIN_UNTIL(r.calls > n);
  ASSERT_GT(r.calls, n);
  cc__io_stop(&w);
  close(p[0]);
  close(p[1]);
  return 0;
}
TEST(io_level_triggered_refire) {
  cc_test_run(t_level, NULL);
}

static intptr_t t_stop_inside(void *unused) {
  cc_loop_t *l = cc_loop_current();
  int p[2];
  mkpipe(p);
  struct rec r = {.stop_self = 1};
  cc__io_t w;
  cc__io_init(&w, p[0], on_io, &r);
  ASSERT_OK(cc__io_start(l, &w, CC__READ));
  ASSERT_EQ(write(p[1], "x", 1), 1);
  SPIN_UNTIL(r.calls > 0);
  iterations(5);
  ASSERT_EQ(r.calls, 1);
  ASSERT_FALSE(cc__io_active(&w));
  ASSERT_EQ(l->nio, 0);
  /* Two ready watchers that stop each other: both events come in one
   * batch, and whichever runs first keeps the other from being called. */
  int q[2];
  mkpipe(q);
  struct rec ra = {0}, rb = {0};
  cc__io_t a, b;
  cc__io_init(&a, p[0], on_io, &ra);
  cc__io_init(&b, q[0], on_io, &rb);
  ra.stop_other = &b;
  rb.stop_other = &a;
  ra.stop_self = rb.stop_self = 1;
  ASSERT_EQ(write(q[1], "y", 1), 1);
  ASSERT_OK(cc__io_start(l, &a, CC__READ));
  ASSERT_OK(cc__io_start(l, &b, CC__READ));
  SPIN_UNTIL(ra.calls + rb.calls > 0);
  iterations(5);
  ASSERT_EQ(ra.calls + rb.calls, 1);
  ASSERT_EQ(l->nio, 0);
  close(p[0]);
  close(p[1]);
  close(q[0]);
  close(q[1]);
  return 0;
}
TEST(io_stop_inside_callback) {
  cc_test_run(t_stop_inside, NULL);
}

/* A task waits on an fd through cc__fd_wait. */
static intptr_t fd_reader(void *a) {
  int fd = (int)(intptr_t)a;
  char c;
  for (;;) {
    ssize_t n = read(fd, &c, 1);
    if (n == 1)
      return c;
    if (n == 0)
      return -EPIPE;
    int r = cc__fd_wait(fd, CC__READ, cc_deadline_in(5000));
    if (r < 0)
      return r;
  }
}

static intptr_t t_stop_after_close(void *unused) {
  cc_loop_t *l = cc_loop_current();
  int p[2];
  mkpipe(p);
  int old = p[0];
  struct rec r1 = {.drain = 1}, r2 = {.drain = 1};
  cc__io_t w1, w2;
  cc__io_init(&w1, p[0], on_io, &r1);
  ASSERT_OK(cc__io_start(l, &w1, CC__READ));
  /* closed while watched; the number is reused at once */
  close(p[0]);
  close(p[1]);
  mkpipe(p);
  ASSERT_EQ(p[0], old);
  /* another watcher takes the new fd of the same number */
  cc__io_init(&w2, p[0], on_io, &r2);
  ASSERT_OK(cc__io_start(l, &w2, CC__READ));
  cc__io_stop(&w1); /* drops w1 only */
  ASSERT_TRUE(cc__io_active(&w2));
  ASSERT_EQ(write(p[1], "x", 1), 1);
  SPIN_UNTIL(r2.calls > 0);
  ASSERT_EQ(r2.calls, 1);
  ASSERT_EQ(r1.calls, 0);
  cc__io_stop(&w2);
  close(p[0]);
  close(p[1]);
  /* the same with a task parked on the reused number */
  mkpipe(p);
  old = p[0];
  cc__io_init(&w1, p[0], on_io, &r1);
  ASSERT_OK(cc__io_start(l, &w1, CC__READ));
  close(p[0]);
  close(p[1]);
  mkpipe(p);
  ASSERT_EQ(p[0], old);
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, fd_reader, (void *)(intptr_t)p[0]));
  cc_yield();
  ASSERT_FALSE(cc_task_done(t));
  cc__io_stop(&w1);
  ASSERT_EQ(write(p[1], "z", 1), 1);
  intptr_t v;
  ASSERT_OK(cc_join(t, &v));
  ASSERT_EQ(v, 'z');
  ASSERT_EQ(r1.calls, 0);
  cc__fd_forget(p[0]);
  close(p[0]);
  close(p[1]);
  /* stopped after close, number not reused */
  mkpipe(p);
  cc__io_init(&w1, p[0], on_io, &r1);
  ASSERT_OK(cc__io_start(l, &w1, CC__READ));
  close(p[0]);
  close(p[1]);
  cc__io_stop(&w1);
  ASSERT_EQ(l->nio, 0);
  return 0;
}
TEST(io_stop_after_close_and_fd_reuse) {
  cc_test_run(t_stop_after_close, NULL);
}

static intptr_t t_owners(void *unused) {
  cc_loop_t *l = cc_loop_current();
  int p[2], q[2];
  mkpipe(p);
  mkpipe(q);
  /* a task parked on p[0]: a watcher is refused */
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, fd_reader, (void *)(intptr_t)p[0]));
  cc_yield();
  struct rec r = {.drain = 1};
  cc__io_t w;
  cc__io_init(&w, p[0], on_io, &r);
  ASSERT_ERR(cc__io_start(l, &w, CC__READ), -EEXIST);
  ASSERT_FALSE(cc__io_active(&w));
  /* a watcher on q[0]: a task is refused */
  cc__io_init(&w, q[0], on_io, &r);
  ASSERT_OK(cc__io_start(l, &w, CC__READ));
  ASSERT_ERR(cc__fd_wait(q[0], CC__READ, CC_FOREVER), -EEXIST);
  cc__fd_forget(q[0]); /* leaves the watcher alone */
  ASSERT_TRUE(cc__io_active(&w));
  /* both work side by side, with a sleeper */
  cc_task_t *s;
  ASSERT_OK(cc_spawn(&s, (cc_task_fn)(void (*)(void))cc_sleep, (void *)(intptr_t)10));
  ASSERT_EQ(write(q[1], "q", 1), 1);
  ASSERT_EQ(write(p[1], "p", 1), 1);
  intptr_t v;
  ASSERT_OK(cc_join(t, &v));
  ASSERT_EQ(v, 'p');
  SPIN_UNTIL(r.calls > 0);
  ASSERT_EQ(r.calls, 1);
  ASSERT_OK(cc_join(s, NULL));
  cc__io_stop(&w);
  /* the task's fd can go to a watcher once nobody waits on it */
  cc__io_init(&w, p[0], on_io, &r);
  ASSERT_OK(cc__io_start(l, &w, CC__READ));
  ASSERT_EQ(write(p[1], "p", 1), 1);
  SPIN_UNTIL(r.calls > 1);
  ASSERT_EQ(r.calls, 2);
  cc__io_stop(&w);
  /* and back to tasks */
  ASSERT_OK(cc_spawn(&t, fd_reader, (void *)(intptr_t)p[0]));
  cc_yield();
  ASSERT_EQ(write(p[1], "k", 1), 1);
  ASSERT_OK(cc_join(t, &v));
  ASSERT_EQ(v, 'k');
  cc__fd_forget(p[0]);
  for (int i = 0; i < 2; i++) {
    close(p[i]);
    close(q[i]);
  }
  /* what cannot be watched */
  cc__io_init(&w, -1, on_io, &r);
  ASSERT_ERR(cc__io_start(l, &w, CC__READ), -EBADF);
  cc__io_init(&w, p[0], on_io, &r); /* closed */
  ASSERT_ERR(cc__io_start(l, &w, CC__READ), -EBADF);
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  cc__io_init(&w, fd, on_io, &r); /* a regular file */
  ASSERT_ERR(cc__io_start(l, &w, CC__READ), -EBADF);
  close(fd);
  ASSERT_ERR(cc__io_start(NULL, &w, CC__READ), -EINVAL);
  cc__io_stop(NULL);
  ASSERT_EQ(l->nio, 0);
  return 0;
}
TEST(io_watchers_and_parked_tasks_coexist) {
  cc_test_run(t_owners, NULL);
}

/* ---- callback timers ----------------------------------------------------- */

struct trec {
  int calls;
  int rearm; /* re-arm this many more times, for now + rearm_ms */
  int64_t rearm_ms;
  int inside;
  int nested; /* called while inside: must stay 0 */
  int64_t at;
  cc_task_t *task;
  uint64_t token;
};

static void on_timer(cc__cbtimer_t *t) {
  struct trec *r = t->data;
  if (r->inside)
    r->nested++;
  r->inside = 1;
  r->calls++;
  r->at = cc_now();
  ASSERT_NULL(cc_self()); /* the loop's own context, not a task */
  if (r->rearm) {
    r->rearm--;
    ASSERT_OK(cc__cbtimer_start(cc_loop_current(), t, cc_now() + r->rearm_ms));
  }
  if (r->task)
    cc__wake(r->task, r->token, 42);
  r->inside = 0;
}

static intptr_t t_cbtimer(void *unused) {
  cc_loop_t *l = cc_loop_current();
  struct trec r = {0};
  cc__cbtimer_t t;
  cc__cbtimer_init(&t, on_timer, &r);
  ASSERT_FALSE(cc__cbtimer_armed(&t));
  cc__cbtimer_stop(&t); /* not armed: fine */
  int64_t t0 = cc_now();
  ASSERT_OK(cc__cbtimer_start(l, &t, t0 + 20));
  ASSERT_TRUE(cc__cbtimer_armed(&t));
  SPIN_UNTIL(r.calls > 0);
  ASSERT_EQ(r.calls, 1);
  ASSERT_GE(r.at - t0, 20);
  ASSERT_FALSE(cc__cbtimer_armed(&t));
  iterations(30);
  ASSERT_EQ(r.calls, 1); /* one-shot */
  /* re-armed from its own callback */
  r.calls = 0;
  r.rearm = 3;
  r.rearm_ms = 2;
  ASSERT_OK(cc__cbtimer_start(l, &t, cc_now() + 1));
  SPIN_UNTIL(r.calls == 4);
  ASSERT_EQ(r.calls, 4);
  ASSERT_FALSE(cc__cbtimer_armed(&t));
  /* stopped before it fires */
  r.calls = 0;
  ASSERT_OK(cc__cbtimer_start(l, &t, cc_now() + 10));
  cc__cbtimer_stop(&t);
  ASSERT_FALSE(cc__cbtimer_armed(&t));
  iterations(30);
  ASSERT_EQ(r.calls, 0);
  /* re-arming an armed timer moves it */
  ASSERT_OK(cc__cbtimer_start(l, &t, cc_now() + 100000));
  ASSERT_OK(cc__cbtimer_start(l, &t, cc_now() + 5));
  SPIN_UNTIL(r.calls > 0);
  ASSERT_EQ(r.calls, 1);
  ASSERT_EQ(l->ncbtimers, 0);
  ASSERT_ERR(cc__cbtimer_start(NULL, &t, 0), -EINVAL);
  return 0;
}
TEST(cbtimer_fire_rearm_stop) {
  cc_test_run(t_cbtimer, NULL);
}

static intptr_t t_cbtimer_zero(void *unused) {
  cc_loop_t *l = cc_loop_current();
  struct trec r = {0};
  cc__cbtimer_t t;
  cc__cbtimer_init(&t, on_timer, &r);
  ASSERT_OK(cc__cbtimer_start(l, &t, 0));
  ASSERT_EQ(r.calls, 0); /* not from inside start */
  ASSERT_OK(cc__cbtimer_start(l, &t, -5));
  ASSERT_EQ(r.calls, 0);
  SPIN_UNTIL(r.calls > 0);
  ASSERT_EQ(r.calls, 1);
  /* Re-armed for "now" from its own callback, forever: it fires once per
   * iteration (were it run again in the same one, the loop would never get
   * back to this task, and cc_sleep would not return). */
  r.calls = 0;
  r.rearm = 1000000;
  r.rearm_ms = -1000;
  ASSERT_OK(cc__cbtimer_start(l, &t, 0));
  for (int i = 0; i < 10; i++)
    cc_sleep(1);
  ASSERT_GT(r.calls, 1);
  ASSERT_EQ(r.nested, 0);
  ASSERT_TRUE(cc__cbtimer_armed(&t));
  cc__cbtimer_stop(&t);
  ASSERT_FALSE(cc__cbtimer_armed(&t));
  return 0;
}
TEST(cbtimer_zero_deadline_fires_next_iteration) {
  cc_test_run(t_cbtimer_zero, NULL);
}

/* Two timers due in the same iteration: the first one's callback stops the
 * second, which then does not fire. */
static cc__cbtimer_t pair[2];
static int pair_calls[2];
static void on_pair(cc__cbtimer_t *t) {
  int i = (int)(t - pair);
  pair_calls[i]++;
  cc__cbtimer_stop(&pair[1 - i]);
}
static intptr_t t_cbtimer_pair(void *unused) {
  cc_loop_t *l = cc_loop_current();
  for (int i = 0; i < 2; i++)
    cc__cbtimer_init(&pair[i], on_pair, NULL);
  int64_t when = cc_now() + 5;
  ASSERT_OK(cc__cbtimer_start(l, &pair[0], when));
  ASSERT_OK(cc__cbtimer_start(l, &pair[1], when));
  SPIN_UNTIL(pair_calls[0] + pair_calls[1] > 0);
  iterations(10);
  ASSERT_EQ(pair_calls[0] + pair_calls[1], 1);
  ASSERT_EQ(l->ncbtimers, 0);
  return 0;
}
TEST(cbtimer_stop_another_due_timer) {
  cc_test_run(t_cbtimer_pair, NULL);
}

/* With the only task parked for ever, the loop still sleeps until the
 * callback timer's deadline and runs it; its callback wakes the task. */
static intptr_t t_cbtimer_wakes(void *unused) {
  cc_loop_t *l = cc_loop_current();
  struct trec r = {0};
  cc__cbtimer_t t;
  cc__cbtimer_init(&t, on_timer, &r);
  r.task = cc_self();
  r.token = cc__park_token();
  int64_t t0 = cc_now();
  ASSERT_OK(cc__cbtimer_start(l, &t, t0 + 30));
  ASSERT_EQ(cc__park("test", NULL, CC_FOREVER), 42);
  ASSERT_GE(cc_now() - t0, 30);
  ASSERT_EQ(r.calls, 1);
  return 0;
}
TEST(cbtimer_wakes_parked_main) {
  cc_test_run(t_cbtimer_wakes, NULL);
}

struct wake_rec {
  cc_task_t *task;
  uint64_t token;
};
static void on_io_wake(cc__io_t *w, unsigned ev) {
  struct wake_rec *r = w->data;
  char c;
  ASSERT_EQ(read(w->fd, &c, 1), 1);
  cc__io_stop(w);
  cc__wake(r->task, r->token, (int)ev);
}
static void *late_writer(void *a) {
  usleep(20 * 1000);
  ASSERT_EQ(write((int)(intptr_t)a, "w", 1), 1);
  return NULL;
}
static intptr_t t_io_wakes(void *unused) {
  cc_loop_t *l = cc_loop_current();
  int p[2];
  mkpipe(p);
  struct wake_rec r = {cc_self(), cc__park_token()};
  cc__io_t w;
  cc__io_init(&w, p[0], on_io_wake, &r);
  ASSERT_OK(cc__io_start(l, &w, CC__READ));
  pthread_t th;
  ASSERT_OK(pthread_create(&th, NULL, late_writer, (void *)(intptr_t)p[1]));
  ASSERT_EQ(cc__park("test", NULL, cc_deadline_in(5000)), CC__READ);
  pthread_join(th, NULL);
  close(p[0]);
  close(p[1]);
  return 0;
}
TEST(io_callback_wakes_parked_main) {
  cc_test_run(t_io_wakes, NULL);
}
