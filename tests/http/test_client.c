/* The HTTP client against a real local nginx (and a raw misbehaving server
 * for resets and truncated bodies). Most cases run twice: `_thread` with a
 * session made on a plain thread (requests' blocking calls), `_loop` with a
 * session made in a coroutine (plain-http requests on the native HTTP/1.1
 * transport, the rest on the loop-driven multi-socket path). ctest runs the
 * whole file a second time with CONCUR_HTTP_TRANSPORT=curl (client_curl.*),
 * so the `_loop` cases cover libcurl's loop path too. */
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nginx_helper.h"
#include "raw_server.h"
#include "test.h"

static test_nginx_t ngx;

static void start_nginx(bool tls) {
  /* Requests to loopback must never go through a proxy of the environment. */
  setenv("no_proxy", "127.0.0.1,localhost", 1);
  if (test_nginx_start(&ngx, tls) != 0)
    SKIP("nginx (nginx-light), openssl or brotli is not available");
}

static char *url(const char *path) {
  return test_nginx_url(&ngx, path);
}

static char *tls_url(const char *host, const char *path) {
  static char buf[8][256];
  static int i;
  char *b = buf[i++ % 8];
  snprintf(b, 256, "https://%s:%d%s", host, ngx.tls_port, path);
  return b;
}

/* Runs fn(arg) on this thread (thread session) or in a coroutine. */
typedef void (*body_fn)(void *);
static body_fn g_fn;
static intptr_t in_coro(void *arg) {
  g_fn(arg);
  return 0;
}
static void run_as(int loop, body_fn fn, void *arg) {
  int fds = cc_test_count_fds();
  if (loop) {
    g_fn = fn;
    cc_test_run(in_coro, arg);
  } else {
    fn(arg);
  }
  ASSERT_EQ(cc_test_count_fds(), fds); /* sessions closed every connection */
}

/* Whether a coroutine's session serves plain http natively in this run. */
static bool native(void) {
  const char *t = getenv("CONCUR_HTTP_TRANSPORT");
  return cc_self() && !(t && strcmp(t, "curl") == 0);
}

static cc_http_session_t *session(const cc_http_session_opts_t *o) {
  cc_http_session_t *s;
  ASSERT_OK(cc_http_session_new(&s, o));
  return s;
}

/* ---- basics ----------------------------------------------------------------- */

static void t_get(void *arg) {
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r;
  ASSERT_OK(cc_http_get(s, url("/index.html"), &r));
  ASSERT_EQ(r->status, 200);
  ASSERT_EQ(r->http_version, 11);
  ASSERT_EQ(r->body_len, 17);
  ASSERT_STR_EQ(r->body, "hello from nginx\n");
  ASSERT_STR_EQ(r->url, url("/index.html"));
  const cc_http_header_t *h =
      cc_http_header_find(r->headers, r->nheaders, "CONTENT-TYPE");
  ASSERT_NOT_NULL(h);
  ASSERT_TRUE(h->value_len == 9 && memcmp(h->value, "text/html", 9) == 0);
  h = cc_http_header_find(r->headers, r->nheaders, "content-length");
  ASSERT_NOT_NULL(h);
  ASSERT_TRUE(h->value_len == 2 && memcmp(h->value, "17", 2) == 0);
  cc_http_response_free(r);
  /* 404 is an answer, not an error. */
  ASSERT_OK(cc_http_get(s, url("/missing"), &r));
  ASSERT_EQ(r->status, 404);
  ASSERT_EQ(r->body[r->body_len], '\0');
  cc_http_response_free(r);
  /* A response may outlive its session. */
  ASSERT_OK(cc_http_get(s, url("/page4k.html"), &r));
  cc_http_session_free(s);
  ASSERT_EQ(r->body_len, 4096);
  cc_http_response_free(r);
}
TEST(get_thread) {
  start_nginx(false);
  run_as(0, t_get, NULL);
  test_nginx_stop(&ngx);
}
TEST(get_loop) {
  start_nginx(false);
  run_as(1, t_get, NULL);
  test_nginx_stop(&ngx);
}

/* Keep-alive: sequential requests reuse one connection and one easy handle,
 * counted by nginx ($connection in its access log). */
