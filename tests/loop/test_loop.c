/* The loop: fd readiness, timers, cross-thread wake-ups, errors. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop/sched.h"
#include "test.h"

static intptr_t pipe_reader(void *a) {
  int fd = (int)(intptr_t)a;
  char c;
  for (;;) {
    ssize_t n = read(fd, &c, 1);
    if (n == 1)
      return c;
    if (n == 0)
      return -EPIPE;
    if (errno != EAGAIN)
      return -errno;
    int r = cc__fd_wait(fd, CC__READ, CC_FOREVER);
    if (r < 0)
      return r;
  }
}

static intptr_t t_fd_wait(void *unused) {
  int p[2];
  ASSERT_OK(pipe2(p, O_NONBLOCK | O_CLOEXEC));
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, pipe_reader, (void *)(intptr_t)p[0]));
  cc_sleep(5);
  ASSERT_FALSE(cc_task_done(t));
  ASSERT_EQ(write(p[1], "x", 1), 1);
  intptr_t v;
  ASSERT_OK(cc_join(t, &v));
  ASSERT_EQ(v, 'x');
  /* again on the same (still registered) fd */
  ASSERT_OK(cc_spawn(&t, pipe_reader, (void *)(intptr_t)p[0]));
  cc_yield();
  ASSERT_EQ(write(p[1], "y", 1), 1);
  ASSERT_OK(cc_join(t, &v));
  ASSERT_EQ(v, 'y');
  /* hang-up wakes the reader */
  ASSERT_OK(cc_spawn(&t, pipe_reader, (void *)(intptr_t)p[0]));
  cc_yield();
  close(p[1]);
  ASSERT_ERR(cc_join(t, NULL), -EPIPE);
  cc__fd_forget(p[0]);
  close(p[0]);
  return 0;
}
TEST(fd_wait_read) {
  cc_test_run(t_fd_wait, NULL);
}

static intptr_t t_fd_deadline(void *unused) {
  int p[2];
  ASSERT_OK(pipe2(p, O_NONBLOCK | O_CLOEXEC));
  int64_t t0 = cc_now();
  ASSERT_ERR(cc__fd_wait(p[0], CC__READ, cc_deadline_in(20)), -ETIMEDOUT);
  ASSERT_GE(cc_now() - t0, 19);
  /* forget wakes a waiter with EBADF */
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, pipe_reader, (void *)(intptr_t)p[0]));
  cc_yield();
  cc__fd_forget(p[0]);
  ASSERT_ERR(cc_join(t, NULL), -EBADF);
  /* one reader at a time */
  ASSERT_OK(cc_spawn(&t, pipe_reader, (void *)(intptr_t)p[0]));
  cc_yield();
  ASSERT_ERR(cc__fd_wait(p[0], CC__READ, CC_FOREVER), -EBUSY);
  cc_cancel(t);
  ASSERT_ERR(cc_join(t, NULL), -ECANCELED);
  ASSERT_ERR(cc__fd_wait(-1, CC__READ, CC_FOREVER), -EBADF);
  ASSERT_ERR(cc__fd_wait(987654, CC__READ, CC_FOREVER), -EBADF);
  cc__fd_forget(p[0]);
  close(p[0]);
  close(p[1]);
  return 0;
}
TEST(fd_wait_deadline_forget_busy) {
  cc_test_run(t_fd_deadline, NULL);
}

static intptr_t t_fd_write(void *unused) {
  int p[2];
  ASSERT_OK(pipe2(p, O_NONBLOCK | O_CLOEXEC));
  char buf[4096];
  memset(buf, 'a', sizeof buf);
  size_t written = 0;
  while (write(p[1], buf, sizeof buf) > 0)
    written += sizeof buf;
  ASSERT_EQ(errno, EAGAIN);
  /* a writer waits for room, a reader makes room */
  ASSERT_ERR(cc__fd_wait(p[1], CC__WRITE, cc_deadline_in(10)), -ETIMEDOUT);
  while (read(p[0], buf, sizeof buf) > 0) {
  }
  ASSERT_OK(cc__fd_wait(p[1], CC__WRITE, cc_deadline_in(1000)));
  cc__fd_forget(p[0]);
  cc__fd_forget(p[1]);
  close(p[0]);
  close(p[1]);
  return (intptr_t)written;
}
TEST(fd_wait_write) {
  ASSERT_GT(cc_test_run(t_fd_write, NULL), 0);
}

