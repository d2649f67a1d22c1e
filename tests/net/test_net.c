/* Tests of the net layer: fd waiting, read/write wrappers, TCP/Unix
 * sockets, DNS, buffered streams, cc_serve and fault handling. Loopback
 * only. The harness checks after every case that no fd was leaked. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

/* ---- helpers ---------------------------------------------------------------- */

static void reset_close(int fd);

static int listen_any(const char *ip, int *port) {
  cc_addr_t a;
  ASSERT_OK(cc_addr_ip(&a, ip, 0));
  int lfd = cc_listen_addr(&a, NULL);
  ASSERT_GE(lfd, 0);
  cc_addr_t la;
  ASSERT_OK(cc_sock_local_addr(lfd, &la));
  *port = cc_addr_port(&la);
  ASSERT_GT(*port, 0);
  return lfd;
}

/* A connected pair of non-blocking TCP sockets on 127.0.0.1. */
static void tcp_pair(int *a, int *b) {
  int port;
  int lfd = listen_any("127.0.0.1", &port);
  *a = cc_tcp_connect("127.0.0.1", port, cc_deadline_in(2000));
  ASSERT_GE(*a, 0);
  *b = cc_tcp_accept(lfd, NULL, cc_deadline_in(2000));
  ASSERT_GE(*b, 0);
  ASSERT_OK(cc_close(lfd));
}

static intptr_t echo_once_task(void *arg) {
  int lfd = (int)(intptr_t)arg;
  int fd = cc_tcp_accept(lfd, NULL, cc_deadline_in(5000));
  if (fd < 0)
    return fd;
  char buf[4096];
  ssize_t n;
  while ((n = cc_read(fd, buf, sizeof buf, cc_deadline_in(5000))) > 0) {
    ssize_t w = cc_write(fd, buf, (size_t)n, cc_deadline_in(5000));
    if (w < 0) {
      cc_close(fd);
      return w;
    }
  }
  cc_close(fd);
  return n;
}

/* ---- addresses ---------------------------------------------------------------- */

TEST(addr_parse_format) {
  cc_addr_t a;
  char buf[128];
  ASSERT_OK(cc_addr_ip(&a, "127.0.0.1", 80));
  ASSERT_EQ(a.u.sa.sa_family, AF_INET);
  cc_addr_format(&a, buf, sizeof buf);
  ASSERT_STR_EQ(buf, "127.0.0.1:80");
  ASSERT_OK(cc_addr_ip(&a, "[::1]", 443));
  ASSERT_EQ(a.u.sa.sa_family, AF_INET6);
  cc_addr_format(&a, buf, sizeof buf);
  ASSERT_STR_EQ(buf, "[::1]:443");
  ASSERT_EQ(cc_addr_port(&a), 443);
  ASSERT_ERR(cc_addr_ip(&a, "example.com", 80), -EINVAL);
  ASSERT_ERR(cc_addr_ip(&a, "1.2.3.4", 70000), -EINVAL);
  ASSERT_ERR(cc_addr_ip(&a, "", 1), -EINVAL);
  ASSERT_OK(cc_addr_unix(&a, "@concur-abstract"));
  cc_addr_format(&a, buf, sizeof buf);
  ASSERT_STR_EQ(buf, "@concur-abstract");
  char longp[200];
  memset(longp, 'x', sizeof longp - 1);
  longp[sizeof longp - 1] = '\0';
  ASSERT_ERR(cc_addr_unix(&a, longp), -ENAMETOOLONG);
}

/* ---- DNS ---------------------------------------------------------------------- */

