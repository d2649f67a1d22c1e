/* Tests of buffered streams and cc_serve: exact/delimited/line reads,
 * buffering and zero-copy writes, deadlines without data loss, and faults
 * on one connection that must not disturb the others. Loopback only. */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

static int listen_local(int *port) {
  int lfd = cc_tcp_listen("127.0.0.1", 0, NULL);
  ASSERT_GE(lfd, 0);
  cc_addr_t la;
  ASSERT_OK(cc_sock_local_addr(lfd, &la));
  *port = cc_addr_port(&la);
  return lfd;
}

static void tcp_pair(int *a, int *b) {
  int port;
  int lfd = listen_local(&port);
  *a = cc_tcp_connect("127.0.0.1", port, cc_deadline_in(2000));
  ASSERT_GE(*a, 0);
  *b = cc_tcp_accept(lfd, NULL, cc_deadline_in(2000));
  ASSERT_GE(*b, 0);
  cc_close(lfd);
}

static void reset_close(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  cc_close(fd);
}

/* ---- reads
 * ------------------------------------------------------------------------------ */

static char blob[10000];

static intptr_t piecewise_writer(void *arg) {
  int fd = (int)(intptr_t)arg;
  const char *pieces[] = {"hel", "lo\r", "\nwor", "ld\r\n"};
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ(cc_write(fd, pieces[i], strlen(pieces[i]), CC_FOREVER),
              (ssize_t)strlen(pieces[i]));
    cc_sleep(2);
  }
  ASSERT_EQ(cc_write(fd, blob, sizeof blob, CC_FOREVER), (ssize_t)sizeof blob);
  const char *tail = "line1\nline2\npartial";
  ASSERT_EQ(cc_write(fd, tail, strlen(tail), CC_FOREVER), (ssize_t)strlen(tail));
  cc_shutdown(fd, SHUT_WR);
  return 0;
}

static intptr_t reads_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  for (size_t i = 0; i < sizeof blob; i++)
    blob[i] = (char)(i * 13);
  cc_task_t *w;
  ASSERT_OK(cc_spawn(&w, piecewise_writer, (void *)(intptr_t)a));
  cc_stream_t *s;
  /* A small buffer so that records straddle refills. */
  cc_stream_opts_t so = {.read_buf = 64};
  ASSERT_OK(cc_stream_new(&s, b, &so));
  ASSERT_EQ(cc_stream_fd(s), b);
  char buf[20000];
  int64_t dl = cc_deadline_in(2000);
  ASSERT_EQ(cc_stream_read_until(s, "\r\n", 2, buf, sizeof buf, dl), 7);
  ASSERT_EQ(memcmp(buf, "hello\r\n", 7), 0);
  ASSERT_EQ(cc_stream_read_until(s, "\r\n", 2, buf, sizeof buf, dl), 7);
  ASSERT_EQ(memcmp(buf, "world\r\n", 7), 0);
  ASSERT_EQ(cc_stream_read_exactly(s, buf, sizeof blob, dl), (ssize_t)sizeof blob);
  ASSERT_EQ(memcmp(buf, blob, sizeof blob), 0);
  ASSERT_EQ(cc_stream_read_line(s, buf, sizeof buf, dl), 6);
  ASSERT_STR_EQ(buf, "line1\n");
  const void *p;
  ssize_t n = cc_stream_peek(s, &p, dl);
  ASSERT_GT(n, 0);
  ASSERT_EQ(((const char *)p)[0], 'l');
  cc_stream_consume(s, 4); /* "line" */
  ASSERT_EQ(cc_stream_read_line(s, buf, sizeof buf, dl), 2);
  ASSERT_STR_EQ(buf, "2\n");
  ASSERT_EQ(cc_stream_read_line(s, buf, sizeof buf, dl), 7); /* last line, no newline */
  ASSERT_STR_EQ(buf, "partial");
  ASSERT_EQ(cc_stream_read_line(s, buf, sizeof buf, dl), 0);
  ASSERT_EQ(cc_stream_read(s, buf, sizeof buf, dl), 0);
  ASSERT_ERR(cc_stream_read_exactly(s, buf, 1, dl), -ENODATA);
  cc_join(w, NULL);
  cc_stream_free(s);
  cc_close(a);
  return 0;
}