static void t_keepalive(void *arg) {
  cc_http_session_t *s = session(NULL);
  for (int i = 0; i < 50; i++) {
    cc_http_response_t *r;
    ASSERT_OK(cc_http_get(s, url("/page4k.html"), &r));
    ASSERT_EQ(r->status, 200);
    ASSERT_EQ(r->body_len, 4096);
    cc_http_response_free(r);
  }
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.requests, 50);
  ASSERT_EQ(st.easy_made, native() ? 0 : 1);
  ASSERT_EQ(st.native, native() ? 50 : 0);
  ASSERT_EQ(st.sockets, 1);
  cc_http_session_free(s);
  int conns;
  ASSERT_EQ(test_nginx_count_wait(&ngx, "/page4k.html", NULL, &conns, 50), 50);
  ASSERT_EQ(conns, 1);
}
TEST(keepalive_thread) {
  start_nginx(false);
  run_as(0, t_keepalive, NULL);
  test_nginx_stop(&ngx);
}
TEST(keepalive_loop) {
  start_nginx(false);
  run_as(1, t_keepalive, NULL);
  test_nginx_stop(&ngx);
}

/* ---- redirects, encodings, cookies ---------------------------------------- */

static void t_redirects(void *arg) {
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r;
  ASSERT_OK(cc_http_get(s, url("/r5"), &r));
  ASSERT_EQ(r->status, 200);
  ASSERT_EQ(r->redirects, 5);
  ASSERT_STR_EQ(r->url, url("/index.html"));
  ASSERT_STR_EQ(r->body, "hello from nginx\n");
  cc_http_response_free(r);
  /* Not followed on request: the 302 itself. */
  cc_http_request_t q = {.url = url("/r1"), .no_redirects = true};
  ASSERT_OK(cc_http_request(s, &q, &r));
  ASSERT_EQ(r->status, 302);
  const cc_http_header_t *loc = cc_http_header_find(r->headers, r->nheaders, "location");
  ASSERT_NOT_NULL(loc);
  cc_http_response_free(r);
  cc_http_session_free(s);
  /* The cap. */
  s = session(&(cc_http_session_opts_t){.max_redirects = 3});
  ASSERT_ERR(cc_http_get(s, url("/r5"), &r), -CC_EHTTP_REDIRECTS);
  ASSERT_NULL(r);
  ASSERT_OK(cc_http_get(s, url("/r3"), &r));
  ASSERT_EQ(r->status, 200);
  cc_http_response_free(r);
  cc_http_session_free(s);
}
TEST(redirects_thread) {
  start_nginx(false);
  run_as(0, t_redirects, NULL);
  test_nginx_stop(&ngx);
}
TEST(redirects_loop) {
  start_nginx(false);
  run_as(1, t_redirects, NULL);
  test_nginx_stop(&ngx);
}

static void check_text(const cc_http_response_t *r) {
  ASSERT_EQ(r->status, 200);
  ASSERT_EQ(r->body_len, 16384);
  for (size_t i = 0; i < r->body_len; i++)
    if (r->body[i] != "the quick brown fox jumps over the lazy dog\n"[i % 44])
      CC_TEST_FAIL("decoded body differs at %zu", i);
}

static void t_encodings(void *arg) {
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r;
  ASSERT_OK(cc_http_get(s, url("/gz/text.txt"), &r));
  check_text(r);
  const cc_http_header_t *h =
      cc_http_header_find(r->headers, r->nheaders, "Content-Encoding");
  ASSERT_NOT_NULL(h);
  ASSERT_TRUE(cc_http_token_eq(h->value, h->value_len, "gzip"));
  cc_http_response_free(r);
  ASSERT_OK(cc_http_get(s, url("/br/text.txt"), &r));
  check_text(r);
  h = cc_http_header_find(r->headers, r->nheaders, "content-encoding");
  ASSERT_NOT_NULL(h);
  ASSERT_TRUE(cc_http_token_eq(h->value, h->value_len, "br"));
  cc_http_response_free(r);
  cc_http_session_free(s);
  /* Without decoding nginx sends identity. */
  s = session(&(cc_http_session_opts_t){.no_decompress = true});
  ASSERT_OK(cc_http_get(s, url("/gz/text.txt"), &r));
  check_text(r);
  ASSERT_NULL(cc_http_header_find(r->headers, r->nheaders, "Content-Encoding"));
  cc_http_response_free(r);
  cc_http_session_free(s);
}
TEST(encodings_thread) {
  start_nginx(false);
  run_as(0, t_encodings, NULL);
  test_nginx_stop(&ngx);
}
TEST(encodings_loop) {
  start_nginx(false);
  run_as(1, t_encodings, NULL);
  test_nginx_stop(&ngx);
}