static intptr_t resolve_main(void *arg) {
  cc_addr_t out[8];
  char buf[64];
  ASSERT_EQ(cc_resolve("127.0.0.1", 80, AF_UNSPEC, out, 8, CC_FOREVER), 1);
  ASSERT_EQ(cc_resolve("::1", 80, AF_UNSPEC, out, 8, CC_FOREVER), 1);
  ASSERT_EQ(out[0].u.sa.sa_family, AF_INET6);
  ASSERT_ERR(cc_resolve("::1", 80, AF_INET, out, 8, CC_FOREVER), -CC_ERESOLVE);
  /* localhost: both families, without any lookup. */
  ASSERT_EQ(cc_resolve("localhost", 8080, AF_UNSPEC, out, 8, CC_FOREVER), 2);
  bool v4 = false, v6 = false;
  for (int i = 0; i < 2; i++) {
    cc_addr_format(&out[i], buf, sizeof buf);
    v4 |= strcmp(buf, "127.0.0.1:8080") == 0;
    v6 |= strcmp(buf, "[::1]:8080") == 0;
  }
  ASSERT_TRUE(v4 && v6);
  ASSERT_EQ(cc_resolve("LocalHost.", 1, AF_INET6, out, 8, CC_FOREVER), 1);
  ASSERT_EQ(out[0].u.sa.sa_family, AF_INET6);
  ASSERT_EQ(cc_resolve("api.localhost", 1, AF_INET, out, 8, CC_FOREVER), 1);
  /* The reserved .invalid domain fails at once, without the network. */
  int64_t t0 = cc_now();
  ASSERT_ERR(cc_resolve("no-such-host.invalid", 80, AF_UNSPEC, out, 8, CC_FOREVER),
             -CC_ERESOLVE);
  ASSERT_ERR(cc_tcp_connect("nothing.here.invalid.", 80, CC_FOREVER), -CC_ERESOLVE);
  ASSERT_LT(cc_now() - t0, 100);
  ASSERT_ERR(cc_resolve("", 80, AF_UNSPEC, out, 8, CC_FOREVER), -EINVAL);
  ASSERT_ERR(cc_resolve("x", 80, 12345, out, 8, CC_FOREVER), -EINVAL);
  return 0;
}

TEST(resolve_literals_localhost_invalid) {
  cc_test_run(resolve_main, NULL);
}

static atomic_int ticks;
static intptr_t ticker(void *arg) {
  for (;;) {
    if (cc_sleep(1) < 0)
      return 0;
    atomic_fetch_add(&ticks, 1);
  }
}

/* A name from /etc/hosts goes through getaddrinfo on the helper thread,
 * and the loop keeps running meanwhile. */
static intptr_t resolve_thread_main(void *arg) {
  const char *name = arg;
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, ticker, NULL));
  cc_addr_t out[8];
  for (int i = 0; i < 20; i++) {
    int n = cc_resolve(name, 99, AF_INET, out, 8, cc_deadline_in(5000));
    ASSERT_GE(n, 1);
    ASSERT_EQ(out[0].u.sa.sa_family, AF_INET);
    ASSERT_EQ(cc_addr_port(&out[0]), 99);
  }
  /* Through a plain call outside the resolver too: connect by name. */
  int port;
  int lfd = listen_any("127.0.0.1", &port);
  int fd = cc_tcp_connect(name, port, cc_deadline_in(5000));
  ASSERT_GE(fd, 0);
  cc_close(fd);
  cc_close(lfd);
  cc_cancel(t);
  cc_join(t, NULL);
  return 0;
}

/* A name that /etc/hosts maps to 127.0.0.1, other than localhost, or NULL. */
static const char *hosts_name(void) {
  FILE *f = fopen("/etc/hosts", "r");
  if (!f)
    return NULL;
  static char name[256];
  char line[512];
  name[0] = '\0';
  while (!name[0] && fgets(line, sizeof line, f)) {
    char ip[64], h[256];
    if (sscanf(line, "%63s %255s", ip, h) == 2 && strcmp(ip, "127.0.0.1") == 0 &&
        strcmp(h, "localhost") != 0 && !strchr(h, '#'))
      snprintf(name, sizeof name, "%s", h);
  }
  fclose(f);
  return name[0] ? name : NULL;
}

TEST(resolve_on_helper_thread) {
  const char *name = hosts_name();
  if (!name)
    SKIP("/etc/hosts maps no name but localhost to 127.0.0.1");
  cc_test_run(resolve_thread_main, (void *)name);
}

/* A lookup abandoned by its caller (deadline already past, or cancelled)
 * returns at once; its helper thread finishes on its own and frees
 * everything (ASan's leak check and the fd count verify it). */
static intptr_t resolve_one(void *arg) {
  cc_addr_t out[2];
  return cc_resolve(arg, 1, AF_UNSPEC, out, 2, CC_FOREVER);
}

