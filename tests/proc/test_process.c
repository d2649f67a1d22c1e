/* Processes, pipes, queues and shared memory (multiprocessing.Process,
 * Pipe, Queue, shared_memory). Every case reaps what it starts: the harness
 * fails a case that leaves a child or an fd behind. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "concur/process.h"
#include "test.h"

static intptr_t child_exit(void *arg) {
  return (intptr_t)arg;
}

static intptr_t child_sleep(void *arg) {
  (void)arg;
  for (;;)
    pause();
  return 0;
}

static intptr_t child_abort(void *arg) {
  (void)arg;
  abort();
}

TEST(exit_code) {
  cc_process_t *p;
  ASSERT_OK(cc_process_start(&p, child_exit, (void *)(intptr_t)7, NULL));
  ASSERT_GT(cc_process_pid(p), 0);
  int code = -100;
  ASSERT_OK(cc_process_join(p, CC_FOREVER, &code));
  ASSERT_EQ(code, 7);
  ASSERT_FALSE(cc_process_is_alive(p));
  code = -100;
  ASSERT_OK(cc_process_join(p, CC_FOREVER, &code)); /* again: same status */
  ASSERT_EQ(code, 7);
  ASSERT_ERR(cc_process_terminate(p), -ESRCH);
  cc_process_free(p);
}

TEST(signal_status) {
  cc_process_t *p;
  ASSERT_OK(cc_process_start(&p, child_abort, NULL, NULL));
  int code = 0;
  ASSERT_OK(cc_process_join(p, cc_deadline_in(10000), &code));
  ASSERT_EQ(code, -SIGABRT);
  cc_process_free(p);
}

TEST(terminate_kill_timeout) {
  cc_process_t *p, *q;
  ASSERT_OK(cc_process_start(&p, child_sleep, NULL, NULL));
  ASSERT_OK(cc_process_start(&q, child_sleep, NULL, NULL));
  ASSERT_TRUE(cc_process_is_alive(p));
  int code;
  int64_t t0 = cc_now();
  ASSERT_ERR(cc_process_join(p, cc_deadline_in(50), &code), -ETIMEDOUT);
  ASSERT_GE(cc_now() - t0, 45);
  ASSERT_OK(cc_process_terminate(p));
  ASSERT_OK(cc_process_join(p, cc_deadline_in(5000), &code));
  ASSERT_EQ(code, -SIGTERM);
  ASSERT_OK(cc_process_kill(q));
  ASSERT_OK(cc_process_join(q, cc_deadline_in(5000), &code));
  ASSERT_EQ(code, -SIGKILL);
  ASSERT_ERR(cc_process_signal(q, 0), -ESRCH);
  cc_process_free(p);
  cc_process_free(q);
}

TEST(free_kills_running_child) {
  cc_process_t *p;
  ASSERT_OK(cc_process_start(&p, child_sleep, NULL, NULL));
  pid_t pid = cc_process_pid(p);
  cc_process_free(p); /* must kill and reap: the harness checks */
  ASSERT_EQ(kill(pid, 0), -1);
}

/* A thread that starts a child and exits at once takes the child with it
 * (PR_SET_PDEATHSIG follows the forking thread). Each round is the tight
 * case: the thread returns right after cc_process_start(). Before the fix
 * the child, not yet scheduled when its thread exited, set the death signal
 * too late and nearly always survived (join timed out). */
static intptr_t start_and_exit(void *arg) {
  cc_process_t **out = arg;
  return cc_process_start(out, child_sleep, NULL, NULL);
}

TEST(child_dies_with_the_thread_that_started_it) {
  for (int round = 0; round < 20; round++) {
    cc_process_t *p = NULL;
    cc_thread_t *t;
    ASSERT_OK(cc_thread_start(&t, start_and_exit, &p, NULL));
    intptr_t r = -1;
    ASSERT_OK(cc_thread_join(t, &r));
    ASSERT_OK(r);
    int code = 0;
    int jr = cc_process_join(p, cc_deadline_in(5000), &code);
    if (jr < 0)
      cc_process_kill(p);
    ASSERT_OK(jr);
    ASSERT_EQ(code, -SIGKILL);
    cc_process_free(p);
  }
}

static intptr_t start_and_exit_keep(void *arg) {
  cc_process_opts_t o = {.keep_on_parent_exit = true};
  return cc_process_start(arg, child_sleep, NULL, &o);
}

/* keep_on_parent_exit: the child outlives its thread. */
TEST(keep_on_parent_exit_outlives_the_thread) {
  cc_process_t *p = NULL;
  cc_thread_t *t;
  static cc_process_t *kp;
  (void)p;
  ASSERT_OK(cc_thread_start(&t, start_and_exit_keep, &kp, NULL));
  intptr_t r = -1;
  ASSERT_OK(cc_thread_join(t, &r));
  ASSERT_OK(r);
  int code = 0;
  ASSERT_ERR(cc_process_join(kp, cc_deadline_in(100), &code), -ETIMEDOUT);
  ASSERT_TRUE(cc_process_is_alive(kp));
  cc_process_free(kp);
}

