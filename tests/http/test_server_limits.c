/* Bad input and faults: every limit gets its clear answer on that
 * connection alone, and afterwards the server still answers and holds no
 * connection (its live count is back to zero; the harness checks fds). */
#include <signal.h>
#include <sys/resource.h>

#include "http_test.h"

static int h_plain(cc_req_t *r, void *arg) {
  return cc_resp_send(r, 200, "text/plain", "Hello, World!", 13);
}

static int h_echo(cc_req_t *r, void *arg) {
  size_t n;
  const void *b = cc_req_body(r, &n);
  return cc_resp_send(r, 200, "application/octet-stream", b, n);
}

static volatile int stream_result = 1;
static int h_big_stream(cc_req_t *r, void *arg) {
  static char chunk[65536];
  memset(chunk, 'x', sizeof chunk);
  int e = cc_resp_start(r, 200, "text/plain");
  for (int i = 0; i < 100000 && e == 0; i++) {
    e = cc_resp_write(r, chunk, sizeof chunk);
    if (e == 0)
      e = cc_sleep(1);
  }
  /* After the failed write, the handler is cancelled. */
  int after = cc_sleep(1);
  stream_result = e < 0 && after == -ECANCELED ? 0 : -1;
  return e;
}

static cc_server_t *mk(cc_server_opts_t *o) {
  cc_server_t *s;
  o->loops = 1;
  ASSERT_OK(cc_server_new(&s, o));
  ASSERT_OK(cc_server_route(s, "GET", "/plaintext", h_plain, NULL));
  ASSERT_OK(cc_server_route(s, "POST", "/echo", h_echo, NULL));
  ASSERT_OK(cc_server_route(s, "GET", "/big", h_big_stream, NULL));
  return s;
}

/* The server still answers, and every other connection is gone. */
static void settle(tsrv_t *t) {
  cc_server_stats_t st;
  for (int i = 0; i < 500; i++) {
    cc_server_stats(t->srv, &st);
    if (st.live_conns == 0)
      break;
    usleep(10000);
  }
}

static void still_fine(tsrv_t *t) {
  char buf[4096];
  settle(t);
  ASSERT_EQ(tget(t->port, "/plaintext", buf, sizeof buf), 200);
  cc_server_stats_t st;
  for (int i = 0; i < 500; i++) {
    cc_server_stats(t->srv, &st);
    if (st.live_conns == 0)
      break;
    usleep(10000);
  }
  ASSERT_EQ(st.live_conns, 0);
}

/* Sends `req`, expects `status` and then the connection closed. */
static void expect_close(tsrv_t *t, const char *req, size_t len, int status) {
  int fd = tconnect(t->port);
  ASSERT_EQ(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
  char buf[8192];
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), status);
  ASSERT_NOT_NULL(strstr(buf, "Connection: close\r\n"));
  ASSERT_TRUE(tclosed(fd));
  close(fd);
}

static char *repeat(const char *head, char ch, size_t n, const char *tail) {
  size_t hl = strlen(head), tl = strlen(tail);
  char *s = malloc(hl + n + tl + 1);
  memcpy(s, head, hl);
  memset(s + hl, ch, n);
  memcpy(s + hl + n, tail, tl + 1);
  return s;
}

TEST(oversized_header) {
  cc_server_opts_t o = {0};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  char *req =
      repeat("GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Big: ", 'a', 9000, "\r\n\r\n");
  expect_close(&t, req, strlen(req), 431);
  free(req);
  /* 64 KiB in all, each line under its own limit. */
  size_t cap = 80 * 1100 + 100, n = 0;
  req = malloc(cap);
  n += (size_t)sprintf(req, "GET /plaintext HTTP/1.1\r\n");
  for (int i = 0; i < 70; i++) {
    n += (size_t)sprintf(req + n, "X-H%d: ", i);
    memset(req + n, 'b', 1000);
    n += 1000;
    n += (size_t)sprintf(req + n, "\r\n");
  }
  n += (size_t)sprintf(req + n, "\r\n");
  expect_close(&t, req, n, 431);
  free(req);
  still_fine(&t);
  tsrv_stop(&t);
}