TEST(stream_reads) {
  cc_test_run(reads_main, NULL);
}

static intptr_t eof_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  cc_stream_t *s;
  ASSERT_OK(cc_stream_new(&s, b, NULL));
  ASSERT_EQ(cc_write(a, "abcde", 5, CC_FOREVER), 5);
  cc_shutdown(a, SHUT_WR);
  char buf[64];
  /* An unterminated record at end of stream stays readable. */
  ASSERT_ERR(cc_stream_read_until(s, "\r\n", 2, buf, sizeof buf, cc_deadline_in(1000)),
             -ENODATA);
  ASSERT_EQ(cc_stream_buffered(s), 5);
  ASSERT_ERR(cc_stream_read_exactly(s, buf, 10, cc_deadline_in(1000)), -ENODATA);
  cc_stream_free(s);
  cc_close(a);
  return 0;
}

TEST(stream_eof_partial) {
  cc_test_run(eof_main, NULL);
}

/* After a short read a plain stream waits for the next edge before it
 * reads again (no read that says EAGAIN): the reply that comes later wakes
 * it, and a FIN that came with the data the short read took (one edge for
 * both, seen while the reader was parked) still ends the stream at once. */
static intptr_t fin_writer(void *arg) {
  int a = (int)(intptr_t)arg;
  cc_sleep(20);
  if (cc_write(a, "ping", 4, CC_FOREVER) != 4)
    return -1;
  cc_sleep(20);
  /* Data and FIN in the same turn: the parked reader sees one edge. */
  if (cc_write(a, "abc", 3, CC_FOREVER) != 3)
    return -1;
  cc_shutdown(a, SHUT_WR);
  return 0;
}

static intptr_t short_read_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  cc_stream_t *s;
  ASSERT_OK(cc_stream_new(&s, b, NULL));
  cc_task_t *w;
  ASSERT_OK(cc_spawn(&w, fin_writer, (void *)(intptr_t)a));
  char buf[64];
  ASSERT_EQ(cc_stream_read(s, buf, sizeof buf, cc_deadline_in(2000)), 4); /* short */
  ASSERT_EQ(memcmp(buf, "ping", 4), 0);
  ASSERT_EQ(cc_stream_read(s, buf, sizeof buf, cc_deadline_in(2000)),
            3); /* waits first */
  ASSERT_EQ(memcmp(buf, "abc", 3), 0);
  int64_t t0 = cc_now();
  ASSERT_EQ(cc_stream_read(s, buf, sizeof buf, cc_deadline_in(2000)),
            0); /* EOF at once */
  ASSERT_LT(cc_now() - t0, 1000);
  intptr_t wr;
  ASSERT_OK(cc_join(w, &wr));
  ASSERT_EQ(wr, 0);
  cc_stream_free(s);
  cc_close(a);
  return 0;
}

TEST(stream_short_read_waits_then_sees_fin) {
  cc_test_run(short_read_main, NULL);
}

/* A read that times out keeps what it received. */
static intptr_t deadline_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  cc_stream_t *s;
  ASSERT_OK(cc_stream_new(&s, b, NULL));
  ASSERT_EQ(cc_write(a, "abc", 3, CC_FOREVER), 3);
  char buf[64];
  ASSERT_ERR(cc_stream_read_line(s, buf, sizeof buf, cc_deadline_in(50)), -ETIMEDOUT);
  ASSERT_EQ(cc_write(a, "def\n", 4, CC_FOREVER), 4);
  ASSERT_EQ(cc_stream_read_line(s, buf, sizeof buf, cc_deadline_in(1000)), 7);
  ASSERT_STR_EQ(buf, "abcdef\n");
  cc_stream_free(s);
  cc_close(a);
  return 0;
}

TEST(stream_deadline_keeps_data) {
  cc_test_run(deadline_main, NULL);
}