/* A plain thread wakes a parked coroutine through the inbox. */
struct remote {
  pthread_mutex_t mu;
  cc__waiter_t *w;
  int fired;
};
static void *remote_waker(void *a) {
  struct remote *r = a;
  usleep(20 * 1000);
  pthread_mutex_lock(&r->mu);
  if (r->w)
    cc__wake(r->w->task, r->w->token, 77);
  r->fired = 1;
  pthread_mutex_unlock(&r->mu);
  return NULL;
}
static intptr_t t_remote(void *unused) {
  struct remote r = {.mu = PTHREAD_MUTEX_INITIALIZER};
  cc__waiter_t w;
  pthread_mutex_lock(&r.mu);
  cc__waiter_init(&w, NULL);
  r.w = &w;
  pthread_mutex_unlock(&r.mu);
  pthread_t th;
  ASSERT_OK(pthread_create(&th, NULL, remote_waker, &r));
  int res = cc__park("remote", &r, cc_deadline_in(5000));
  pthread_mutex_lock(&r.mu);
  r.w = NULL;
  pthread_mutex_unlock(&r.mu);
  pthread_join(th, NULL);
  ASSERT_EQ(res, 77);
  /* A stale wake (old token) is ignored. */
  cc__wake(cc_self(), w.token, 5);
  ASSERT_ERR(cc__park("stale", NULL, cc_deadline_in(20)), -ETIMEDOUT);
  return 0;
}
TEST(remote_wake_and_stale_tokens) {
  cc_test_run(t_remote, NULL);
}

static int timer_order[16], ntimer;
static int64_t timer_base;
static intptr_t sleeper_rec(void *a) {
  /* Deadlines from one base, not from each task's start: a loaded machine
   * (TSan first runs take milliseconds each) may start the tasks tens of
   * ms apart, and the order under test is that of the deadlines. */
  int r = cc_sleep_until(timer_base + (int64_t)(intptr_t)a);
  if (r == 0)
    timer_order[ntimer++] = (int)(intptr_t)a;
  return r;
}
static intptr_t t_timers(void *unused) {
  /* out-of-order deadlines go through the heap, in-order ones the FIFO */
  int ms[] = {200, 40, 120, 80, 160, 240, 20, 100};
  cc_task_t *ts[8];
  ntimer = 0;
  timer_base = cc_now() + 100; /* leaves 100 ms for the tasks to start */
  for (int i = 0; i < 8; i++)
    ASSERT_OK(cc_spawn(&ts[i], sleeper_rec, (void *)(intptr_t)ms[i]));
  cc_yield();
  cc_cancel(ts[2]); /* remove one from the middle */
  intptr_t res[8];
  ASSERT_ERR(cc_gather(ts, 8, res), -ECANCELED);
  ASSERT_EQ(res[2], -ECANCELED);
  ASSERT_EQ(ntimer, 7);
  int expect[] = {20, 40, 80, 100, 160, 200, 240};
  for (int i = 0; i < 7; i++)
    ASSERT_EQ(timer_order[i], expect[i]);
  return 0;
}
TEST(timers_fire_in_order) {
  cc_test_run(t_timers, NULL);
}

TEST(strerror_names_every_code) {
  ASSERT_STR_EQ(cc_strerror(-ETIMEDOUT), "timed out");
  ASSERT_STR_EQ(cc_err_name(-ECANCELED), "ECANCELED");
  ASSERT_STR_EQ(cc_err_name(-CC_EWORKER), "CC_EWORKER");
  ASSERT_STR_EQ(cc_strerror(CC_ECLOSED), "object is closed");
  ASSERT_STR_EQ(cc_strerror(0), "success");
  ASSERT_STR_EQ(cc_strerror(-99999), "unknown error");
  ASSERT_STR_EQ(cc_version_string(), CC_VERSION_STRING);
}

TEST(loop_errors) {
  ASSERT_ERR(cc_loop_new(NULL, NULL), -EINVAL);
  cc_loop_t *l;
  ASSERT_OK(cc_loop_new(&l, NULL));
  ASSERT_ERR(cc_loop_run(l, NULL, NULL, NULL), -EINVAL);
  ASSERT_ERR(cc_loop_call(l, NULL, NULL), -EINVAL);
  cc_loop_free(l);
  cc_loop_free(NULL);
}

/* A child forked from inside a coroutine is outside any loop: it can run a
 * loop of its own, and SIGINT is no longer blocked. */
static intptr_t child_loop_main(void *a) {
  return cc_sleep(1) == 0 ? 7 : -1;
}
static intptr_t t_fork(void *unused) {
  pid_t pid = fork();
  if (pid == 0) {
    if (cc_loop_current() != NULL || cc_self() != NULL)
      _exit(1);
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    if (sigismember(&cur, SIGINT))
      _exit(2);
    intptr_t v = 0;
    _exit(cc_run(child_loop_main, NULL, &v) == 0 && v == 7 ? 0 : 3);
  }
  int st;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 0);
  return 0;
}
TEST(fork_from_a_coroutine_leaves_the_loop) {
  /* cc_run (not cc_run_opts) so that the parent's loop owns SIGINT */
  intptr_t r;
  ASSERT_OK(cc_run(t_fork, NULL, &r));
}
