/* 10,000 concurrent TCP connections on loopback, each doing an echo round
 * trip and staying open until all of them are open at once. The server
 * runs in a forked child process with its own loop, so that each process
 * needs one descriptor per connection (the hard RLIMIT_NOFILE may not allow
 * two per connection in one process). Scaled down under sanitizers. */
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

typedef struct {
  int lfd, port, n;
  int open, max_open, done;
  cc_event_t *all_open;
  int connected, failed;
  int64_t t_connected;
} mass_t;

/* ---- server (child process)
 * --------------------------------------------------------------- */

static mass_t *g_mass; /* the child's state, for its connection tasks */

static intptr_t srv_conn(void *arg) {
  int fd = (int)(intptr_t)arg;
  mass_t *m = g_mass;
  if (++m->open > m->max_open)
    m->max_open = m->open;
  char buf[64];
  ssize_t n;
  while ((n = cc_read(fd, buf, sizeof buf, cc_deadline_in(20000))) > 0)
    if (cc_write(fd, buf, (size_t)n, cc_deadline_in(20000)) < 0)
      break;
  m->open--;
  m->done++;
  cc_close(fd);
  return 0;
}

static intptr_t server_main(void *arg) {
  mass_t *m = arg;
  g_mass = m;
  cc_group_t *g;
  if (cc_group_new(&g) < 0)
    return -ENOMEM;
  int64_t dl = cc_deadline_in(60000);
  for (int i = 0; i < m->n; i++) {
    int fd = cc_tcp_accept(m->lfd, NULL, dl);
    if (fd < 0) {
      fprintf(stderr, "server: accept %d: %s\n", i, cc_strerror(fd));
      break;
    }
    if (cc_group_spawn(g, srv_conn, (void *)(intptr_t)fd) < 0) {
      cc_close(fd);
      break;
    }
  }
  int r = cc_group_wait(g);
  cc_group_free(g);
  cc_close(m->lfd);
  if (r < 0)
    return r;
  return m->max_open;
}

/* ---- clients (parent process)
 * -------------------------------------------------------------- */

static intptr_t client(void *arg) {
  mass_t *m = arg;
  int fd = cc_tcp_connect("127.0.0.1", m->port, cc_deadline_in(20000));
  if (fd < 0) {
    if (m->failed++ == 0)
      fprintf(stderr, "client: connect: %s\n", cc_strerror(fd));
    return fd;
  }
  char msg[16] = "0123456789abcdef", back[16];
  ssize_t r = cc_write(fd, msg, sizeof msg, cc_deadline_in(20000));
  if (r == (ssize_t)sizeof msg)
    r = cc_read_full(fd, back, sizeof back, cc_deadline_in(20000));
  if (r != (ssize_t)sizeof msg || memcmp(msg, back, sizeof msg) != 0) {
    cc_close(fd);
    m->failed++;
    return r < 0 ? r : -EPROTO;
  }
  if (++m->connected == m->n) {
    m->t_connected = cc_now();
    cc_event_set(m->all_open);
  }
  /* Hold the connection until every client has its own open. */
  int w = cc_event_wait(m->all_open);
  cc_close(fd);
  return w;
}

static intptr_t clients_main(void *arg) {
  mass_t *m = arg;
  ASSERT_OK(cc_event_new(&m->all_open));
  cc_task_t **t = calloc((size_t)m->n, sizeof *t);
  ASSERT_NOT_NULL(t);
  cc_timeout_t sc;
  cc_timeout_begin(&sc, cc_deadline_in(60000));
  for (int i = 0; i < m->n; i++) {
    ASSERT_OK(cc_spawn(&t[i], client, m));
    if (i % 512 == 511) /* let the connects of this batch go out */
      cc_sleep(1);
  }
  int r = cc_gather(t, (size_t)m->n, NULL);
  cc_timeout_end(&sc);
  free(t);
  cc_event_free(m->all_open);
  ASSERT_OK(r);
  ASSERT_EQ(m->connected, m->n);
  ASSERT_EQ(m->failed, 0);
  return 0;
}

TEST(ten_thousand_connections) {
  int n = cc_test_sanitized() ? 2000 : 10000;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t need = (rlim_t)n + 64;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
    n = (int)rl.rlim_max - 64;
    fprintf(stderr, "hard RLIMIT_NOFILE %lu: scaling down to %d connections\n",
            (unsigned long)rl.rlim_max, n);
    if (n < 1000)
      SKIP("RLIMIT_NOFILE hard limit too low");
  }
  struct rlimit old = rl;
  rl.rlim_cur = rl.rlim_max;
  ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));

  mass_t m = {.n = n};
  cc_addr_t a;
  cc_addr_ip(&a, "127.0.0.1", 0);
  cc_listen_opts_t lo = {.backlog = 4096};
  m.lfd = cc_listen_addr(&a, &lo);
  ASSERT_GE(m.lfd, 0);
  cc_addr_t la;
  cc_sock_local_addr(m.lfd, &la);
  m.port = cc_addr_port(&la);

  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    intptr_t res = -1;
    int rc = cc_run_opts(NULL, server_main, &m, &res);
    if (rc != 0 || res < 0)
      fprintf(stderr, "server failed: %d %ld\n", rc, (long)res);
    else if (res < n)
      fprintf(stderr, "server saw only %ld connections open at once\n", (long)res);
    _exit(rc == 0 && res == n ? 0 : 1);
  }
  close(m.lfd);
  int64_t t0 = cc_now();
  intptr_t res = -1;
  int rc = cc_run_opts(NULL, clients_main, &m, &res);
  int st;
  if (rc != 0 || res != 0)
    kill(pid, SIGKILL);
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  setrlimit(RLIMIT_NOFILE, &old);
  ASSERT_OK(rc);
  ASSERT_EQ(res, 0);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  fprintf(stderr, "%d concurrent connections: all open after %lld ms, done in %lld ms\n",
          n, (long long)(m.t_connected - t0), (long long)(cc_now() - t0));
}