static intptr_t resolve_abandon_main(void *arg) {
  cc_addr_t out[2];
  /* -ETIMEDOUT, unless the helper thread was done before we looked. */
  int r0 = cc_resolve(arg, 1, AF_UNSPEC, out, 2, cc_now() - 1);
  ASSERT_TRUE(r0 == -ETIMEDOUT || r0 == 1);
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, resolve_one, arg));
  ASSERT_OK(cc_yield()); /* let it start its lookup and park */
  cc_cancel(t);
  intptr_t res = 0;
  int r = cc_join(t, &res);
  ASSERT_TRUE(r == -ECANCELED || r == 0);
  cc_sleep(200); /* the helper threads finish and close /etc/hosts */
  return 0;
}

TEST(resolve_abandoned) {
  const char *name = hosts_name();
  if (!name)
    SKIP("/etc/hosts maps no name but localhost to 127.0.0.1");
  cc_test_run(resolve_abandon_main, (void *)name);
}

/* ---- echo over TCP (v4, v6) and Unix sockets ----------------------------------------
 */

typedef struct {
  int fd;
  char *out, *in;
  size_t n;
} big_t;

static intptr_t big_reader(void *arg) {
  big_t *b = arg;
  return cc_read_full(b->fd, b->in, b->n, cc_deadline_in(5000));
}

static intptr_t echo_main(void *arg) {
  const char *which = arg;
  int lfd, port = 0;
  char path[64] = "";
  if (strcmp(which, "unix") == 0) {
    snprintf(path, sizeof path, "@concur-test-%d", (int)getpid());
    lfd = cc_unix_listen(path, NULL);
    ASSERT_GE(lfd, 0);
  } else {
    cc_addr_t a;
    ASSERT_OK(cc_addr_ip(&a, which, 0));
    lfd = cc_listen_addr(&a, NULL);
    if (lfd == -EAFNOSUPPORT || lfd == -EADDRNOTAVAIL)
      return 77;
    ASSERT_GE(lfd, 0);
    cc_addr_t la;
    cc_sock_local_addr(lfd, &la);
    port = cc_addr_port(&la);
  }
  cc_task_t *srv;
  ASSERT_OK(cc_spawn(&srv, echo_once_task, (void *)(intptr_t)lfd));
  int fd = path[0] ? cc_unix_connect(path, cc_deadline_in(2000))
                   : cc_tcp_connect(which, port, cc_deadline_in(2000));
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 100; i++) {
    char msg[64], back[64];
    int n = snprintf(msg, sizeof msg, "message %d", i);
    ASSERT_EQ(cc_write(fd, msg, (size_t)n, cc_deadline_in(2000)), n);
    ASSERT_EQ(cc_read_full(fd, back, (size_t)n, cc_deadline_in(2000)), n);
    ASSERT_EQ(memcmp(msg, back, (size_t)n), 0);
  }
  /* 1 MiB in one call: partial writes completed while the peer echoes it
   * back; a concurrent reader drains the echo (the writer alone would fill
   * both socket buffers and wait forever). */
  big_t b = {.fd = fd, .n = 1 << 20};
  b.out = malloc(b.n);
  b.in = malloc(b.n);
  for (size_t i = 0; i < b.n; i++)
    b.out[i] = (char)(i * 7 + 3);
  cc_task_t *rd;
  ASSERT_OK(cc_spawn(&rd, big_reader, &b));
  ASSERT_EQ(cc_write(fd, b.out, b.n, cc_deadline_in(5000)), (ssize_t)b.n);
  intptr_t got;
  ASSERT_OK(cc_join(rd, &got));
  ASSERT_EQ(got, (intptr_t)b.n);
  ASSERT_EQ(memcmp(b.out, b.in, b.n), 0);
  free(b.out);
  free(b.in);
  ASSERT_OK(cc_shutdown(fd, SHUT_WR));
  char c;
  ASSERT_EQ(cc_read(fd, &c, 1, cc_deadline_in(2000)), 0);
  cc_close(fd);
  intptr_t res;
  ASSERT_OK(cc_join(srv, &res));
  ASSERT_EQ(res, 0);
  cc_close(lfd);
  return 0;
}

TEST(echo_tcp4) {
  cc_test_run(echo_main, "127.0.0.1");
}

TEST(echo_tcp6) {
  if (cc_test_run(echo_main, "::1") == 77)
    SKIP("no IPv6 loopback");
}

TEST(echo_unix) {
  cc_test_run(echo_main, "unix");
}