static void t_cookies(void *arg) {
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r;
  ASSERT_OK(cc_http_get(s, url("/echocookie"), &r));
  ASSERT_STR_EQ(r->body, "cookie=\n");
  cc_http_response_free(r);
  ASSERT_OK(cc_http_get(s, url("/setcookie"), &r));
  ASSERT_NOT_NULL(cc_http_header_find(r->headers, r->nheaders, "set-cookie"));
  cc_http_response_free(r);
  ASSERT_OK(cc_http_get(s, url("/echocookie"), &r));
  ASSERT_STR_EQ(r->body, "cookie=sess=abc123\n");
  cc_http_response_free(r);
  cc_http_session_free(s);
  /* A new session has its own, empty jar; no_cookies keeps none. */
  s = session(&(cc_http_session_opts_t){.no_cookies = true});
  ASSERT_OK(cc_http_get(s, url("/setcookie"), &r));
  cc_http_response_free(r);
  ASSERT_OK(cc_http_get(s, url("/echocookie"), &r));
  ASSERT_STR_EQ(r->body, "cookie=\n");
  cc_http_response_free(r);
  cc_http_session_free(s);
}
TEST(cookies_thread) {
  start_nginx(false);
  run_as(0, t_cookies, NULL);
  test_nginx_stop(&ngx);
}
TEST(cookies_loop) {
  start_nginx(false);
  run_as(1, t_cookies, NULL);
  test_nginx_stop(&ngx);
}

/* ---- request shapes: method, query, headers, bodies ------------------------ */

static void t_request_shapes(void *arg) {
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r;
  cc_http_header_t qp[] = {{"q", 1, "a b&c", 5}, {"n", 1, "1", 1}};
  cc_http_header_t hd[] = {{"X-Test", 6, "yes", 3}};
  cc_http_request_t q = {.method = CC_HTTP_PUT,
                         .url = url("/echo"),
                         .query = qp,
                         .nquery = 2,
                         .headers = hd,
                         .nheaders = 1};
  ASSERT_OK(cc_http_request(s, &q, &r));
  ASSERT_STR_EQ(r->body, "PUT /echo?q=a%20b%26c&n=1 x-test=yes\n");
  cc_http_response_free(r);
  /* The same easy handle, back to a plain GET: nothing of the PUT remains. */
  ASSERT_OK(cc_http_get(s, url("/echo"), &r));
  ASSERT_STR_EQ(r->body, "GET /echo x-test=\n");
  cc_http_response_free(r);
  q = (cc_http_request_t){.method = CC_HTTP_DELETE, .url = url("/echo?x=1")};
  ASSERT_OK(cc_http_request(s, &q, &r));
  ASSERT_STR_EQ(r->body, "DELETE /echo?x=1 x-test=\n");
  cc_http_response_free(r);
  q = (cc_http_request_t){.method = CC_HTTP_HEAD, .url = url("/page4k.html")};
  ASSERT_OK(cc_http_request(s, &q, &r));
  ASSERT_EQ(r->status, 200);
  ASSERT_EQ(r->body_len, 0);
  cc_http_response_free(r);
  cc_http_session_free(s);
}
TEST(request_shapes_thread) {
  start_nginx(false);
  run_as(0, t_request_shapes, NULL);
  test_nginx_stop(&ngx);
}
TEST(request_shapes_loop) {
  start_nginx(false);
  run_as(1, t_request_shapes, NULL);
  test_nginx_stop(&ngx);
}