TEST(too_many_headers) {
  cc_server_opts_t o = {0};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  char req[8192];
  size_t n = (size_t)sprintf(req, "GET /plaintext HTTP/1.1\r\n");
  for (int i = 0; i < 101; i++)
    n += (size_t)sprintf(req + n, "X-%d: v\r\n", i);
  n += (size_t)sprintf(req + n, "\r\n");
  expect_close(&t, req, n, 431);
  /* 100 are fine. */
  n = (size_t)sprintf(req, "GET /plaintext HTTP/1.1\r\nConnection: close\r\n");
  for (int i = 0; i < 99; i++)
    n += (size_t)sprintf(req + n, "X-%d: v\r\n", i);
  n += (size_t)sprintf(req + n, "\r\n");
  expect_close(&t, req, n, 200);
  still_fine(&t);
  tsrv_stop(&t);
}

TEST(long_uri) {
  cc_server_opts_t o = {0};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  char *req = repeat("GET /", 'u', 9000, " HTTP/1.1\r\nHost: x\r\n\r\n");
  expect_close(&t, req, strlen(req), 414);
  free(req);
  still_fine(&t);
  tsrv_stop(&t);
}

TEST(big_body) {
  cc_server_opts_t o = {0};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  const char *r1 = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n";
  expect_close(&t, r1, strlen(r1), 413);
  /* Chunked: found out while the body arrives. */
  int fd = tconnect(t.port);
  tsend(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  static char chunk[70000];
  int n = sprintf(chunk, "10000\r\n");
  memset(chunk + n, 'z', 0x10000);
  memcpy(chunk + n + 0x10000, "\r\n", 2);
  int status = 0;
  char buf[8192];
  for (int i = 0; i < 40; i++)
    if (send(fd, chunk, (size_t)n + 0x10000 + 2, MSG_NOSIGNAL) < 0)
      break;
  status = tread_resp(fd, buf, sizeof buf, NULL);
  ASSERT_EQ(status, 413);
  close(fd);
  /* Under the limit, fine. */
  char *req = repeat("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n",
                     'q', 500000, "");
  fd = tconnect(t.port);
  tsend(fd, req);
  char *big = malloc(600000);
  size_t total;
  ASSERT_EQ(tread_resp(fd, big, 600000, &total), 200);
  ASSERT_GT(total, 500000);
  free(big);
  free(req);
  close(fd);
  still_fine(&t);
  tsrv_stop(&t);
}

TEST(slowloris) {
  cc_server_opts_t o = {.header_timeout_ms = 1000};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  int fd = tconnect(t.port);
  const char *req =
      "GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa";
  int64_t t0 = cc_now();
  char buf[4096];
  int status = -2;
  for (size_t i = 0; req[i]; i++) {
    if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
      break;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 200) == 1) {
      status = tread_resp(fd, buf, sizeof buf, NULL);
      break;
    }
  }
  ASSERT_EQ(status, 408);
  ASSERT_LT(cc_now() - t0, 8000);
  close(fd);
  still_fine(&t);
  tsrv_stop(&t);
}