TEST(unix_path_stale_socket) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/concur-test-%d.sock", (int)getpid());
  unlink(path);
  int lfd = cc_unix_listen(path, NULL);
  ASSERT_GE(lfd, 0);
  ASSERT_OK(cc_close(lfd)); /* leaves the socket file behind */
  lfd = cc_unix_listen(path, NULL);
  ASSERT_GE(lfd, 0); /* the stale file was replaced */
  ASSERT_OK(cc_close(lfd));
  unlink(path);
  /* A regular file is never removed. */
  int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(f, 0);
  close(f);
  ASSERT_ERR(cc_unix_listen(path, NULL), -EADDRINUSE);
  unlink(path);
}

/* ---- connect ------------------------------------------------------------------------
 */

static intptr_t refused_main(void *arg) {
  int port;
  int lfd = listen_any("127.0.0.1", &port);
  cc_close(lfd); /* nothing listens there now */
  ASSERT_ERR(cc_tcp_connect("127.0.0.1", port, cc_deadline_in(2000)), -ECONNREFUSED);
  ASSERT_ERR(cc_unix_connect("@concur-nobody-listens-here", cc_deadline_in(2000)),
             -ECONNREFUSED);
  return 0;
}

TEST(connect_refused) {
  cc_test_run(refused_main, NULL);
}

/* A listener that never accepts, with backlog 1: once its queue is full the
 * kernel drops further SYNs, so the next connect hangs until its deadline. */
static intptr_t connect_timeout_main(void *arg) {
  cc_addr_t a;
  cc_addr_ip(&a, "127.0.0.1", 0);
  cc_listen_opts_t lo = {.backlog = 1};
  int lfd = cc_listen_addr(&a, &lo);
  ASSERT_GE(lfd, 0);
  cc_addr_t la;
  cc_sock_local_addr(lfd, &la);
  int port = cc_addr_port(&la);
  int fds[16], n = 0, r = 0;
  int64_t t0 = 0;
  while (n < 16) {
    t0 = cc_now();
    r = cc_tcp_connect("127.0.0.1", port, cc_deadline_in(150));
    if (r < 0)
      break;
    fds[n++] = r;
  }
  ASSERT_ERR(r, -ETIMEDOUT);
  ASSERT_GE(cc_now() - t0, 140);
  /* The task's deadline scope works the same way. */
  cc_timeout_t sc;
  cc_timeout_begin(&sc, cc_deadline_in(100));
  ASSERT_ERR(cc_tcp_connect("127.0.0.1", port, CC_FOREVER), -ETIMEDOUT);
  ASSERT_TRUE(cc_timeout_end(&sc));
  for (int i = 0; i < n; i++)
    cc_close(fds[i]);
  cc_close(lfd);
  return 0;
}

TEST(connect_timeout) {
  cc_test_run(connect_timeout_main, NULL);
}

/* ---- deadlines and cancellation -------------------------------------------------------
 */

static intptr_t read_deadline_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  char buf[16];
  int64_t t0 = cc_now();
  ASSERT_ERR(cc_read(a, buf, sizeof buf, cc_deadline_in(100)), -ETIMEDOUT);
  ASSERT_GE(cc_now() - t0, 95);
  cc_timeout_t sc;
  cc_timeout_begin(&sc, cc_deadline_in(50));
  ASSERT_ERR(cc_read(a, buf, sizeof buf, CC_FOREVER), -ETIMEDOUT);
  cc_timeout_end(&sc);
  /* The connection is still fine after a time-out. */
  ASSERT_EQ(cc_write(b, "hi", 2, CC_FOREVER), 2);
  ASSERT_EQ(cc_read(a, buf, sizeof buf, cc_deadline_in(1000)), 2);
  /* Public fd waiting. */
  ASSERT_ERR(cc_fd_wait(a, CC_READABLE, cc_deadline_in(30)), -ETIMEDOUT);
  ASSERT_OK(cc_fd_wait(a, CC_WRITABLE, cc_deadline_in(1000)));
  ASSERT_ERR(cc_fd_wait(a, CC_READABLE | CC_WRITABLE, CC_FOREVER), -EINVAL);
  cc_close(a);
  cc_close(b);
  return 0;
}

TEST(read_deadline) {
  cc_test_run(read_deadline_main, NULL);
}