/* Bodies as the server received them (the raw server echoes the request). */
static void t_bodies(void *arg) {
  raw_server_t rs;
  ASSERT_OK(raw_server_start(&rs, RAW_ECHO, 4));
  char u[64];
  snprintf(u, sizeof u, "http://127.0.0.1:%d/up", rs.port);
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r;
  cc_http_request_t q = {.method = CC_HTTP_POST, .url = u, .json = "{\"a\": [1, 2]}"};
  ASSERT_OK(cc_http_request(s, &q, &r));
  ASSERT_NOT_NULL(strstr(r->body, "POST /up HTTP/1.1\r\n"));
  ASSERT_NOT_NULL(strstr(r->body, "Content-Type: application/json\r\n"));
  ASSERT_NOT_NULL(strstr(r->body, "\r\n\r\n{\"a\": [1, 2]}"));
  cc_http_response_free(r);
  cc_http_header_t form[] = {{"name", 4, "Ada L", 5}, {"x", 1, "1&2", 3}};
  q = (cc_http_request_t){.method = CC_HTTP_POST, .url = u, .form = form, .nform = 2};
  ASSERT_OK(cc_http_request(s, &q, &r));
  ASSERT_NOT_NULL(strstr(r->body, "application/x-www-form-urlencoded"));
  ASSERT_NOT_NULL(strstr(r->body, "\r\n\r\nname=Ada%20L&x=1%262"));
  cc_http_response_free(r);
  q = (cc_http_request_t){.method = CC_HTTP_PATCH,
                          .url = u,
                          .body = "raw\0bytes",
                          .body_len = 9,
                          .content_type = "application/x-test"};
  ASSERT_OK(cc_http_request(s, &q, &r));
  ASSERT_NOT_NULL(strstr(r->body, "PATCH /up HTTP/1.1\r\n"));
  ASSERT_NOT_NULL(strstr(r->body, "Content-Type: application/x-test\r\n"));
  ASSERT_NOT_NULL(strstr(r->body, "Content-Length: 9\r\n"));
  ASSERT_EQ(memcmp(r->body + r->body_len - 9, "raw\0bytes", 9), 0);
  cc_http_response_free(r);
  char path[] = "/tmp/cc-upload.XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "file body\n", 10), 10);
  close(fd);
  q = (cc_http_request_t){.method = CC_HTTP_POST, .url = u, .body_file = path};
  ASSERT_OK(cc_http_request(s, &q, &r));
  ASSERT_NOT_NULL(strstr(r->body, "Content-Length: 10\r\n"));
  ASSERT_NOT_NULL(strstr(r->body, "\r\n\r\nfile body\n"));
  cc_http_response_free(r);
  unlink(path);
  cc_http_session_free(s);
  raw_server_stop(&rs);
}
TEST(bodies_thread) {
  run_as(0, t_bodies, NULL);
}
TEST(bodies_loop) {
  run_as(1, t_bodies, NULL);
}

/* ---- failures ---------------------------------------------------------------- */

static void t_errors(void *arg) {
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r = (void *)1;
  ASSERT_ERR(cc_http_get(s, "http://no-such-host.invalid/", &r), -CC_ERESOLVE);
  ASSERT_NULL(r);
  char u[64];
  snprintf(u, sizeof u, "http://127.0.0.1:%d/", test_free_port());
  ASSERT_ERR(cc_http_get(s, u, &r), -ECONNREFUSED);
  ASSERT_ERR(cc_http_get(s, "ftp://127.0.0.1/", &r), -EPROTONOSUPPORT);
  ASSERT_ERR(cc_http_get(s, "http://[::1", &r), -EINVAL);
  raw_server_t rs;
  ASSERT_OK(raw_server_start(&rs, RAW_RESET, 1));
  snprintf(u, sizeof u, "http://127.0.0.1:%d/", rs.port);
  ASSERT_ERR(cc_http_get(s, u, &r), -ECONNRESET);
  raw_server_stop(&rs);
  ASSERT_OK(raw_server_start(&rs, RAW_TRUNC_CHUNKED, 1));
  snprintf(u, sizeof u, "http://127.0.0.1:%d/", rs.port);
  ASSERT_ERR(cc_http_get(s, u, &r), -CC_EHTTP_PARTIAL);
  raw_server_stop(&rs);
  ASSERT_OK(raw_server_start(&rs, RAW_SHORT_CL, 1));
  snprintf(u, sizeof u, "http://127.0.0.1:%d/", rs.port);
  ASSERT_ERR(cc_http_get(s, u, &r), -CC_EHTTP_PARTIAL);
  raw_server_stop(&rs);
  cc_http_session_free(s);
}
TEST(errors_thread) {
  run_as(0, t_errors, NULL);
}
TEST(errors_loop) {
  run_as(1, t_errors, NULL);
}