/* ---- a partial read keeps its bytes ---------------------------------------------
 * The peer writes part of a record; the reader's deadline passes, or the
 * reader is cancelled, while it waits for the rest; then the rest comes.
 * The next read must return every byte, in order. Before the fix,
 * read_exactly dropped the part it had taken (the next read returned
 * "def..." or waited forever). */

static int pending_in_socket(int fd) {
  int n = 0;
  ASSERT_OK(ioctl(fd, FIONREAD, &n));
  return n;
}

typedef struct {
  cc_stream_t *s;
  int kind; /* 0: read_exactly(small), 1: read_exactly(large), 2: read_line */
  size_t n;
  char *buf;
  ssize_t result;
} partial_t;

static intptr_t partial_reader(void *arg) {
  partial_t *p = arg;
  if (p->kind == 2)
    p->result = cc_stream_read_line(p->s, p->buf, p->n, CC_FOREVER);
  else
    p->result = cc_stream_read_exactly(p->s, p->buf, p->n, CC_FOREVER);
  return 0;
}

static void fill_pattern(char *b, size_t n, size_t from) {
  for (size_t i = 0; i < n; i++)
    b[i] = (char)('a' + (from + i) % 26);
}

/* kind as partial_t; cancel: cancel the reader, else let a deadline pass. */
static void partial_case(int kind, bool cancel) {
  int a, b;
  tcp_pair(&a, &b);
  cc_stream_t *s;
  cc_stream_opts_t so = {.read_buf = 64}; /* kind 1 reads past the buffer */
  ASSERT_OK(cc_stream_new(&s, b, &so));
  size_t n = kind == 1 ? 1000 : 10, part = kind == 1 ? 600 : 4;
  char want[1000], got[1000], buf[1000];
  fill_pattern(want, n, 0);
  if (kind == 2)
    want[n - 1] = '\n';
  ASSERT_EQ(cc_write(a, want, part, CC_FOREVER), (ssize_t)part);
  if (cancel) {
    partial_t p = {s, kind, kind == 2 ? sizeof buf : n, buf, 1};
    cc_task_t *t;
    ASSERT_OK(cc_spawn(&t, partial_reader, &p));
    /* Let the reader take the part and park for the rest: same loop, no
     * timing involved. */
    for (int i = 0; i < 100 && pending_in_socket(b) > 0; i++)
      ASSERT_OK(cc_yield());
    ASSERT_EQ(pending_in_socket(b), 0);
    cc_cancel(t);
    cc_join(t, NULL);
    ASSERT_EQ(p.result, -ECANCELED);
  } else {
    ssize_t r = kind == 2 ? cc_stream_read_line(s, buf, sizeof buf, cc_deadline_in(30))
                          : cc_stream_read_exactly(s, buf, n, cc_deadline_in(30));
    ASSERT_EQ(r, -ETIMEDOUT);
  }
  ASSERT_EQ(cc_stream_buffered(s), part); /* kept, not dropped */
  ASSERT_EQ(cc_write(a, want + part, n - part, CC_FOREVER), (ssize_t)(n - part));
  ssize_t r = kind == 2 ? cc_stream_read_line(s, got, sizeof got, cc_deadline_in(2000))
                        : cc_stream_read_exactly(s, got, n, cc_deadline_in(2000));
  ASSERT_EQ(r, (ssize_t)n);
  ASSERT_EQ(memcmp(got, want, n), 0);
  /* And the stream goes on in order. */
  ASSERT_EQ(cc_write(a, "xyz", 3, CC_FOREVER), 3);
  ASSERT_EQ(cc_stream_read_exactly(s, got, 3, cc_deadline_in(2000)), 3);
  ASSERT_EQ(memcmp(got, "xyz", 3), 0);
  cc_stream_free(s);
  cc_close(a);
}

static intptr_t partial_main(void *arg) {
  (void)arg;
  for (int kind = 0; kind < 3; kind++) {
    partial_case(kind, false);
    partial_case(kind, true);
  }
  return 0;
}

TEST(stream_partial_read_keeps_bytes) {
  cc_test_run(partial_main, NULL);
}