/* The peer never reads: our writes fill both socket buffers, then wait
 * until the deadline. */
static intptr_t write_deadline_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  size_t n = 64 << 20;
  char *buf = calloc(1, n);
  ASSERT_ERR(cc_write(a, buf, n, cc_deadline_in(200)), -ETIMEDOUT);
  ASSERT_ERR(cc_writev(a, &(struct iovec){buf, n}, 1, cc_deadline_in(50)), -ETIMEDOUT);
  free(buf);
  cc_close(a);
  cc_close(b);
  return 0;
}

TEST(write_deadline) {
  cc_test_run(write_deadline_main, NULL);
}

static intptr_t blocked_reader(void *arg) {
  char buf[8];
  return cc_read((int)(intptr_t)arg, buf, sizeof buf, CC_FOREVER);
}

static intptr_t cancel_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, blocked_reader, (void *)(intptr_t)a));
  ASSERT_OK(cc_sleep(20));
  ASSERT_FALSE(cc_task_done(t));
  ASSERT_OK(cc_cancel(t));
  intptr_t res = 0;
  int r = cc_join(t, &res);
  ASSERT_TRUE(r == -ECANCELED || res == -ECANCELED);
  /* The fd's reader slot is free again: a new reader works. */
  ASSERT_EQ(cc_write(b, "x", 1, CC_FOREVER), 1);
  char c;
  ASSERT_EQ(cc_read(a, &c, 1, cc_deadline_in(1000)), 1);
  cc_close(a);
  cc_close(b);
  return 0;
}

TEST(cancel_mid_read) {
  cc_test_run(cancel_main, NULL);
}

/* Closing an fd wakes its waiter with -EBADF instead of leaving it hanging. */
static intptr_t close_wakes_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, blocked_reader, (void *)(intptr_t)a));
  ASSERT_OK(cc_sleep(10));
  ASSERT_OK(cc_close(a));
  intptr_t res = 0;
  int r = cc_join(t, &res);
  ASSERT_TRUE(r == -EBADF || res == -EBADF);
  cc_close(b);
  return 0;
}

TEST(close_wakes_waiter) {
  cc_test_run(close_wakes_main, NULL);
}

/* ---- resets and half-closes ----------------------------------------------------------
 */

static void reset_close(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  cc_close(fd);
}

static intptr_t reset_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  reset_close(b);
  char buf[16];
  ASSERT_ERR(cc_read(a, buf, sizeof buf, cc_deadline_in(1000)), -ECONNRESET);
  ssize_t w = cc_write(a, "x", 1, cc_deadline_in(1000));
  ASSERT_TRUE(w == -EPIPE || w == -ECONNRESET);
  cc_close(a);
  /* A reset arriving while a reader waits. */
  tcp_pair(&a, &b);
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, blocked_reader, (void *)(intptr_t)a));
  cc_sleep(10);
  reset_close(b);
  ASSERT_ERR(cc_join(t, NULL), -ECONNRESET);
  cc_close(a);
  return 0;
}

TEST(peer_reset) {
  cc_test_run(reset_main, NULL);
}

static intptr_t half_close_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  ASSERT_EQ(cc_write(a, "question", 8, CC_FOREVER), 8);
  ASSERT_OK(cc_shutdown(a, SHUT_WR));
  char buf[64];
  ASSERT_EQ(cc_read_full(b, buf, sizeof buf, cc_deadline_in(1000)), 8); /* then EOF */
  ASSERT_EQ(cc_read(b, buf, sizeof buf, cc_deadline_in(1000)), 0);
  /* The other direction still works after the half-close. */
  ASSERT_EQ(cc_write(b, "answer", 6, CC_FOREVER), 6);
  cc_close(b);
  ASSERT_EQ(cc_read_full(a, buf, sizeof buf, cc_deadline_in(1000)), 6);
  ASSERT_EQ(memcmp(buf, "answer", 6), 0);
  cc_close(a);
  return 0;
}

TEST(half_close) {
  cc_test_run(half_close_main, NULL);
}

/* ---- writev and sendfile
 * ---------------------------------------------------------------- */

static intptr_t drain_task(void *arg) {
  big_t *b = arg;
  return cc_read_full(b->fd, b->in, b->n, cc_deadline_in(5000));
}