static void t_limits(void *arg) {
  cc_http_session_t *s = session(&(cc_http_session_opts_t){.max_body = 1000});
  cc_http_response_t *r;
  ASSERT_ERR(cc_http_get(s, url("/page4k.html"), &r), -CC_ETOOBIG); /* Content-Length */
  ASSERT_ERR(cc_http_get(s, url("/gz/text.txt"), &r), -CC_ETOOBIG); /* decoded, chunked */
  ASSERT_OK(cc_http_get(s, url("/index.html"), &r));
  cc_http_response_free(r);
  cc_http_request_t q = {.url = url("/page4k.html"), .max_body = 5000};
  ASSERT_OK(cc_http_request(s, &q, &r));
  ASSERT_EQ(r->body_len, 4096);
  cc_http_response_free(r);
  /* A total time-out mid-body (16 KiB/s for 2 MiB). */
  q = (cc_http_request_t){
      .url = url("/slow/big.bin"), .timeout_ms = 300, .max_body = 4u << 20};
  ASSERT_ERR(cc_http_request(s, &q, &r), -ETIMEDOUT);
  ASSERT_OK(cc_http_get(s, url("/index.html"), &r));
  cc_http_response_free(r);
  cc_http_session_free(s);
}
TEST(limits_thread) {
  start_nginx(false);
  run_as(0, t_limits, NULL);
  test_nginx_stop(&ngx);
}
TEST(limits_loop) {
  start_nginx(false);
  run_as(1, t_limits, NULL);
  test_nginx_stop(&ngx);
}

/* ---- retries ---------------------------------------------------------------- */

static void t_retries(void *arg) {
  cc_http_session_t *s =
      session(&(cc_http_session_opts_t){.retries = 2, .retry_base_ms = 10});
  cc_http_response_t *r;
  int64_t t0 = cc_now();
  cc_http_request_t q = {.url = url("/busy"), .retries = 1};
  ASSERT_OK(cc_http_request(s, &q, &r));
  ASSERT_EQ(r->status, 429);
  ASSERT_EQ(r->retries, 1);
  ASSERT_GE(cc_now() - t0, 900); /* Retry-After: 1 was honoured */
  cc_http_response_free(r);
  ASSERT_EQ(test_nginx_count_wait(&ngx, "/busy", NULL, NULL, 2), 2);
  ASSERT_OK(cc_http_get(s, url("/unavail"), &r));
  ASSERT_EQ(r->status, 503);
  ASSERT_EQ(r->retries, 2);
  cc_http_response_free(r);
  ASSERT_EQ(test_nginx_count_wait(&ngx, "/unavail", NULL, NULL, 3), 3);
  /* POST is not idempotent: never retried. */
  q = (cc_http_request_t){.method = CC_HTTP_POST, .url = url("/unavail"), .json = "{}"};
  ASSERT_OK(cc_http_request(s, &q, &r));
  ASSERT_EQ(r->retries, 0);
  cc_http_response_free(r);
  ASSERT_EQ(test_nginx_count_wait(&ngx, "/unavail", NULL, NULL, 4), 4);
  /* Connection failures are retried too (and still fail). */
  char u[64];
  snprintf(u, sizeof u, "http://127.0.0.1:%d/", test_free_port());
  ASSERT_ERR(cc_http_get(s, u, &r), -ECONNREFUSED);
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.retries, 1 + 2 + 2);
  cc_http_session_free(s);
}
TEST(retries_thread) {
  start_nginx(false);
  run_as(0, t_retries, NULL);
  test_nginx_stop(&ngx);
}
TEST(retries_loop) {
  start_nginx(false);
  run_as(1, t_retries, NULL);
  test_nginx_stop(&ngx);
}

/* ---- TLS, HTTP/2 -------------------------------------------------------------- */

static void t_tls(void *arg) {
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r;
  /* The self-signed certificate is refused by default. */
  ASSERT_ERR(cc_http_get(s, tls_url("localhost", "/index.html"), &r), -CC_EHTTP_CERT);
  cc_http_session_free(s);
  s = session(&(cc_http_session_opts_t){.ca_file = ngx.cert});
  ASSERT_OK(cc_http_get(s, tls_url("localhost", "/index.html"), &r));
  ASSERT_EQ(r->status, 200);
  ASSERT_EQ(r->http_version, 20); /* ALPN chose h2 */
  ASSERT_STR_EQ(r->body, "hello from nginx\n");
  cc_http_response_free(r);
  ASSERT_OK(cc_http_get(s, tls_url("127.0.0.1", "/gz/text.txt"), &r));
  check_text(r);
  cc_http_response_free(r);
  cc_http_session_free(s);
  s = session(&(cc_http_session_opts_t){.insecure = true, .http1_only = true});
  ASSERT_OK(cc_http_get(s, tls_url("localhost", "/index.html"), &r));
  ASSERT_EQ(r->http_version, 11);
  cc_http_response_free(r);
  cc_http_session_free(s);
}
TEST(tls_thread) {
  start_nginx(true);
  run_as(0, t_tls, NULL);
  test_nginx_stop(&ngx);
}
TEST(tls_loop) {
  start_nginx(true);
  run_as(1, t_tls, NULL);
  test_nginx_stop(&ngx);
}