/* End of stream in the middle of read_exactly: -ENODATA, and the part is
 * still readable. */
static intptr_t partial_eof_main(void *arg) {
  (void)arg;
  int a, b;
  tcp_pair(&a, &b);
  cc_stream_t *s;
  ASSERT_OK(cc_stream_new(&s, b, NULL));
  ASSERT_EQ(cc_write(a, "abcde", 5, CC_FOREVER), 5);
  cc_shutdown(a, SHUT_WR);
  char buf[64];
  ASSERT_ERR(cc_stream_read_exactly(s, buf, 10, cc_deadline_in(2000)), -ENODATA);
  ASSERT_EQ(cc_stream_buffered(s), 5);
  ASSERT_EQ(cc_stream_read(s, buf, sizeof buf, cc_deadline_in(2000)), 5);
  ASSERT_EQ(memcmp(buf, "abcde", 5), 0);
  ASSERT_EQ(cc_stream_read(s, buf, sizeof buf, cc_deadline_in(2000)), 0);
  cc_stream_free(s);
  cc_close(a);
  return 0;
}

TEST(stream_partial_eof_keeps_bytes) {
  cc_test_run(partial_eof_main, NULL);
}

static intptr_t flood_writer(void *arg) {
  int fd = (int)(intptr_t)arg;
  static char junk[4096];
  memset(junk, 'z', sizeof junk);
  for (int i = 0; i < 200; i++)
    if (cc_write(fd, junk, sizeof junk, cc_deadline_in(2000)) < 0)
      break;
  return 0;
}

static intptr_t too_long_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  cc_task_t *w;
  ASSERT_OK(cc_spawn(&w, flood_writer, (void *)(intptr_t)a));
  cc_stream_t *s;
  ASSERT_OK(cc_stream_new(&s, b, NULL));
  char buf[1024];
  ASSERT_ERR(cc_stream_read_line(s, buf, sizeof buf, cc_deadline_in(2000)), -CC_ETOOBIG);
  /* A large maximum is still capped by the stream's limit (64 KiB). */
  static char big[1 << 20];
  ASSERT_ERR(cc_stream_read_until(s, "\n", 1, big, sizeof big, cc_deadline_in(2000)),
             -CC_ETOOBIG);
  cc_stream_free(s);
  cc_join(w, NULL);
  cc_close(a);
  return 0;
}

TEST(stream_line_too_long) {
  cc_test_run(too_long_main, NULL);
}

/* ---- writes
 * ------------------------------------------------------------------------------- */

typedef struct {
  int fd;
  char *buf;
  size_t n;
} sink_t;

static intptr_t sink_task(void *arg) {
  sink_t *k = arg;
  return cc_read_full(k->fd, k->buf, k->n, cc_deadline_in(5000));
}

static intptr_t writes_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  cc_stream_t *s;
  ASSERT_OK(cc_stream_new(&s, a, NULL));
  size_t bign = 300000;
  char *big = malloc(bign);
  for (size_t i = 0; i < bign; i++)
    big[i] = (char)(i * 31);
  size_t expect_n = 1000 * 3 + bign + 5 + 6;
  sink_t k = {b, malloc(expect_n), expect_n};
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, sink_task, &k));
  for (int i = 0; i < 1000; i++) /* buffered: no system call each */
    ASSERT_EQ(cc_stream_write(s, "abc", 3, CC_FOREVER), 3);
  ASSERT_EQ(cc_stream_write(s, big, bign, cc_deadline_in(5000)), (ssize_t)bign);
  struct iovec iov[2] = {{"hello", 5}, {" world", 6}};
  ASSERT_EQ(cc_stream_writev(s, iov, 2, CC_FOREVER), 11);
  ASSERT_OK(cc_stream_flush(s, cc_deadline_in(5000)));
  intptr_t got;
  ASSERT_OK(cc_join(t, &got));
  ASSERT_EQ(got, (intptr_t)expect_n);
  for (int i = 0; i < 1000; i++)
    ASSERT_EQ(memcmp(k.buf + 3 * i, "abc", 3), 0);
  ASSERT_EQ(memcmp(k.buf + 3000, big, bign), 0);
  ASSERT_EQ(memcmp(k.buf + 3000 + bign, "hello world", 11), 0);
  /* Write errors stick. */
  reset_close(b);
  cc_sleep(5);
  ssize_t r = 0;
  for (int i = 0; i < 10 && r >= 0; i++)
    r = cc_stream_write(s, big, bign, cc_deadline_in(1000));
  ASSERT_TRUE(r == -EPIPE || r == -ECONNRESET);
  ASSERT_ERR(cc_stream_write(s, "x", 1, CC_FOREVER), (int)r);
  ASSERT_ERR(cc_stream_flush(s, CC_FOREVER), (int)r);
  free(big);
  free(k.buf);
  cc_stream_free(s);
  return 0;
}