static intptr_t writev_sendfile_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  /* 300 segments of varying size (some empty): more than one window. */
  enum { NSEG = 300 };
  struct iovec iov[NSEG];
  size_t total = 0;
  char *data = malloc(NSEG * 4096);
  for (int i = 0; i < NSEG * 4096; i++)
    data[i] = (char)(i % 251);
  for (int i = 0; i < NSEG; i++) {
    iov[i].iov_base = data + i * 4096;
    iov[i].iov_len = (size_t)((i * 37) % 4097);
    total += iov[i].iov_len;
  }
  big_t bt = {.fd = b, .n = total, .in = malloc(total)};
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, drain_task, &bt));
  ASSERT_EQ(cc_writev(a, iov, NSEG, cc_deadline_in(5000)), (ssize_t)total);
  intptr_t got;
  ASSERT_OK(cc_join(t, &got));
  ASSERT_EQ(got, (intptr_t)total);
  size_t off = 0;
  for (int i = 0; i < NSEG; i++) {
    ASSERT_EQ(memcmp(bt.in + off, iov[i].iov_base, iov[i].iov_len), 0);
    off += iov[i].iov_len;
  }
  free(bt.in);
  ASSERT_ERR(cc_writev(a, iov, -1, CC_FOREVER), -EINVAL);

  /* sendfile: 3 MiB from a temporary file, then past its end. */
  FILE *tf = tmpfile();
  ASSERT_NOT_NULL(tf);
  size_t fsz = 3 << 20;
  for (size_t i = 0; i < fsz; i += NSEG * 4096) {
    size_t k = fsz - i < NSEG * 4096 ? fsz - i : NSEG * 4096;
    ASSERT_EQ(fwrite(data, 1, k, tf), k);
  }
  fflush(tf);
  bt.n = fsz;
  bt.in = malloc(fsz);
  ASSERT_OK(cc_spawn(&t, drain_task, &bt));
  off_t o = 0;
  ASSERT_EQ(cc_sendfile(a, fileno(tf), &o, fsz + 100, cc_deadline_in(5000)),
            (ssize_t)fsz);
  ASSERT_EQ(o, (off_t)fsz);
  ASSERT_OK(cc_join(t, &got));
  ASSERT_EQ(got, (intptr_t)fsz);
  for (size_t i = 0; i < fsz; i++)
    if (bt.in[i] != data[i % (NSEG * 4096)])
      CC_TEST_FAIL("sendfile byte %zu differs", i);
  free(bt.in);
  /* To a peer that reset: an error, not SIGPIPE. */
  reset_close(b);
  cc_sleep(5);
  o = 0;
  ssize_t sr = cc_sendfile(a, fileno(tf), &o, fsz, cc_deadline_in(2000));
  ASSERT_TRUE(sr == -EPIPE || sr == -ECONNRESET);
  sr = cc_sendfile(a, fileno(tf), &o, fsz, cc_deadline_in(2000));
  ASSERT_TRUE(sr == -EPIPE || sr == -ECONNRESET);
  fclose(tf);
  free(data);
  cc_close(a);
  return 0;
}

TEST(writev_and_sendfile) {
  cc_test_run(writev_sendfile_main, NULL);
}

/* Fewer segments than one window, far more bytes than the socket takes at
 * once: the first sendmsg uses the caller's array itself, the partial
 * writes after it resume from a trimmed copy; the array stays untouched. */
static intptr_t writev_partial_main(void *arg) {
  (void)arg;
  int a, b;
  tcp_pair(&a, &b);
  int sndbuf = 64 * 1024; /* so that every sendmsg is partial */
  ASSERT_OK(setsockopt(a, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf));
  enum { NSEG = 40, SEG = 96 * 1024 };
  char *data = malloc((size_t)NSEG * SEG);
  ASSERT_NOT_NULL(data);
  for (size_t i = 0; i < (size_t)NSEG * SEG; i++)
    data[i] = (char)(i % 253);
  struct iovec iov[NSEG], orig[NSEG];
  size_t total = 0;
  for (int i = 0; i < NSEG; i++) {
    iov[i].iov_base = data + (size_t)i * SEG;
    iov[i].iov_len = i % 7 == 3 ? 0 : (size_t)SEG - (size_t)i * 11; /* some empty */
    total += iov[i].iov_len;
  }
  memcpy(orig, iov, sizeof iov);
  big_t bt = {.fd = b, .n = total, .in = malloc(total)};
  ASSERT_NOT_NULL(bt.in);
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, drain_task, &bt));
  ASSERT_EQ(cc_writev(a, iov, NSEG, cc_deadline_in(5000)), (ssize_t)total);
  intptr_t got;
  ASSERT_OK(cc_join(t, &got));
  ASSERT_EQ(got, (intptr_t)total);
  ASSERT_EQ(memcmp(orig, iov, sizeof iov), 0);
  size_t off = 0;
  for (int i = 0; i < NSEG; i++) {
    ASSERT_EQ(memcmp(bt.in + off, iov[i].iov_base, iov[i].iov_len), 0);
    off += iov[i].iov_len;
  }
  free(bt.in);
  free(data);
  cc_close(a);
  cc_close(b);
  return 0;
}