/* ---- streaming ---------------------------------------------------------------- */

static void t_stream(void *arg) {
  cc_http_session_t *s = session(NULL);
  cc_http_stream_t *st;
  const cc_http_response_t *head;
  cc_http_request_t q = {.url = url("/big.bin")};
  ASSERT_OK(cc_http_stream_open(s, &q, &st, &head));
  ASSERT_EQ(head->status, 200);
  ASSERT_NOT_NULL(cc_http_header_find(head->headers, head->nheaders, "content-length"));
  size_t total = 0;
  char buf[3000];
  ssize_t n;
  while ((n = cc_http_stream_read(st, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++) {
      size_t k = total + (size_t)i;
      if (buf[i] != (char)(k * 7 + (k >> 11)))
        CC_TEST_FAIL("stream differs at %zu", k);
    }
    total += (size_t)n;
  }
  ASSERT_EQ(n, 0);
  ASSERT_EQ(total, 2u << 20);
  cc_http_stream_close(st);
  /* Closed before the end: the transfer is dropped, the session goes on. */
  ASSERT_OK(cc_http_stream_open(s, &q, &st, NULL));
  ASSERT_GT(cc_http_stream_read(st, buf, sizeof buf), 0);
  cc_http_stream_close(st);
  cc_http_response_t *r;
  ASSERT_OK(cc_http_get(s, url("/index.html"), &r));
  cc_http_response_free(r);
  cc_http_session_free(s);
}
TEST(stream_thread) {
  start_nginx(false);
  run_as(0, t_stream, NULL);
  test_nginx_stop(&ngx);
}
TEST(stream_loop) {
  start_nginx(false);
  run_as(1, t_stream, NULL);
  test_nginx_stop(&ngx);
}

/* ---- proxies from the environment ------------------------------------------ */

/* nginx answers an absolute-form request for any host from its default
 * server, so a name that cannot resolve proves the proxy was used. */
static void t_proxy(void *arg) {
  char p[64];
  snprintf(p, sizeof p, "http://127.0.0.1:%d", ngx.port);
  unsetenv("no_proxy");
  setenv("http_proxy", p, 1);
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r;
  ASSERT_OK(cc_http_get(s, "http://proxied.invalid/index.html", &r));
  ASSERT_EQ(r->status, 200);
  ASSERT_STR_EQ(r->body, "hello from nginx\n");
  cc_http_response_free(r);
  /* no_proxy wins for the names it lists. */
  setenv("no_proxy", "proxied.invalid", 1);
  ASSERT_ERR(cc_http_get(s, "http://proxied.invalid/index.html", &r), -CC_ERESOLVE);
  cc_http_session_free(s);
  unsetenv("http_proxy");
  setenv("no_proxy", "127.0.0.1,localhost", 1);
  /* An explicit proxy option. */
  s = session(&(cc_http_session_opts_t){.proxy = p});
  ASSERT_OK(cc_http_get(s, "http://other.invalid/page4k.html", &r));
  ASSERT_EQ(r->body_len, 4096);
  cc_http_response_free(r);
  cc_http_session_free(s);
}
TEST(proxy_thread) {
  start_nginx(false);
  run_as(0, t_proxy, NULL);
  test_nginx_stop(&ngx);
}

/* ---- ownership ---------------------------------------------------------------- */

static cc_http_session_t *thread_session;
static void t_exdev(void *arg) {
  cc_http_response_t *r;
  ASSERT_ERR(cc_http_get(thread_session, url("/index.html"), &r), -EXDEV);
  ASSERT_ERR(cc_http_get(NULL, url("/index.html"), &r), -EINVAL);
}
TEST(exdev) {
  start_nginx(false);
  thread_session = session(NULL);
  run_as(1, t_exdev, NULL);
  cc_http_session_free(thread_session);
  test_nginx_stop(&ngx);
}

/* ---- concurrency (loop sessions) -------------------------------------------- */

typedef struct fetch_job {
  cc_http_session_t *s;
  const char *url;
  int status;
  size_t len;
  int err;
} fetch_job_t;

static intptr_t fetch_one(void *arg) {
  fetch_job_t *j = arg;
  cc_http_response_t *r;
  j->err = cc_http_get(j->s, j->url, &r);
  if (j->err == 0) {
    j->status = r->status;
    j->len = r->body_len;
    cc_http_response_free(r);
  }
  return j->err;
}

/* Runs n fetches of `u` at once on s; asserts they all got 200 + `len`. */
static void fetch_many(cc_http_session_t *s, const char *u, int n, size_t len) {
  fetch_job_t *jobs = calloc((size_t)n, sizeof *jobs);
  cc_task_t **ts = calloc((size_t)n, sizeof *ts);
  for (int i = 0; i < n; i++) {
    jobs[i] = (fetch_job_t){.s = s, .url = u};
    ASSERT_OK(cc_spawn(&ts[i], fetch_one, &jobs[i]));
  }
  ASSERT_OK(cc_gather(ts, (size_t)n, NULL));
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(jobs[i].status, 200);
    ASSERT_EQ(jobs[i].len, len);
  }
  free(jobs);
  free(ts);
}