TEST(idle_timeout) {
  cc_server_opts_t o = {.keepalive_timeout_ms = 300};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  int fd = tconnect(t.port);
  char buf[4096];
  tsend(fd, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_TRUE(tclosed(fd)); /* closed quietly after 300 ms */
  close(fd);
  still_fine(&t);
  tsrv_stop(&t);
}

TEST(max_requests) {
  cc_server_opts_t o = {.max_requests = 3};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  int fd = tconnect(t.port);
  char buf[4096];
  for (int i = 0; i < 3; i++) {
    tsend(fd, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
    ASSERT_EQ(strstr(buf, "Connection: close") != NULL, i == 2);
  }
  ASSERT_TRUE(tclosed(fd));
  close(fd);
  still_fine(&t);
  tsrv_stop(&t);
}

TEST(malformed_request_lines) {
  cc_server_opts_t o = {0};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  const char *bad[] = {
      "GARBAGE\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "GET /\x01 HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_close(&t, bad[i], strlen(bad[i]), 400);
  still_fine(&t);
  tsrv_stop(&t);
}

static void reset_close(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

TEST(reset_mid_request) {
  cc_server_opts_t o = {0};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  for (int i = 0; i < 5; i++) {
    int fd = tconnect(t.port);
    tsend(fd, i % 2 ? "GET /plaintext HTTP/1.1\r\nHo"
                    : "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc");
    usleep(20000);
    reset_close(fd);
  }
  still_fine(&t);
  tsrv_stop(&t);
}

TEST(reset_mid_response) {
  cc_server_opts_t o = {0};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  int fd = tconnect(t.port);
  tsend(fd, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  char buf[65536];
  ASSERT_GT(recv(fd, buf, sizeof buf, 0), 0);
  reset_close(fd);
  for (int i = 0; i < 500 && stream_result == 1; i++)
    usleep(10000);
  ASSERT_EQ(stream_result, 0); /* the handler saw the failure, then -ECANCELED */
  still_fine(&t);
  tsrv_stop(&t);
}

TEST(connection_cap_503) {
  cc_server_opts_t o = {.max_conns = 2};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  int a = tconnect(t.port), b = tconnect(t.port);
  char buf[4096];
  tsend(a, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(a, buf, sizeof buf, NULL), 200);
  tsend(b, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(b, buf, sizeof buf, NULL), 200);
  int c = tconnect(t.port);
  ASSERT_EQ(tread_resp(c, buf, sizeof buf, NULL), 503);
  close(c);
  close(a);
  close(b);
  still_fine(&t);
  cc_server_stats_t st;
  cc_server_stats(t.srv, &st);
  ASSERT_EQ(st.refused, 1);
  tsrv_stop(&t);
}

/* The server runs in a child whose descriptor limit is a few above what it
 * holds, so that accepting meets EMFILE while the clients (here) are fine;
 * once they go away, the server accepts and answers again. */
TEST(emfile_survived) {
  int pfd[2];
  ASSERT_EQ(pipe(pfd), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(pfd[0]);
    cc_server_opts_t o = {.handle_signals = true};
    cc_server_t *s = mk(&o);
    if (cc_server_listen(s, "127.0.0.1", 0) < 0)
      _exit(3);
    int port = cc_server_port(s);
    struct rlimit lim;
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = (rlim_t)cc_test_count_fds() + 8; /* the loop's own fds, and a few */
    setrlimit(RLIMIT_NOFILE, &lim);
    if (write(pfd[1], &port, sizeof port) != sizeof port)
      _exit(4);
    close(pfd[1]);
    int rc = cc_server_run(s);
    cc_server_free(s);
    _exit(rc == 0 ? 0 : 5);
  }
  close(pfd[1]);
  int port = 0;
  ASSERT_EQ(read(pfd[0], &port, sizeof port), (ssize_t)sizeof port);
  close(pfd[0]);
  tsrv_t t = {.port = port};
  int fds[40];
  for (int i = 0; i < 40; i++) {
    fds[i] = tconnect(port);
    tsend(fds[i], "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  usleep(300000); /* the server meets EMFILE and backs off */
  for (int i = 0; i < 40; i++)
    close(fds[i]);
  char buf[4096];
  int ok = 0;
  for (int i = 0; i < 50 && !ok; i++) { /* answered again once the fds are back */
    ok = tget(t.port, "/plaintext", buf, sizeof buf) == 200;
    if (!ok)
      usleep(100000);
  }
  ASSERT_TRUE(ok);
  kill(pid, SIGTERM);
  int st;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 0);
}

TEST(idle_trim_then_reuse) {
  /* A keep-alive connection idle past the trim (1 s) gave its buffers and
   * stack pages back; its next requests (pipelined, then one with a body)
   * are served as before. */
  cc_server_opts_t o = {0};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  int fd = tconnect(t.port);
  char buf[8192];
  tsend(fd, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  usleep(1500000);
  tsend(fd, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: 4\r\n\r\nabcd");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "Hello, World!"));
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\nabcd"));
  close(fd);
  still_fine(&t);
  tsrv_stop(&t);
}