TEST(stream_writes) {
  cc_test_run(writes_main, NULL);
}

/* ---- cc_serve
 * ------------------------------------------------------------------------------ */

typedef struct {
  int port;
  int errs[8];
  int nerr;
} srv_state_t;

static int count_err(srv_state_t *st, int code) {
  int n = 0;
  for (int i = 0; i < st->nerr; i++)
    n += st->errs[i] == code;
  return n;
}

static void on_error(int err, const char *what, void *arg) {
  srv_state_t *st = arg;
  if (st->nerr < 8)
    st->errs[st->nerr++] = err;
}

/* Line echo with a 300 ms budget per line and per reply. */
static intptr_t line_echo(cc_stream_t *s, void *arg) {
  char line[256];
  int sz = 8192; /* so that a peer that never reads blocks us quickly */
  setsockopt(cc_stream_fd(s), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  for (;;) {
    ssize_t n = cc_stream_read_line(s, line, sizeof line, cc_deadline_in(300));
    if (n <= 0)
      return n;
    ssize_t w = cc_stream_write(s, line, (size_t)n, cc_deadline_in(300));
    if (w < 0)
      return w;
    int f = cc_stream_flush(s, cc_deadline_in(300));
    if (f < 0)
      return f;
  }
}

static intptr_t serve_task(void *arg) {
  int lfd = listen_local(&((srv_state_t *)arg)->port);
  cc_serve_opts_t o = {.on_error = on_error};
  int r = cc_serve(lfd, line_echo, arg, &o);
  cc_close(lfd);
  return r == -ECANCELED ? 0 : r;
}

static intptr_t good_client(void *arg) {
  srv_state_t *st = arg;
  cc_stream_t *s;
  int r = cc_open_connection(&s, "localhost", st->port, cc_deadline_in(2000));
  if (r < 0)
    return r;
  char line[64], back[64];
  for (int i = 0; i < 40; i++) {
    int n = snprintf(line, sizeof line, "line %d\n", i);
    ASSERT_EQ(cc_stream_write(s, line, (size_t)n, CC_FOREVER), n);
    ASSERT_OK(cc_stream_flush(s, cc_deadline_in(2000)));
    ASSERT_EQ(cc_stream_read_line(s, back, sizeof back, cc_deadline_in(2000)), n);
    ASSERT_STR_EQ(back, line);
    cc_sleep(10);
  }
  cc_stream_free(s);
  return 40;
}

static intptr_t reset_client(void *arg) {
  srv_state_t *st = arg;
  int fd = cc_tcp_connect("127.0.0.1", st->port, cc_deadline_in(2000));
  cc_write(fd, "partial", 7, CC_FOREVER);
  cc_sleep(20);
  reset_close(fd);
  return 0;
}

static intptr_t silent_client(void *arg) {
  srv_state_t *st = arg;
  int fd = cc_tcp_connect("127.0.0.1", st->port, cc_deadline_in(2000));
  char c;
  /* The server gives up after 300 ms and closes: we read end of file. */
  ssize_t r = cc_read(fd, &c, 1, cc_deadline_in(2000));
  cc_close(fd);
  return r == 0 ? 0 : -EPROTO;
}

static intptr_t long_line_client(void *arg) {
  srv_state_t *st = arg;
  int fd = cc_tcp_connect("127.0.0.1", st->port, cc_deadline_in(2000));
  static char junk[10000];
  memset(junk, 'q', sizeof junk);
  cc_write(fd, junk, sizeof junk, cc_deadline_in(1000));
  char c;
  ssize_t r = cc_read(fd, &c, 1, cc_deadline_in(2000));
  cc_close(fd);
  return r == 0 || r == -ECONNRESET ? 0 : -EPROTO;
}

static intptr_t half_close_client(void *arg) {
  srv_state_t *st = arg;
  cc_stream_t *s;
  ASSERT_OK(cc_open_connection(&s, "127.0.0.1", st->port, cc_deadline_in(2000)));
  ASSERT_EQ(cc_stream_write(s, "bye\n", 4, CC_FOREVER), 4);
  ASSERT_OK(cc_stream_shutdown_write(s, cc_deadline_in(1000)));
  char back[16];
  ASSERT_EQ(cc_stream_read_line(s, back, sizeof back, cc_deadline_in(2000)), 4);
  ASSERT_EQ(cc_stream_read_line(s, back, sizeof back, cc_deadline_in(2000)), 0);
  cc_stream_free(s);
  return 0;
}

/* Sends lines as fast as it can and never reads the replies: the server's
 * writes back block and hit their deadline. */
static intptr_t flood_client(void *arg) {
  srv_state_t *st = arg;
  int fd = cc_tcp_connect("127.0.0.1", st->port, cc_deadline_in(2000));
  int sz = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  static char lines[64 * 100];
  for (int i = 0; i < 100; i++) {
    memset(lines + 64 * i, 'f', 63);
    lines[64 * i + 63] = '\n';
  }
  int64_t end = cc_deadline_in(1000);
  while (cc_now() < end)
    if (cc_write(fd, lines, sizeof lines, end) < 0)
      break;
  cc_close(fd);
  return 0;
}

static intptr_t serve_faults_main(void *arg) {
  srv_state_t st = {0};
  cc_task_t *srv;
  ASSERT_OK(cc_spawn(&srv, serve_task, &st));
  while (st.port == 0)
    cc_sleep(1);
  cc_task_fn clients[] = {good_client,      reset_client,      silent_client,
                          long_line_client, half_close_client, flood_client,
                          good_client};
  enum { N = sizeof clients / sizeof clients[0] };
  cc_task_t *t[N];
  for (int i = 0; i < N; i++)
    ASSERT_OK(cc_spawn(&t[i], clients[i], &st));
  intptr_t res[N];
  ASSERT_OK(cc_gather(t, N, res));
  ASSERT_EQ(res[0], 40);
  ASSERT_EQ(res[N - 1], 40);
  cc_sleep(50);
  ASSERT_GE(count_err(&st, -CC_ETOOBIG), 1);
  ASSERT_GE(count_err(&st, -ETIMEDOUT), 2); /* silent + flood */
  ASSERT_GE(count_err(&st, -ECONNRESET), 1);
  /* Stopping the server closes everything it accepted. */
  cc_cancel(srv);
  ASSERT_OK(cc_join(srv, NULL));
  return 0;
}

TEST(serve_faults_isolated) {
  cc_test_run(serve_faults_main, NULL);
}

/* opts.stack_size: a handler with 512 KiB of locals runs on 1 MiB stacks
 * (the default 64 KiB would overflow into the guard page). */
static intptr_t big_frame_handler(cc_stream_t *s, void *arg) {
  (void)arg;
  volatile char big[512 * 1024];
  for (size_t i = 0; i < sizeof big; i += 4096)
    big[i] = (char)i;
  big[sizeof big - 1] = 'k';
  char line[64];
  ssize_t n = cc_stream_read_line(s, line, sizeof line, cc_deadline_in(2000));
  if (n <= 0)
    return n;
  line[0] = big[sizeof big - 1];
  if (cc_stream_write(s, line, (size_t)n, cc_deadline_in(2000)) < 0)
    return -EIO;
  return cc_stream_flush(s, cc_deadline_in(2000));
}

static intptr_t big_serve_task(void *arg) {
  int lfd = listen_local(arg);
  cc_serve_opts_t o = {.stack_size = 1 << 20};
  int r = cc_serve(lfd, big_frame_handler, NULL, &o);
  cc_close(lfd);
  return r == -ECANCELED ? 0 : r;
}

static intptr_t serve_stack_main(void *arg) {
  (void)arg;
  int port = 0;
  cc_task_t *srv;
  ASSERT_OK(cc_spawn(&srv, big_serve_task, &port));
  while (port == 0)
    cc_sleep(1);
  for (int i = 0; i < 3; i++) {
    cc_stream_t *s;
    ASSERT_OK(cc_open_connection(&s, "127.0.0.1", port, cc_deadline_in(2000)));
    ASSERT_EQ(cc_stream_write(s, "hello\n", 6, CC_FOREVER), 6);
    ASSERT_OK(cc_stream_flush(s, cc_deadline_in(2000)));
    char back[64];
    ASSERT_EQ(cc_stream_read_line(s, back, sizeof back, cc_deadline_in(2000)), 6);
    ASSERT_STR_EQ(back, "kello\n");
    cc_stream_free(s);
  }
  cc_cancel(srv);
  ASSERT_OK(cc_join(srv, NULL));
  return 0;
}

TEST(serve_stack_size) {
  cc_test_run(serve_stack_main, NULL);
}

/* Cancelling cc_serve with connections open cancels their handlers. */
static intptr_t serve_stop_main(void *arg) {
  srv_state_t st = {0};
  cc_task_t *srv;
  ASSERT_OK(cc_spawn(&srv, serve_task, &st));
  while (st.port == 0)
    cc_sleep(1);
  int fds[5];
  for (int i = 0; i < 5; i++) {
    fds[i] = cc_tcp_connect("127.0.0.1", st.port, cc_deadline_in(1000));
    ASSERT_GE(fds[i], 0);
  }
  cc_sleep(20);
  cc_cancel(srv);
  ASSERT_OK(cc_join(srv, NULL));
  for (int i = 0; i < 5; i++) {
    char c;
    ASSERT_EQ(cc_read(fds[i], &c, 1, cc_deadline_in(1000)), 0);
    cc_close(fds[i]);
  }
  return 0;
}

TEST(serve_stop_closes_connections) {
  cc_test_run(serve_stop_main, NULL);
}

/* max_conns: at the limit, further connections wait in the kernel's queue
 * until a handler finishes. */
static intptr_t hold_handler(cc_stream_t *s, void *arg) {
  int *active = arg;
  (*active)++;
  char line[64];
  ssize_t n = cc_stream_read_line(s, line, sizeof line, cc_deadline_in(5000));
  if (n > 0) {
    cc_stream_write(s, line, (size_t)n, CC_FOREVER);
    cc_stream_flush(s, cc_deadline_in(1000));
  }
  (*active)--;
  return 0;
}

typedef struct {
  int port, active;
} limit_t;

static intptr_t limited_server(void *arg) {
  limit_t *l = arg;
  int lfd = listen_local(&l->port);
  cc_serve_opts_t o = {.max_conns = 2};
  int r = cc_serve(lfd, hold_handler, &l->active, &o);
  cc_close(lfd);
  return r == -ECANCELED ? 0 : r;
}

static intptr_t max_conns_main(void *arg) {
  limit_t l = {0};
  cc_task_t *srv;
  ASSERT_OK(cc_spawn(&srv, limited_server, &l));
  while (l.port == 0)
    cc_sleep(1);
  int fds[3];
  for (int i = 0; i < 3; i++)
    fds[i] = cc_tcp_connect("127.0.0.1", l.port, cc_deadline_in(1000));
  cc_sleep(30);
  ASSERT_EQ(l.active, 2); /* the third waits */
  ASSERT_EQ(cc_write(fds[0], "a\n", 2, CC_FOREVER), 2);
  char buf[8];
  ASSERT_EQ(cc_read_full(fds[0], buf, 2, cc_deadline_in(1000)), 2);
  cc_sleep(30);
  ASSERT_EQ(l.active, 2); /* the first finished, the third started */
  for (int i = 1; i < 3; i++) {
    ASSERT_EQ(cc_write(fds[i], "b\n", 2, CC_FOREVER), 2);
    ASSERT_EQ(cc_read_full(fds[i], buf, 2, cc_deadline_in(1000)), 2);
  }
  for (int i = 0; i < 3; i++)
    cc_close(fds[i]);
  cc_cancel(srv);
  ASSERT_OK(cc_join(srv, NULL));
  return 0;
}

TEST(serve_max_conns) {
  cc_test_run(max_conns_main, NULL);
}

/* Records with a multi-byte delimiter, written in random-sized pieces and
 * read back with read_until / read_exactly / read_line mixed, through a
 * tiny buffer, against a model: any off-by-one in the delimiter search
 * across refills shows up as a mismatch. */
typedef struct {
  int fd;
  char *data;
  size_t n;
} chunker_t;

static unsigned rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (*s >> 16) & 0x7fff;
}