/* 40 coroutines at once, at most 2 connections to the host: nginx sees 2. */
static void t_per_host(void *arg) {
  cc_http_session_t *s = session(&(cc_http_session_opts_t){.max_conns_per_host = 2});
  fetch_many(s, url("/page4k.html"), 40, 4096);
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.requests, 40);
  ASSERT_EQ(st.native, native() ? 40 : 0);
  ASSERT_EQ(st.in_flight, 0);
  ASSERT_LE(st.sockets, 2);
  cc_http_session_free(s);
  int conns;
  ASSERT_EQ(test_nginx_count_wait(&ngx, "/page4k.html", NULL, &conns, 40), 40);
  ASSERT_LE(conns, 2);
  ASSERT_GE(conns, 1);
}
TEST(per_host_limit_loop) {
  start_nginx(false);
  run_as(1, t_per_host, NULL);
  test_nginx_stop(&ngx);
}

/* Cancelled mid-body: the transfer leaves the multi handle at once and its
 * connection is closed (not left half-read in the cache); the session goes
 * on. The same for the task's deadline scope. */
static void t_cancel(void *arg) {
  cc_http_session_t *s = session(NULL);
  fetch_job_t j = {.s = s, .url = url("/slow/big.bin")};
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, fetch_one, &j));
  ASSERT_OK(cc_sleep(200));
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.in_flight, 1);
  ASSERT_EQ(st.watched, 1);
  ASSERT_OK(cc_cancel(t));
  ASSERT_ERR(cc_join(t, NULL), -ECANCELED);
  ASSERT_EQ(j.err, -ECANCELED);
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.in_flight, 0);
  ASSERT_EQ(st.watched, 0); /* the connection was closed */
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(200));
  cc_http_response_t *r;
  ASSERT_ERR(cc_http_get(s, url("/slow/big.bin"), &r), -ETIMEDOUT);
  ASSERT_TRUE(cc_timeout_end(&to));
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.in_flight, 0);
  ASSERT_OK(cc_http_get(s, url("/index.html"), &r));
  ASSERT_EQ(r->status, 200);
  cc_http_response_free(r);
  cc_http_session_free(s);
}
TEST(cancel_loop) {
  start_nginx(false);
  run_as(1, t_cancel, NULL);
  test_nginx_stop(&ngx);
}

/* HTTP/2 over TLS: 20 requests at once share one multiplexed connection
 * (PIPEWAIT), seen by nginx as 20 HTTP/2.0 requests on 1 connection. */
static void t_h2(void *arg) {
  cc_http_session_t *s = session(&(cc_http_session_opts_t){.ca_file = ngx.cert});
  fetch_many(s, tls_url("localhost", "/page4k.html"), 20, 4096);
  fetch_many(s, tls_url("localhost", "/page4k.html"), 20, 4096);
  cc_http_session_free(s);
  int conns;
  ASSERT_EQ(test_nginx_count_wait(&ngx, "/page4k.html", "HTTP/2.0", &conns, 40), 40);
  ASSERT_EQ(conns, 1);
}
TEST(h2_multiplex_loop) {
  start_nginx(true);
  run_as(1, t_h2, NULL);
  test_nginx_stop(&ngx);
}