TEST(writev_partial_writes) {
  cc_test_run(writev_partial_main, NULL);
}

/* ---- accept under EMFILE
 * ------------------------------------------------------------------ */

static intptr_t emfile_main(void *arg) {
  int port;
  int lfd = listen_any("127.0.0.1", &port);
  int c = cc_tcp_connect("127.0.0.1", port, cc_deadline_in(1000));
  ASSERT_GE(c, 0);
  struct rlimit old, lim;
  getrlimit(RLIMIT_NOFILE, &old);
  /* Use up every descriptor below a low soft limit. */
  int n0 = cc_test_count_fds();
  lim = old;
  lim.rlim_cur = (rlim_t)n0 + 40;
  ASSERT_OK(setrlimit(RLIMIT_NOFILE, &lim));
  int fillers[64], nf = 0;
  for (;;) {
    int d = dup(lfd);
    if (d < 0)
      break;
    fillers[nf++] = d;
    ASSERT_LT(nf, 64);
  }
  int64_t t0 = cc_now();
  ASSERT_ERR(cc_tcp_accept(lfd, NULL, cc_deadline_in(1000)), -EMFILE);
  ASSERT_GE(cc_now() - t0, 4); /* it backed off instead of spinning */
  ASSERT_ERR(cc_tcp_accept(lfd, NULL, cc_deadline_in(1000)), -EMFILE);
  for (int i = 0; i < nf; i++)
    close(fillers[i]);
  setrlimit(RLIMIT_NOFILE, &old);
  int s = cc_tcp_accept(lfd, NULL, cc_deadline_in(1000));
  ASSERT_GE(s, 0);
  ASSERT_EQ(cc_write(c, "ok", 2, CC_FOREVER), 2);
  char buf[2];
  ASSERT_EQ(cc_read_full(s, buf, 2, cc_deadline_in(1000)), 2);
  cc_close(s);
  cc_close(c);
  cc_close(lfd);
  return 0;
}

TEST(accept_emfile_backoff) {
  cc_test_run(emfile_main, NULL);
}

/* ---- plain threads: the same calls block in poll(2)
 * ------------------------------------------ */

TEST(plain_thread_io) {
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
  char buf[8];
  int64_t t0 = cc_now();
  ASSERT_ERR(cc_read(sv[0], buf, sizeof buf, cc_deadline_in(50)), -ETIMEDOUT);
  ASSERT_GE(cc_now() - t0, 45);
  ASSERT_EQ(cc_write(sv[1], "abc", 3, CC_FOREVER), 3);
  ASSERT_EQ(cc_read(sv[0], buf, sizeof buf, cc_deadline_in(1000)), 3);
  cc_addr_t out[2];
  ASSERT_EQ(cc_resolve("localhost", 1, AF_INET, out, 2, CC_FOREVER), 1);
  ASSERT_OK(cc_close(sv[0]));
  ASSERT_OK(cc_close(sv[1]));
}

/* ---- fairness under a peer that floods
 * ------------------------------------------------------- */

static atomic_bool flood_done;
static intptr_t counter_task(void *arg) {
  long *count = arg;
  while (!atomic_load(&flood_done)) {
    if (cc_yield() < 0)
      break;
    (*count)++;
  }
  return 0;
}

