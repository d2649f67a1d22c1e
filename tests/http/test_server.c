/* The server's core: routing, requests, responses, keep-alive, pipelining,
 * chunked bodies, 100-continue, HTTP/1.0, hooks, shutdown — over raw
 * sockets, so that every byte on the wire is checked. */
#include <stdatomic.h>

#include "http_test.h"

static int h_plain(cc_req_t *r, void *arg) {
  return cc_resp_send(r, 200, "text/plain", "Hello, World!", 13);
}

static int h_user(cc_req_t *r, void *arg) {
  char b[256];
  size_t l1 = 0;
  const char *id = cc_req_param(r, "id", &l1);
  const char *q = cc_req_query(r, "q", NULL);
  const char *ua = cc_req_header(r, "x-test", NULL);
  size_t hl = 0;
  cc_req_header(r, "x-test", &hl);
  int n = snprintf(b, sizeof b, "id=%s q=%s h=%.*s path=%s", id, q ? q : "-", (int)hl,
                   ua ? ua : "", cc_req_path(r, NULL));
  return cc_resp_send(r, 200, "text/plain", b, (size_t)n);
}

static int h_echo(cc_req_t *r, void *arg) {
  size_t n;
  const void *b = cc_req_body(r, &n);
  return cc_resp_send(r, 200, "application/octet-stream", b, n);
}

static int h_fail(cc_req_t *r, void *arg) {
  return -EIO;
}

static int h_sleep(cc_req_t *r, void *arg) {
  int e = cc_sleep(50);
  if (e < 0)
    return e;
  return cc_resp_text(r, 200, "slept");
}

static int h_stream(cc_req_t *r, void *arg) {
  int e = cc_resp_start(r, 200, "text/plain");
  for (int i = 0; i < 3 && e == 0; i++)
    e = cc_resp_write(r, "part;", 5);
  if (e == 0)
    e = cc_resp_end(r);
  return e;
}

static int h_rest(cc_req_t *r, void *arg) {
  size_t n;
  const char *p = cc_req_param(r, "rest", &n);
  return cc_resp_send(r, 200, "text/plain", p, n);
}

static cc_server_t *mk(const cc_server_opts_t *o) {
  cc_server_t *s;
  cc_server_opts_t d = {.loops = 1};
  ASSERT_OK(cc_server_new(&s, o ? o : &d));
  ASSERT_OK(cc_server_route(s, "GET", "/plaintext", h_plain, NULL));
  ASSERT_OK(cc_server_route(s, "GET", "/users/{id}", h_user, NULL));
  ASSERT_OK(cc_server_route(s, "POST", "/echo", h_echo, NULL));
  ASSERT_OK(cc_server_route(s, "PUT", "/echo", h_echo, NULL));
  ASSERT_OK(cc_server_route(s, "GET", "/fail", h_fail, NULL));
  ASSERT_OK(cc_server_route(s, "GET", "/sleep", h_sleep, NULL));
  ASSERT_OK(cc_server_route(s, "GET", "/stream", h_stream, NULL));
  ASSERT_OK(cc_server_route(s, NULL, "/files/{rest...}", h_rest, NULL));
  return s;
}

TEST(plaintext) {
  tsrv_t t;
  tsrv_start(&t, mk(NULL));
  char buf[4096];
  ASSERT_EQ(tget(t.port, "/plaintext", buf, sizeof buf), 200);
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\nHello, World!"));
  ASSERT_NOT_NULL(strstr(buf, "Server: concur\r\n"));
  ASSERT_NOT_NULL(strstr(buf, "Date: "));
  ASSERT_NOT_NULL(strstr(buf, "Content-Length: 13\r\n"));
  ASSERT_NOT_NULL(strstr(buf, "Connection: close\r\n"));
  tsrv_stop(&t);
}