/* The server closes an idle keep-alive connection whose watcher the session
 * keeps registered between requests: the loop does not spin on its EOF
 * (CPU stays low while it sleeps), and the next request opens a new one. */
static double cpu_now(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static void t_idle_close(void *arg) {
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r;
  ASSERT_OK(cc_http_get(s, url("/shortka"), &r));
  ASSERT_STR_EQ(r->body, "short\n");
  cc_http_response_free(r);
  double c0 = cpu_now();
  ASSERT_OK(cc_sleep(1600));               /* nginx closes the connection after 1 s */
  ASSERT_LT((cpu_now() - c0) * 1000, 800); /* ms of CPU while idle */
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.idle_events, 1); /* the EOF was seen once, then not listened for */
  ASSERT_OK(cc_http_get(s, url("/index.html"), &r));
  ASSERT_EQ(r->status, 200);
  cc_http_response_free(r);
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.sockets, 2);
  ASSERT_EQ(st.watched, 1);
  cc_http_session_free(s);
}
TEST(idle_close_loop) {
  start_nginx(false);
  run_as(1, t_idle_close, NULL);
  test_nginx_stop(&ngx);
}

/* A plain thread (here the executor's, through cc_to_thread) uses a loop's
 * session: each request runs on the loop and the thread blocks on the
 * thread-or-coroutine wait; the responses are the thread's to free. */
static cc_http_session_t *shared;
static intptr_t thread_gets(void *arg) {
  for (int i = 0; i < 20; i++) {
    cc_http_response_t *r;
    int rc = cc_http_get(shared, url("/page4k.html"), &r);
    if (rc < 0)
      return rc;
    if (r->status != 200 || r->body_len != 4096)
      return -EPROTO;
    cc_http_response_free(r);
  }
  cc_http_response_t *r = (void *)1;
  int rc = cc_http_get(shared, "http://no-such-host.invalid/", &r);
  return rc == -CC_ERESOLVE && r == NULL ? 20 : -EINVAL;
}

static void t_thread_on_loop(void *arg) {
  shared = session(NULL);
  intptr_t got = 0;
  ASSERT_OK(cc_to_thread(thread_gets, NULL, &got));
  ASSERT_EQ(got, 20);
  cc_http_session_stats_t st;
  cc_http_session_stats(shared, &st);
  ASSERT_EQ(st.requests, 21);
  cc_http_session_free(shared);
  int conns;
  ASSERT_EQ(test_nginx_count_wait(&ngx, "/page4k.html", NULL, &conns, 20), 20);
  ASSERT_EQ(conns, 1);
}
TEST(thread_on_loop_session) {
  start_nginx(false);
  run_as(1, t_thread_on_loop, NULL);
  test_nginx_stop(&ngx);
}

/* HTTP/2: a request cancelled mid-body resets only its stream; the other
 * requests multiplexed on the same connection go on, and later ones still
 * use that one connection. */
static void t_h2_cancel(void *arg) {
  cc_http_session_t *s = session(&(cc_http_session_opts_t){.ca_file = ngx.cert});
  fetch_job_t slow = {.s = s, .url = tls_url("localhost", "/slow/big.bin")};
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, fetch_one, &slow));
  ASSERT_OK(cc_sleep(300));
  fetch_many(s, tls_url("localhost", "/page4k.html"), 10, 4096);
  ASSERT_OK(cc_cancel(t));
  ASSERT_ERR(cc_join(t, NULL), -ECANCELED);
  fetch_many(s, tls_url("localhost", "/page4k.html"), 10, 4096);
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.in_flight, 0);
  ASSERT_EQ(st.sockets, 1);
  cc_http_session_free(s);
  int conns;
  ASSERT_EQ(test_nginx_count_wait(&ngx, "/", "HTTP/2.0", &conns, 21), 21);
  ASSERT_EQ(conns, 1);
}
TEST(h2_cancel_loop) {
  start_nginx(true);
  run_as(1, t_h2_cancel, NULL);
  test_nginx_stop(&ngx);
}