TEST(bad_args) {
  cc_process_t *p;
  ASSERT_ERR(cc_process_start(NULL, child_exit, NULL, NULL), -EINVAL);
  ASSERT_ERR(cc_process_start(&p, NULL, NULL, NULL), -EINVAL);
  ASSERT_ERR(cc_process_join(NULL, CC_FOREVER, NULL), -EINVAL);
  cc_process_free(NULL);
  ASSERT_GE(cc_cpu_count(), 1);
  cc_shm_t *s;
  ASSERT_ERR(cc_shm_new(&s, 0), -EINVAL);
}

/* ---- join from a coroutine does not block the loop ----------------------- */

static intptr_t child_short(void *arg) {
  (void)arg;
  usleep(150 * 1000);
  return 3;
}

static intptr_t ticker(void *arg) {
  int *ticks = arg;
  for (int i = 0; i < 100; i++) {
    if (cc_sleep(10) < 0)
      break;
    (*ticks)++;
  }
  return 0;
}

static intptr_t co_join(void *arg) {
  (void)arg;
  int ticks = 0;
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, ticker, &ticks));
  cc_process_t *p;
  ASSERT_OK(cc_process_start(&p, child_short, NULL, NULL));
  int code = 0;
  ASSERT_OK(cc_process_join(p, cc_deadline_in(10000), &code));
  ASSERT_EQ(code, 3);
  /* The ticker ran while we were joined: the loop was not blocked. */
  ASSERT_GE(ticks, 5);
  cc_process_free(p);
  cc_cancel(t);
  cc_join(t, NULL);
  return 0;
}

TEST(join_in_coroutine) {
  cc_test_run(co_join, NULL);
}

/* ---- pipes and queues ---------------------------------------------------- */

typedef struct {
  cc_conn_t *a, *b;
} pipe_pair_t;

static intptr_t echo_child(void *arg) {
  pipe_pair_t *pp = arg;
  cc_conn_close(pp->a);
  for (;;) {
    void *m;
    size_t len;
    int r = cc_conn_recv(pp->b, &m, &len, CC_FOREVER);
    if (r < 0)
      break;
    r = cc_conn_send(pp->b, m, len, CC_FOREVER);
    free(m);
    if (r < 0)
      break;
  }
  cc_conn_close(pp->b);
  return 0;
}

TEST(pipe_duplex) {
  pipe_pair_t pp;
  ASSERT_OK(cc_pipe_new(&pp.a, &pp.b, true, 0));
  cc_process_t *p;
  ASSERT_OK(cc_process_start(&p, echo_child, &pp, NULL));
  cc_conn_close(pp.b);
  const char *msgs[] = {"hello", "", "world"};
  for (int i = 0; i < 3; i++) {
    ASSERT_OK(cc_conn_send(pp.a, msgs[i], strlen(msgs[i]), CC_FOREVER));
    void *m;
    size_t len;
    ASSERT_OK(cc_conn_recv(pp.a, &m, &len, cc_deadline_in(5000)));
    ASSERT_EQ(len, strlen(msgs[i]));
    ASSERT_EQ(memcmp(m, msgs[i], len), 0);
    free(m);
  }
  /* A big message (the default maximum) goes through whole. */
  size_t big = CC_MSG_MAX_DEFAULT;
  char *buf = malloc(big);
  for (size_t i = 0; i < big; i++)
    buf[i] = (char)(i * 7);
  ASSERT_OK(cc_conn_send(pp.a, buf, big, CC_FOREVER));
  void *m;
  size_t len;
  ASSERT_OK(cc_conn_recv(pp.a, &m, &len, cc_deadline_in(5000)));
  ASSERT_EQ(len, big);
  ASSERT_EQ(memcmp(m, buf, big), 0);
  free(m);
  ASSERT_ERR(cc_conn_send(pp.a, buf, big + 1, CC_FOREVER), -CC_ETOOBIG);
  free(buf);
  ASSERT_FALSE(cc_conn_poll(pp.a));
  ASSERT_ERR(cc_conn_recv(pp.a, &m, &len, cc_deadline_in(20)), -ETIMEDOUT);
  cc_conn_close(pp.a); /* the child sees end of data and exits */
  int code;
  ASSERT_OK(cc_process_join(p, cc_deadline_in(5000), &code));
  ASSERT_EQ(code, 0);
  cc_process_free(p);
}