TEST(routes_params_query) {
  tsrv_t t;
  tsrv_start(&t, mk(NULL));
  char buf[4096];
  int fd = tconnect(t.port);
  tsend(fd, "GET /users/a%20b?x=1&q=hello+w%C3%B6rld HTTP/1.1\r\nHost: x\r\nX-TEST: "
            "yes\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "id=a b q=hello w\xc3\xb6rld h=yes path=/users/a b"));
  tsend(fd, "GET /users/ HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 404);
  tsend(fd, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 404);
  tsend(fd, "DELETE /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 405);
  ASSERT_NOT_NULL(strstr(buf, "Allow: POST, PUT\r\n"));
  tsend(fd, "POST /plaintext HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 405);
  ASSERT_NOT_NULL(strstr(buf, "Allow: GET, HEAD\r\n"));
  tsend(fd, "PROPFIND /files/a/b%2Fc HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\na/b/c"));
  tsend(fd, "GET /files HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  close(fd);
  tsrv_stop(&t);
}

TEST(head_and_keepalive) {
  tsrv_t t;
  tsrv_start(&t, mk(NULL));
  char buf[4096];
  size_t n;
  int fd = tconnect(t.port);
  for (int i = 0; i < 5; i++) {
    tsend(fd, "HEAD /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
    tresp_head = true;
    ASSERT_EQ(tread_resp(fd, buf, sizeof buf, &n), 200);
    ASSERT_NOT_NULL(strstr(buf, "Content-Length: 13\r\n"));
    ASSERT_NULL(strstr(buf, "Hello"));
    ASSERT_NULL(strstr(buf, "Connection:"));
  }
  /* HTTP/1.0: closes unless asked for keep-alive. */
  tsend(fd, "GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "Connection: keep-alive\r\n"));
  tsend(fd, "GET /plaintext HTTP/1.0\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "Connection: close\r\n"));
  ASSERT_TRUE(tclosed(fd));
  close(fd);
  cc_server_stats_t st;
  cc_server_stats(t.srv, &st);
  ASSERT_EQ(st.requests, 7);
  tsrv_stop(&t);
}

TEST(pipelining_one_write) {
  tsrv_t t;
  tsrv_start(&t, mk(NULL));
  int fd = tconnect(t.port);
  char req[16 * 64] = "";
  for (int i = 0; i < 16; i++)
    strcat(req, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  tsend(fd, req);
  /* All 16 answers arrive, in order, and (one write) together. */
  char buf[65536];
  size_t n = 0;
  int count = 0;
  while (count < 16) {
    ssize_t k = recv(fd, buf + n, sizeof buf - 1 - n, 0);
    ASSERT_GT(k, 0);
    n += (size_t)k;
    buf[n] = 0;
    count = 0;
    for (char *p = buf; (p = strstr(p, "Hello, World!")); p++)
      count++;
  }
  ASSERT_EQ(count, 16);
  close(fd);
  tsrv_stop(&t);
}

TEST(bodies) {
  tsrv_t t;
  tsrv_start(&t, mk(NULL));
  char buf[8192];
  int fd = tconnect(t.port);
  tsend(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\nhello"));
  tsend(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "Content-Length: 7\r\n"));
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\nabcdefg"));
  /* Expect: 100-continue gets the interim answer before the body is sent. */
  tsend(fd, "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: "
            "100-continue\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 100);
  tsend(fd, "xyz");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\nxyz"));
  close(fd);
  tsrv_stop(&t);
}

TEST(handler_error_500) {
  tsrv_t t;
  tsrv_start(&t, mk(NULL));
  char buf[4096];
  ASSERT_EQ(tget(t.port, "/fail", buf, sizeof buf), 500);
  ASSERT_EQ(tget(t.port, "/plaintext", buf, sizeof buf), 200);
  tsrv_stop(&t);
}

TEST(streamed_chunked) {
  tsrv_t t;
  tsrv_start(&t, mk(NULL));
  char buf[4096];
  int fd = tconnect(t.port);
  tsend(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "Transfer-Encoding: chunked\r\n"));
  ASSERT_NOT_NULL(strstr(buf, "5\r\npart;\r\n5\r\npart;\r\n5\r\npart;\r\n0\r\n\r\n"));
  tsend(fd, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  close(fd);
  /* HTTP/1.0: close-delimited. */
  fd = tconnect(t.port);
  tsend(fd, "GET /stream HTTP/1.0\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\npart;part;part;"));
  close(fd);
  tsrv_stop(&t);
}

static int before(cc_req_t *r, void *arg) {
  if (cc_req_header(r, "X-Deny", NULL))
    return cc_resp_text(r, 403, "denied") == 0 ? 1 : -1;
  return 0;
}
static void after(cc_req_t *r, void *arg) {
  (*(int *)arg) += cc_resp_status_sent(r);
}

TEST(hooks_and_access_log) {
  char path[] = "/tmp/cc_srv_log_XXXXXX";
  int lfd = mkstemp(path);
  ASSERT_GE(lfd, 0);
  close(lfd);
  int sum = 0;
  cc_server_opts_t o = {
      .loops = 1, .before = before, .after = after, .hook_arg = &sum, .access_log = path};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  char buf[4096];
  ASSERT_EQ(tget(t.port, "/plaintext", buf, sizeof buf), 200);
  int fd = tconnect(t.port);
  tsend(fd, "GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Deny: 1\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 403);
  close(fd);
  tsrv_stop(&t);
  ASSERT_EQ(sum, 200 + 403);
  FILE *f = fopen(path, "r");
  ASSERT_NOT_NULL(f);
  char line[512];
  ASSERT_NOT_NULL(fgets(line, sizeof line, f));
  ASSERT_NOT_NULL(strstr(line, "127.0.0.1 - - ["));
  ASSERT_NOT_NULL(strstr(line, "] \"GET /plaintext HTTP/1.1\" 200 13\n"));
  ASSERT_NOT_NULL(fgets(line, sizeof line, f));
  ASSERT_NOT_NULL(strstr(line, "\" 403 6\n"));
  fclose(f);
  unlink(path);
}

TEST(graceful_shutdown) {
  /* An in-flight request finishes; an idle connection is closed. */
  tsrv_t t;
  tsrv_start(&t, mk(NULL));
  char buf[4096];
  int idle = tconnect(t.port);
  tsend(idle, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(idle, buf, sizeof buf, NULL), 200);
  int busy = tconnect(t.port);
  tsend(busy, "GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n");
  usleep(10000);
  cc_server_shutdown(t.srv);
  ASSERT_EQ(tread_resp(busy, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "Connection: close\r\n"));
  ASSERT_TRUE(tclosed(idle));
  ASSERT_TRUE(tclosed(busy));
  close(idle);
  close(busy);
  tsrv_stop(&t);
}

static intptr_t coro_main(void *arg) {
  cc_server_t *s = arg;
  cc_task_t *t;
  /* cc_server_run from a coroutine; cancelling the caller stops it. */
  struct run {
    cc_server_t *s;
  } r = {s};
  (void)r;
  ASSERT_OK(cc_server_listen(s, "127.0.0.1", 0));
  int port = cc_server_port(s);
  extern intptr_t run_srv(void *);
  ASSERT_OK(cc_spawn(&t, run_srv, s));
  cc_stream_t *st;
  ASSERT_OK(cc_open_connection(&st, "127.0.0.1", port, cc_deadline_in(5000)));
  const char *req = "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(cc_stream_write(st, req, strlen(req), CC_FOREVER), (ssize_t)strlen(req));
  ASSERT_OK(cc_stream_flush(st, CC_FOREVER));
  char buf[1024];
  ssize_t n =
      cc_stream_read_until(st, "World!", 6, buf, sizeof buf, cc_deadline_in(5000));
  ASSERT_GT(n, 0);
  cc_stream_free(st);
  cc_cancel(t);
  intptr_t res = -1;
  ASSERT_OK(cc_join(t, &res));
  ASSERT_EQ(res, 0);
  return 0;
}
intptr_t run_srv(void *arg) {
  return cc_server_run(arg);
}

TEST(run_in_coroutine) {
  cc_server_t *s = mk(NULL);
  cc_test_run(coro_main, s);
  cc_server_free(s);
}

TEST(two_loops) {
  cc_server_opts_t o = {.loops = 2};
  tsrv_t t;
  tsrv_start(&t, mk(&o));
  char buf[4096];
  for (int i = 0; i < 20; i++)
    ASSERT_EQ(tget(t.port, "/plaintext", buf, sizeof buf), 200);
  tsrv_stop(&t);
}

/* ---- JSON and streamed request bodies -------------------------------------- */
#include <jansson.h>

static int h_json(cc_req_t *r, void *arg) {
  int err = 0;
  json_t *in = cc_req_json(r, &err);
  if (!in)
    return cc_resp_json(r, 400, json_pack("{s:s,s:i}", "error", "bad json", "code", err));
  json_t *name = json_object_get(in, "name");
  return cc_resp_json(r, 201,
                      json_pack("{s:O?,s:i,s:b}", "hello", name, "n",
                                (int)json_object_size(in), "ok", 1));
}

static int h_upload(cc_req_t *r, void *arg) {
  char buf[1000];
  uint64_t total = 0, sum = 0;
  ssize_t n;
  while ((n = cc_req_read(r, buf, sizeof buf)) > 0) {
    total += (uint64_t)n;
    for (ssize_t i = 0; i < n; i++)
      sum += (unsigned char)buf[i];
  }
  if (n < 0)
    return cc_resp_text(r, n == -CC_ETOOBIG ? 413 : 400, "bad body");
  char out[64];
  int k = snprintf(out, sizeof out, "%llu %llu", (unsigned long long)total,
                   (unsigned long long)sum);
  return cc_resp_send(r, 200, "text/plain", out, (size_t)k);
}

/* Reads only the first 10 bytes of its body. */
static int h_partial(cc_req_t *r, void *arg) {
  char buf[10];
  size_t got = 0;
  while (got < sizeof buf) {
    ssize_t n = cc_req_read(r, buf + got, sizeof buf - got);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  char out[32];
  int k = snprintf(out, sizeof out, "got %.*s", (int)got, buf);
  return cc_resp_send(r, 200, "text/plain", out, (size_t)k);
}

static cc_server_t *mk_body(void) {
  cc_server_t *s = mk(NULL);
  ASSERT_OK(cc_server_route(s, "POST", "/json", h_json, NULL));
  cc_route_opts_t ro = {.stream_body = true, .max_body = 64u << 20};
  ASSERT_OK(cc_server_route_opts(s, "POST", "/upload", h_upload, NULL, &ro));
  cc_route_opts_t small = {.stream_body = true, .max_body = 1000};
  ASSERT_OK(cc_server_route_opts(s, "POST", "/small", h_upload, NULL, &small));
  cc_route_opts_t big = {.stream_body = true, .max_body = 8u << 20};
  ASSERT_OK(cc_server_route_opts(s, "POST", "/partial", h_partial, NULL, &big));
  ASSERT_OK(cc_server_route_opts(s, "POST", "/ignore", h_plain, NULL, &big));
  return s;
}

TEST(json_bodies) {
  tsrv_t t;
  tsrv_start(&t, mk_body());
  char buf[4096];
  int fd = tconnect(t.port);
  tsend(fd, "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 26\r\n\r\n{\"name\": \"Ada\", \"year\": 1}");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 201);
  ASSERT_NOT_NULL(strstr(buf, "Content-Type: application/json\r\n"));
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\n{\"hello\":\"Ada\",\"n\":2,\"ok\":true}"));
  tsend(fd, "POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{nope");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 400);
  ASSERT_NOT_NULL(strstr(buf, "\"error\":\"bad json\""));
  close(fd);
  tsrv_stop(&t);
}

TEST(streamed_upload) {
  tsrv_t t;
  tsrv_start(&t, mk_body());
  /* 3 MB in chunks, then a pipelined request on the same connection. */
  int fd = tconnect(t.port);
  tsend(fd, "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "Expect: 100-continue\r\n\r\n");
  char buf[8192];
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 100);
  static char chunk[32768 + 16];
  uint64_t sum = 0;
  int hl = sprintf(chunk, "8000\r\n");
  for (int i = 0; i < 32768; i++) {
    chunk[hl + i] = (char)('a' + i % 7);
    sum += (unsigned char)chunk[hl + i];
  }
  memcpy(chunk + hl + 32768, "\r\n", 2);
  for (int i = 0; i < 96; i++)
    ASSERT_EQ(send(fd, chunk, (size_t)hl + 32770, MSG_NOSIGNAL), hl + 32770);
  tsend(fd, "0\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  char want[64];
  snprintf(want, sizeof want, "\r\n\r\n%d %llu", 96 * 32768,
           (unsigned long long)(sum * 96));
  ASSERT_NOT_NULL(strstr(buf, want));
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "Hello, World!"));
  close(fd);
  /* Content-Length body, and a body over the route's limit. */
  fd = tconnect(t.port);
  tsend(fd, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\n3 294"));
  tsend(fd, "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 2; i++) /* the server may answer and close before the 2nd */
    if (send(fd, chunk, (size_t)hl + 32770, MSG_NOSIGNAL) < 0)
      break;
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 413);
  close(fd);
  tsrv_stop(&t);
}

TEST(streamed_upload_unread_drained) {
  tsrv_t t;
  tsrv_start(&t, mk_body());
  char buf[8192];
  static char body[2u << 20];
  memset(body, 'z', sizeof body);
  memcpy(body, "0123456789", 10);
  /* 100 KB with Content-Length, the handler reads 10 bytes: the rest is
   * drained and the pipelined request after it is answered. */
  int fd = tconnect(t.port);
  tsend(fd, "POST /partial HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  ASSERT_EQ(send(fd, body, 100000, MSG_NOSIGNAL), 100000);
  tsend(fd, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\ngot 0123456789"));
  ASSERT_NULL(strstr(buf, "Connection: close"));
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "Hello, World!"));
  /* Chunked, on the same connection. */
  tsend(fd, "POST /partial HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "c\r\nabcdefghijkl\r\n5\r\nmnopq\r\n0\r\n\r\n"
            "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\ngot abcdefghij"));
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "Hello, World!"));
  close(fd);
  /* 2 MiB left unread, past the drain bound of 1 MiB: answered, then the
   * connection closes. */
  fd = tconnect(t.port);
  tsend(fd, "POST /partial HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n");
  size_t off = 0;
  while (off < sizeof body) {
    ssize_t k = send(fd, body + off, sizeof body - off, MSG_NOSIGNAL);
    if (k <= 0)
      break; /* the server closed after the bound */
    off += (size_t)k;
  }
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "got 0123456789"));
  ASSERT_TRUE(tclosed(fd));
  close(fd);
  /* Expect: 100-continue and nothing read: no 100, the answer, a close. */
  fd = tconnect(t.port);
  tsend(fd, "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n"
            "Expect: 100-continue\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_TRUE(tclosed(fd));
  close(fd);
  /* The server goes on. */
  ASSERT_EQ(tget(t.port, "/plaintext", buf, sizeof buf), 200);
  tsrv_stop(&t);
}

/* A handler that sleeps without writing: when its client leaves, it must
 * see -ECANCELED within about a second (not after its 10 s). */
static _Atomic int slow_rc = 1;
static _Atomic int64_t slow_ms = -1;
static int h_slow(cc_req_t *r, void *arg) {
  int64_t ms = 10000, t0 = cc_now();
  size_t ql;
  const char *q = cc_req_query(r, "ms", &ql);
  if (q)
    ms = atol(q);
  int e = cc_sleep(ms);
  slow_ms = cc_now() - t0;
  slow_rc = e;
  if (e < 0)
    return e;
  return cc_resp_text(r, 200, "awake");
}

static int wait_slow(void) {
  for (int i = 0; i < 500 && slow_rc == 1; i++) /* at most 5 s */
    usleep(10000);
  return slow_rc;
}

TEST(client_gone_cancels_sleeping_handler) {
  tsrv_t t;
  cc_server_t *s = mk(NULL);
  ASSERT_OK(cc_server_route(s, "GET", "/slow", h_slow, NULL));
  tsrv_start(&t, s);
  char buf[4096];
  /* Closes after sending its request: the handler is cancelled. */
  slow_rc = 1;
  int fd = tconnect(t.port);
  tsend(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  usleep(100000);
  close(fd);
  ASSERT_EQ(wait_slow(), -ECANCELED);
  ASSERT_LT(slow_ms, 2500);
  /* The same with a pipelined request behind it (a FIN behind unread
   * bytes, found by the sweep's TCP-state check). */
  slow_rc = 1;
  fd = tconnect(t.port);
  tsend(
      fd,
      "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  usleep(100000);
  close(fd);
  ASSERT_EQ(wait_slow(), -ECANCELED);
  ASSERT_LT(slow_ms, 2500);
  /* A reset. */
  slow_rc = 1;
  fd = tconnect(t.port);
  tsend(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  usleep(100000);
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
  ASSERT_EQ(wait_slow(), -ECANCELED);
  ASSERT_LT(slow_ms, 2500);
  /* A client that stays, with a pipelined request behind a handler that
   * sleeps past two sweep ticks: not cancelled, both answered in order. */
  slow_rc = 1;
  fd = tconnect(t.port);
  tsend(fd, "GET /slow?ms=800 HTTP/1.1\r\nHost: x\r\n\r\n"
            "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "awake"));
  ASSERT_EQ(slow_rc, 0);
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "Hello, World!"));
  /* ... and the connection is still good. */
  tsend(fd, "GET /slow?ms=600 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 200);
  close(fd);
  /* The server goes on and holds no connection. */
  ASSERT_EQ(tget(t.port, "/plaintext", buf, sizeof buf), 200);
  cc_server_stats_t st;
  for (int i = 0; i < 200; i++) {
    cc_server_stats(t.srv, &st);
    if (st.live_conns == 0)
      break;
    usleep(10000);
  }
  ASSERT_EQ(st.live_conns, 0u);
  tsrv_stop(&t);
}

/* An idle keep-alive connection gives up its coroutine after a second
 * (dormant: a watcher and a timer stand in for it): the next request wakes
 * it, the keep-alive deadline closes it, and shutdown closes the rest. */
TEST(dormant_idle_connections) {
  tsrv_t t;
  cc_server_opts_t o = {.loops = 1, .keepalive_timeout_ms = 2500};
  tsrv_start(&t, mk(&o));
  char buf[4096];
  int a = tconnect(t.port), b = tconnect(t.port), d = tconnect(t.port);
  tsend(a, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(a, buf, sizeof buf, NULL), 200);
  tsend(b, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(b, buf, sizeof buf, NULL), 200);
  tsend(d, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(d, buf, sizeof buf, NULL), 200);
  usleep(1500000); /* past the 1 s trim: dormant */
  /* a: woken by two pipelined requests, answered in order. */
  tsend(a, "GET /users/7 HTTP/1.1\r\nHost: x\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: "
           "x\r\n\r\n");
  ASSERT_EQ(tread_resp(a, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "id=7"));
  ASSERT_EQ(tread_resp(a, buf, sizeof buf, NULL), 200);
  ASSERT_NOT_NULL(strstr(buf, "Hello, World!"));
  /* d: the client leaves while dormant; the server notices. */
  close(d);
  /* b: nothing more; the keep-alive deadline (2.5 s after its request)
   * closes it. */
  int64_t t0 = cc_now();
  ASSERT_TRUE(tclosed(b));
  ASSERT_LT(cc_now() - t0, 4000);
  close(b);
  cc_server_stats_t st;
  for (int i = 0; i < 300; i++) {
    cc_server_stats(t.srv, &st);
    if (st.live_conns == 1)
      break;
    usleep(10000);
  }
  ASSERT_EQ(st.live_conns, 1u); /* a */
  /* a goes dormant again; shutdown closes it. */
  usleep(1300000);
  tsrv_stop(&t);
  ASSERT_TRUE(tclosed(a));
  close(a);
}