static intptr_t chunk_writer(void *arg) {
  chunker_t *c = arg;
  unsigned seed = 7;
  size_t off = 0;
  while (off < c->n) {
    size_t k = 1 + rnd(&seed) % 37;
    if (k > c->n - off)
      k = c->n - off;
    if (cc_write(c->fd, c->data + off, k, cc_deadline_in(5000)) < 0)
      return -EPIPE;
    off += k;
    if (rnd(&seed) % 4 == 0)
      cc_sleep(0);
  }
  cc_shutdown(c->fd, SHUT_WR);
  return 0;
}

static intptr_t chunked_main(void *arg) {
  int a, b;
  tcp_pair(&a, &b);
  /* Model: records "<len bytes>\r\n" with random content that may contain
   * '\r' or '\n' alone but never "\r\n". */
  enum { NREC = 400 };
  size_t lens[NREC], total = 0;
  unsigned seed = 99;
  char *data = malloc(NREC * 64);
  for (int i = 0; i < NREC; i++) {
    lens[i] = rnd(&seed) % 60;
    for (size_t j = 0; j < lens[i]; j++) {
      char ch = (char)('a' + rnd(&seed) % 26);
      if (rnd(&seed) % 10 == 0)
        ch = (j > 0 && data[total + j - 1] == '\r') ? 'x' : '\r';
      data[total + j] = ch;
    }
    if (lens[i] > 0 && data[total + lens[i] - 1] == '\r')
      data[total + lens[i] - 1] = 'y';
    memcpy(data + total + lens[i], "\r\n", 2);
    total += lens[i] + 2;
  }
  chunker_t c = {a, data, total};
  cc_task_t *w;
  ASSERT_OK(cc_spawn(&w, chunk_writer, &c));
  cc_stream_t *s;
  cc_stream_opts_t so = {.read_buf = 16, .limit = 128};
  ASSERT_OK(cc_stream_new(&s, b, &so));
  size_t off = 0;
  char buf[128];
  for (int i = 0; i < NREC; i++) {
    ssize_t r;
    if (i % 3 == 2) { /* by length */
      r = cc_stream_read_exactly(s, buf, lens[i] + 2, cc_deadline_in(5000));
    } else {
      r = cc_stream_read_until(s, "\r\n", 2, buf, sizeof buf, cc_deadline_in(5000));
    }
    ASSERT_EQ(r, (ssize_t)(lens[i] + 2));
    ASSERT_EQ(memcmp(buf, data + off, (size_t)r), 0);
    off += (size_t)r;
  }
  ASSERT_EQ(cc_stream_read_until(s, "\r\n", 2, buf, sizeof buf, cc_deadline_in(5000)), 0);
  ASSERT_OK(cc_join(w, NULL));
  cc_stream_free(s);
  cc_close(a);
  free(data);
  return 0;
}

TEST(stream_random_chunks) {
  cc_test_run(chunked_main, NULL);
}