static intptr_t writer_child(void *arg) {
  pipe_pair_t *pp = arg;
  cc_conn_close(pp->a);
  cc_conn_send(pp->b, "x", 1, CC_FOREVER);
  cc_conn_close(pp->b);
  return 0;
}

TEST(pipe_one_way_eof) {
  pipe_pair_t pp;
  ASSERT_OK(cc_pipe_new(&pp.a, &pp.b, false, 0));
  ASSERT_ERR(cc_conn_send(pp.a, "x", 1, CC_FOREVER), -EBADF);
  cc_process_t *p;
  ASSERT_OK(cc_process_start(&p, writer_child, &pp, NULL));
  cc_conn_close(pp.b);
  void *m;
  size_t len;
  ASSERT_OK(cc_conn_recv(pp.a, &m, &len, cc_deadline_in(5000)));
  ASSERT_EQ(len, 1);
  free(m);
  ASSERT_ERR(cc_conn_recv(pp.a, &m, &len, cc_deadline_in(5000)), -CC_ECLOSED);
  cc_conn_close(pp.a);
  ASSERT_OK(cc_process_join(p, cc_deadline_in(5000), NULL));
  cc_process_free(p);
}

static cc_mpqueue_t *gq;

static intptr_t producer(void *arg) {
  int id = (int)(intptr_t)arg;
  for (int i = 0; i < 500; i++) {
    int v[2] = {id, i};
    if (cc_mpqueue_put(gq, v, sizeof v, CC_FOREVER) < 0)
      return 1;
  }
  return 0;
}

TEST(queue_many_producers) {
  ASSERT_OK(cc_mpqueue_new(&gq, 64));
  cc_process_t *p[3];
  for (int i = 0; i < 3; i++)
    ASSERT_OK(cc_process_start(&p[i], producer, (void *)(intptr_t)i, NULL));
  int next[3] = {0, 0, 0};
  for (int n = 0; n < 1500; n++) {
    void *m;
    size_t len;
    ASSERT_OK(cc_mpqueue_get(gq, &m, &len, cc_deadline_in(10000)));
    ASSERT_EQ(len, 2 * sizeof(int));
    int *v = m;
    ASSERT_EQ(v[1], next[v[0]]); /* per-producer order kept */
    next[v[0]]++;
    free(m);
  }
  for (int i = 0; i < 3; i++) {
    int code;
    ASSERT_OK(cc_process_join(p[i], cc_deadline_in(5000), &code));
    ASSERT_EQ(code, 0);
    cc_process_free(p[i]);
  }
  ASSERT_ERR(cc_mpqueue_put(
                 gq,
                 "0123456789012345678901234567890123456789012345678901234567890123456789",
                 70, 0),
             -CC_ETOOBIG);
  cc_mpqueue_free(gq);
}

static intptr_t co_queue(void *arg) {
  (void)arg;
  ASSERT_OK(cc_mpqueue_new(&gq, 0));
  cc_process_t *p;
  ASSERT_OK(cc_process_start(&p, producer, (void *)(intptr_t)0, NULL));
  for (int n = 0; n < 500; n++) {
    void *m;
    size_t len;
    ASSERT_OK(cc_mpqueue_get(gq, &m, &len, cc_deadline_in(10000)));
    free(m);
  }
  ASSERT_OK(cc_process_join(p, cc_deadline_in(5000), NULL));
  cc_process_free(p);
  cc_mpqueue_free(gq);
  return 0;
}

TEST(queue_in_coroutine) {
  cc_test_run(co_queue, NULL);
}

/* ---- shared memory ----------------------------------------------------- */

static intptr_t shm_child(void *arg) {
  long *v = cc_shm_ptr(arg);
  for (int i = 0; i < 1000; i++)
    v[i] = i * i;
  return 0;
}

TEST(shared_memory) {
  int maps0 = cc_test_count_maps("/dev/zero");
  cc_shm_t *s;
  ASSERT_OK(cc_shm_new(&s, 1000 * sizeof(long)));
  ASSERT_EQ(cc_shm_size(s), 1000 * sizeof(long));
  long *v = cc_shm_ptr(s);
  ASSERT_EQ(cc_test_count_maps("/dev/zero"), maps0 + 1);
  ASSERT_EQ(v[999], 0);
  cc_process_t *p;
  ASSERT_OK(cc_process_start(&p, shm_child, s, NULL));
  int code;
  ASSERT_OK(cc_process_join(p, cc_deadline_in(5000), &code));
  ASSERT_EQ(code, 0);
  cc_process_free(p);
  for (int i = 0; i < 1000; i++)
    ASSERT_EQ(v[i], (long)i * i);
  cc_shm_free(s);
  /* Unmapped: no mapping left behind (anonymous: nothing in /dev/shm). */
  ASSERT_EQ(cc_test_count_maps("/dev/zero"), maps0);
}