static intptr_t fairness_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  int sz = 1 << 20;
  setsockopt(a, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  setsockopt(b, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  /* Queue a lot of data, then read it in small pieces: every read finds
   * data ready and never has to wait. */
  static char chunk[64 * 1024];
  size_t queued = 0;
  for (;;) {
    ssize_t w = send(a, chunk, sizeof chunk, MSG_DONTWAIT);
    if (w <= 0)
      break;
    queued += (size_t)w;
  }
  ASSERT_GT(queued, 100000);
  long count = 0;
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, counter_task, &count));
  ASSERT_OK(cc_yield());
  long before = count;
  char buf[64];
  for (int i = 0; i < 1500; i++)
    ASSERT_GT(cc_read(b, buf, sizeof buf, CC_FOREVER), 0);
  ASSERT_GT(count - before, 10); /* the other task ran meanwhile */
  atomic_store(&flood_done, true);
  cc_join(t, NULL);
  cc_close(a);
  cc_close(b);
  return 0;
}

TEST(fairness_under_flood) {
  cc_test_run(fairness_main, NULL);
}

/* ---- listen options
 * ---------------------------------------------------------------------- */

static intptr_t listen_opts_main(void *arg) {
  /* NULL host: every address, dual-stack where IPv6 exists. */
  int lfd = cc_tcp_listen(NULL, 0, NULL);
  ASSERT_GE(lfd, 0);
  cc_addr_t la;
  cc_sock_local_addr(lfd, &la);
  int port = cc_addr_port(&la);
  int fd = cc_tcp_connect("127.0.0.1", port, cc_deadline_in(1000));
  ASSERT_GE(fd, 0);
  int s = cc_tcp_accept(lfd, NULL, cc_deadline_in(1000));
  ASSERT_GE(s, 0);
  cc_close(s);
  cc_close(fd);
  if (la.u.sa.sa_family == AF_INET6) {
    fd = cc_tcp_connect("::1", port, cc_deadline_in(1000));
    ASSERT_GE(fd, 0);
    cc_addr_t peer;
    s = cc_tcp_accept(lfd, &peer, cc_deadline_in(1000));
    ASSERT_GE(s, 0);
    ASSERT_EQ(peer.u.sa.sa_family, AF_INET6);
    cc_close(s);
    cc_close(fd);
  }
  cc_close(lfd);

  /* SO_REUSEPORT: two listeners share a port only when both ask for it. */
  cc_listen_opts_t rp = {.reuseport = true};
  int l1 = cc_tcp_listen("127.0.0.1", 0, &rp);
  ASSERT_GE(l1, 0);
  cc_sock_local_addr(l1, &la);
  port = cc_addr_port(&la);
  int l2 = cc_tcp_listen("127.0.0.1", port, &rp);
  ASSERT_GE(l2, 0);
  ASSERT_ERR(cc_tcp_listen("127.0.0.1", port, NULL), -EADDRINUSE);
  cc_close(l1);
  cc_close(l2);
  ASSERT_ERR(cc_tcp_listen("127.0.0.1", 70000, NULL), -EINVAL);
  ASSERT_ERR(cc_tcp_listen("no.such.host.invalid", 0, NULL), -CC_ERESOLVE);
  return 0;
}

TEST(listen_dual_stack_and_reuseport) {
  cc_test_run(listen_opts_main, NULL);
}

/* cc_tcp_connect tries every address of a name: "localhost" gives
 * 127.0.0.1 first, refused here, then ::1, which listens. */
static intptr_t connect_fallback_main(void *arg) {
  cc_addr_t a;
  cc_addr_ip(&a, "::1", 0);
  cc_listen_opts_t lo = {.v6only = true};
  int lfd = cc_listen_addr(&a, &lo);
  if (lfd < 0)
    return 77;
  cc_addr_t la;
  cc_sock_local_addr(lfd, &la);
  int port = cc_addr_port(&la);
  int fd = cc_tcp_connect("localhost", port, cc_deadline_in(2000));
  ASSERT_GE(fd, 0);
  cc_addr_t peer;
  ASSERT_OK(cc_sock_peer_addr(fd, &peer));
  ASSERT_EQ(peer.u.sa.sa_family, AF_INET6);
  cc_close(fd);
  cc_close(lfd);
  return 0;
}

TEST(connect_tries_each_address) {
  if (cc_test_run(connect_fallback_main, NULL) == 77)
    SKIP("no IPv6 loopback");
}
