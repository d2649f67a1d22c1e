/* The HTTP client's native HTTP/1.1 transport (src/http/h1_client.c):
 * what it sends compared byte for byte with libcurl's request, response
 * framings (chunked, close-delimited, HTTP/1.0, 1xx, 204) and encodings
 * (gzip, deflate, zstd, errors) compared with what libcurl makes of the
 * same bytes, the stale keep-alive retry, the Set-Cookie hand-over to
 * libcurl's jar, eligibility, connection limits with waiters that time out
 * or are cancelled. Everything on loop sessions; a raw server (raw_server.c)
 * for canned responses and a private nginx (nginx_helper.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "http/h1_client.h"
#include "nginx_helper.h"
#include "raw_server.h"
#include "test.h"

static test_nginx_t ngx;

static void start_nginx(bool tls) {
  setenv("no_proxy", "127.0.0.1,localhost", 1);
  if (test_nginx_start(&ngx, tls) != 0)
    SKIP("nginx (nginx-light), openssl or brotli is not available");
}

static char *url(const char *path) {
  return test_nginx_url(&ngx, path);
}

typedef void (*body_fn)(void *);
static body_fn g_fn;
static intptr_t in_coro(void *arg) {
  g_fn(arg);
  return 0;
}
/* Runs fn in a coroutine; no fd may be left behind. */
static void run_loop(body_fn fn, void *arg) {
  unsetenv("CONCUR_HTTP_TRANSPORT");
  int fds = cc_test_count_fds();
  g_fn = fn;
  cc_test_run(in_coro, arg);
  ASSERT_EQ(cc_test_count_fds(), fds);
}

static cc_http_session_t *session(const cc_http_session_opts_t *o) {
  cc_http_session_t *s;
  ASSERT_OK(cc_http_session_new(&s, o));
  return s;
}

static uint64_t native_count(cc_http_session_t *s) {
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  return st.native;
}

/* ---- the request as sent ------------------------------------------------------ */

/* The raw server echoes the request it got: both transports must send the
 * same bytes for the same request. */
static void t_same_request(void *arg) {
  (void)arg;
  cc_http_header_t hd[] = {{"X-Test", 6, "yes", 3}, {"X-Empty", 7, "", 0}};
  cc_http_header_t ua[] = {{"User-Agent", 10, "mine/1", 6}, {"Accept", 6, "text/x", 6}};
  cc_http_header_t qp[] = {{"q", 1, "a b&c", 5}};
  cc_http_header_t form[] = {{"name", 4, "Ada L", 5}};
  cc_http_header_t cl[] = {{"Content-Length", 14, "8", 1},
                           {"accept-encoding", 15, "br", 2}};
  cc_http_request_t qs[] = {
      {.url = NULL},
      {.url = NULL, .headers = hd, .nheaders = 2, .query = qp, .nquery = 1},
      {.url = NULL, .headers = ua, .nheaders = 2},
      {.method = CC_HTTP_POST, .url = NULL, .json = "{\"a\": 1}"},
      {.method = CC_HTTP_POST, .url = NULL, .form = form, .nform = 1},
      {.method = CC_HTTP_POST,
       .url = NULL,
       .json = "{\"a\": 1}",
       .headers = cl,
       .nheaders = 2},
      {.method = CC_HTTP_POST, .url = NULL},
      {.method = CC_HTTP_PATCH,
       .url = NULL,
       .body = "raw\0b",
       .body_len = 5,
       .content_type = "application/x-test"},
      {.method = CC_HTTP_DELETE, .url = NULL},
      {.method = CC_HTTP_OTHER, .method_name = "PURGE", .url = NULL},
  };
  size_t nq = sizeof qs / sizeof qs[0];
  raw_server_t rs;
  ASSERT_OK(raw_server_start(&rs, RAW_ECHO, (int)(2 * nq + 6)));
  char u[64];
  /* The host as written, upper case and all, in the Host header; the URL
   * reported as given (a fragment too, no '/' added). */
  for (int k = 0; k < 3; k++) {
    if (k == 2)
      snprintf(u, sizeof u, "http://LocalHost:%d/Mixed#frag", rs.port);
    else if (k == 1)
      snprintf(u, sizeof u, "http://127.0.0.1:%d?q#f", rs.port);
    else
      snprintf(u, sizeof u, "http://127.0.0.1:%d", rs.port);
    cc_http_session_t *a = session(NULL), *b = session(&(cc_http_session_opts_t){
                                              .transport = CC_HTTP_TRANSPORT_CURL});
    cc_http_response_t *ra, *rb;
    ASSERT_OK(cc_http_get(a, u, &ra));
    ASSERT_OK(cc_http_get(b, u, &rb));
    if (strcmp(ra->body, rb->body) != 0)
      CC_TEST_FAIL("host case differs:\nnative:\n%s\nlibcurl:\n%s", ra->body, rb->body);
    ASSERT_STR_EQ(ra->url, rb->url);
    cc_http_response_free(ra);
    cc_http_response_free(rb);
    cc_http_session_free(a);
    cc_http_session_free(b);
  }
  snprintf(u, sizeof u, "http://127.0.0.1:%d/p/a?x=1", rs.port);
  cc_http_session_t *sn = session(NULL);
  cc_http_session_t *sc =
      session(&(cc_http_session_opts_t){.transport = CC_HTTP_TRANSPORT_CURL});
  for (size_t i = 0; i < nq; i++) {
    qs[i].url = u;
    cc_http_response_t *a, *b;
    ASSERT_OK(cc_http_request(sn, &qs[i], &a));
    ASSERT_OK(cc_http_request(sc, &qs[i], &b));
    if (a->body_len != b->body_len || memcmp(a->body, b->body, a->body_len) != 0)
      CC_TEST_FAIL("request %zu differs:\nnative:\n%s\nlibcurl:\n%s", i, a->body,
                   b->body);
    ASSERT_STR_EQ(a->url, b->url);
    cc_http_response_free(a);
    cc_http_response_free(b);
  }
  ASSERT_EQ(native_count(sn), nq);
  ASSERT_EQ(native_count(sc), 0);
  cc_http_session_free(sn);
  cc_http_session_free(sc);
  raw_server_stop(&rs);
}
TEST(same_request_loop) {
  run_loop(t_same_request, NULL);
}

/* ---- responses: both transports make the same of the same bytes ---------------- */

typedef struct canned {
  const char *name;
  const char *bytes;
  size_t len;
  int rc; /* expected of both */
  size_t max_body;
} canned_t;

static void compare_one(const canned_t *c) {
  cc_http_response_t *r[2] = {NULL, NULL};
  int rc[2];
  for (int k = 0; k < 2; k++) {
    raw_server_t rs;
    ASSERT_OK(raw_server_start_canned(&rs, c->bytes, c->len, false, 1));
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", rs.port);
    cc_http_session_t *s = session(&(cc_http_session_opts_t){
        .transport = k ? CC_HTTP_TRANSPORT_CURL : CC_HTTP_TRANSPORT_AUTO,
        .max_body = c->max_body});
    rc[k] = cc_http_get(s, u, &r[k]);
    ASSERT_EQ(native_count(s), k ? 0 : 1);
    cc_http_session_free(s);
    raw_server_stop(&rs);
  }
  if (rc[0] != c->rc || rc[1] != c->rc)
    CC_TEST_FAIL("%s: native %s, libcurl %s, expected %s", c->name, cc_err_name(rc[0]),
                 cc_err_name(rc[1]), cc_err_name(c->rc));
  if (c->rc == 0) {
    ASSERT_EQ(r[0]->status, r[1]->status);
    ASSERT_EQ(r[0]->http_version, r[1]->http_version);
    ASSERT_EQ(r[0]->body_len, r[1]->body_len);
    ASSERT_EQ(memcmp(r[0]->body, r[1]->body, r[0]->body_len), 0);
    ASSERT_EQ(r[0]->body[r[0]->body_len], '\0');
    ASSERT_EQ(r[0]->nheaders, r[1]->nheaders);
    for (size_t i = 0; i < r[0]->nheaders; i++) {
      const cc_http_header_t *a = &r[0]->headers[i], *b = &r[1]->headers[i];
      ASSERT_TRUE(a->name_len == b->name_len &&
                  memcmp(a->name, b->name, a->name_len) == 0);
      ASSERT_TRUE(a->value_len == b->value_len &&
                  memcmp(a->value, b->value, a->value_len) == 0);
    }
  }
  cc_http_response_free(r[0]);
  cc_http_response_free(r[1]);
}

static char text[20000];

static size_t gzip_of(const char *in, size_t n, char *out, size_t cap, int wbits) {
  z_stream z = {0};
  ASSERT_EQ(deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)n;
  z.next_out = (Bytef *)out;
  z.avail_out = (uInt)cap;
  ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  size_t len = z.total_out;
  deflateEnd(&z);
  return len;
}

/* A response head with Content-Length and `enc`, then the body. */
static size_t with_body(char *out, size_t cap, const char *enc, const char *body,
                        size_t n) {
  int h = snprintf(out, cap, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n%s%s%s\r\n", n,
                   enc ? "Content-Encoding: " : "", enc ? enc : "", enc ? "\r\n" : "");
  ASSERT_LE((size_t)h + n, cap);
  memcpy(out + h, body, n);
  return (size_t)h + n;
}

static void t_responses(void *arg) {
  (void)arg;
  for (size_t i = 0; i < sizeof text; i++)
    text[i] = "the quick brown fox jumps over the lazy dog\n"[i % 44];
  static char gz[30000], zl[30000], raw[30000], zs[30000], bad[30000];
  static char m_gz[40000], m_zl[40000], m_raw[40000], m_zs[40000], m_bad[40000],
      m_trunc[40000], gzgz[40000], zsgz[40000], m_gzgz[50000], m_zsgz[50000],
      m_idgz[50000], m_bogus[50000];
  size_t ngz = gzip_of(text, sizeof text, gz, sizeof gz, 15 + 16);
  size_t nzl = gzip_of(text, sizeof text, zl, sizeof zl, 15);
  size_t nraw = gzip_of(text, sizeof text, raw, sizeof raw, -15);
  size_t nzs = ZSTD_compress(zs, sizeof zs, text, sizeof text, 3);
  ASSERT_FALSE(ZSTD_isError(nzs));
  /* Stacked: gzip then gzip again; gzip then zstd. */
  size_t ngzgz = gzip_of(gz, ngz, gzgz, sizeof gzgz, 15 + 16);
  size_t nzsgz = ZSTD_compress(zsgz, sizeof zsgz, gz, ngz, 3);
  ASSERT_FALSE(ZSTD_isError(nzsgz));
  memcpy(bad, gz, ngz);
  bad[ngz / 2] ^= 0x55;
  bad[ngz / 2 + 1] ^= 0x55;
#define S(x) x, sizeof(x) - 1
  canned_t cs[] = {
      {"chunked",
       S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
         "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"),
       0, 0},
      {"chunked, truncated",
       S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n10\r\nonly"),
       -CC_EHTTP_PARTIAL, 0},
      {"close-delimited",
       S("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
         "until the end\nof the connection\n"),
       0, 0},
      {"HTTP/1.0", S("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc"), 0, 0},
      {"HTTP/1.0 close-delimited", S("HTTP/1.0 200 OK\r\n\r\nabcdef"), 0, 0},
      {"interim 100 and 103",
       S("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
         "Link: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
         "\r\nok"),
       0, 0},
      {"204", S("HTTP/1.1 204 No Content\r\nX-B: 2\r\n\r\n"), 0, 0},
      {"304", S("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"), 0, 0},
      {"no reason phrase", S("HTTP/1.1 404\r\nContent-Length: 1\r\n\r\nx"), 0, 0},
      {"short Content-Length", S("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
       -CC_EHTTP_PARTIAL, 0},
      {"nothing", "", 0, -ECONNRESET, 0},
      {"garbage", S("SMTP ready\r\n\r\n"), -EPROTONOSUPPORT, 0},
      {"one-digit status", S("HTTP/1.1 2\r\nContent-Length: 0\r\n\r\n"), -EPROTONOSUPPORT,
       0},
      {"malformed", S("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), -CC_EPROTO_HTTP,
       0},
      {"max_body, Content-Length",
       S("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
         "0123456789"),
       -CC_ETOOBIG, 5},
      {"max_body, chunked",
       S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "a\r\n0123456789\r\n0\r\n\r\n"),
       -CC_ETOOBIG, 5},
      {"unknown encoding",
       S("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Encoding: "
         "compress\r\n\r\nabc"),
       -CC_EPROTO_HTTP, 0},
      {"gzip", m_gz, with_body(m_gz, sizeof m_gz, "gzip", gz, ngz), 0, 0},
      {"deflate (zlib)", m_zl, with_body(m_zl, sizeof m_zl, "deflate", zl, nzl), 0, 0},
      {"deflate (raw)", m_raw, with_body(m_raw, sizeof m_raw, "deflate", raw, nraw), 0,
       0},
      {"zstd", m_zs, with_body(m_zs, sizeof m_zs, "zstd", zs, nzs), 0, 0},
      {"corrupt gzip", m_bad, with_body(m_bad, sizeof m_bad, "gzip", bad, ngz),
       -CC_EPROTO_HTTP, 0},
      {"truncated gzip (libcurl: what decoded)", m_trunc,
       with_body(m_trunc, sizeof m_trunc, "gzip", gz, ngz / 2), 0, 0},
      {"gzip, gzip", m_gzgz, with_body(m_gzgz, sizeof m_gzgz, "gzip, gzip", gzgz, ngzgz),
       0, 0},
      {"gzip,zstd", m_zsgz, with_body(m_zsgz, sizeof m_zsgz, "gzip,zstd", zsgz, nzsgz), 0,
       0},
      {"max_body, gzip, gzip", m_gzgz,
       with_body(m_gzgz, sizeof m_gzgz, "gzip, gzip", gzgz, ngzgz), -CC_ETOOBIG, 10000},
      {"identity, gzip", m_idgz,
       with_body(m_idgz, sizeof m_idgz, "identity, gzip", gz, ngz), 0, 0},
      {"gzip, bogus", m_bogus, with_body(m_bogus, sizeof m_bogus, "gzip, bogus", gz, ngz),
       -CC_EPROTO_HTTP, 0},
      {"max_body, decoded gzip", m_gz, with_body(m_gz, sizeof m_gz, "gzip", gz, ngz),
       -CC_ETOOBIG, 10000},
  };
#undef S
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
    compare_one(&cs[i]);
}
TEST(responses_loop) {
  run_loop(t_responses, NULL);
}

/* Redirects: the method and body that reach the next URL are the same on
 * both transports for every redirect status (libcurl's defaults: 301 and
 * 302 turn a POST into a GET, 303 everything but HEAD). */
static void t_redirect_methods(void *arg) {
  (void)arg;
  static const int codes[] = {301, 302, 303, 307, 308};
  cc_http_request_t qs[] = {
      {.method = CC_HTTP_POST, .json = "{\"k\": 1}"},
      {.method = CC_HTTP_PUT, .body = "put-body", .body_len = 8},
      {.method = CC_HTTP_GET},
      {.method = CC_HTTP_DELETE},
  };
  for (size_t ci = 0; ci < sizeof codes / sizeof codes[0]; ci++) {
    for (size_t qi = 0; qi < sizeof qs / sizeof qs[0]; qi++) {
      char seen[2][4096];
      int redirects[2];
      for (int k = 0; k < 2; k++) {
        raw_server_t echo, redir;
        ASSERT_OK(raw_server_start(&echo, RAW_ECHO, 1));
        char reply[256];
        int n =
            snprintf(reply, sizeof reply,
                     "HTTP/1.1 %d Moved\r\nLocation: http://127.0.0.1:%d/there?z=1\r\n"
                     "Content-Length: 0\r\n\r\n",
                     codes[ci], echo.port);
        ASSERT_OK(raw_server_start_canned(&redir, reply, (size_t)n, false, 1));
        char u[64];
        snprintf(u, sizeof u, "http://127.0.0.1:%d/here", redir.port);
        cc_http_session_t *s = session(&(cc_http_session_opts_t){
            .transport = k ? CC_HTTP_TRANSPORT_CURL : CC_HTTP_TRANSPORT_AUTO});
        cc_http_request_t q = qs[qi];
        q.url = u;
        cc_http_response_t *r;
        ASSERT_OK(cc_http_request(s, &q, &r));
        ASSERT_EQ(r->status, 200);
        snprintf(seen[k], sizeof seen[k], "%s", r->body);
        redirects[k] = r->redirects;
        /* The echo's port differs between the two runs: compare without
         * the Host line. */
        char *h = strstr(seen[k], "Host: ");
        if (h)
          memmove(h, strstr(h, "\r\n") + 2, strlen(strstr(h, "\r\n") + 2) + 1);
        cc_http_response_free(r);
        ASSERT_EQ(native_count(s), k ? 0 : 1);
        cc_http_session_free(s);
        raw_server_stop(&redir);
        raw_server_stop(&echo);
      }
      if (strcmp(seen[0], seen[1]) != 0)
        CC_TEST_FAIL("%d after %s:\nnative:\n%s\nlibcurl:\n%s", codes[ci],
                     cc_http_method_name(qs[qi].method), seen[0], seen[1]);
      ASSERT_EQ(redirects[0], 1);
      ASSERT_EQ(redirects[1], 1);
    }
  }
}
TEST(redirect_methods_loop) {
  run_loop(t_redirect_methods, NULL);
}

/* A keep-alive connection that the server closes just as it is reused:
 * the GET goes again on a new connection; a POST is not retried. */
static void t_stale(void *arg) {
  (void)arg;
  static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  raw_server_t rs;
  ASSERT_OK(raw_server_start_canned(&rs, ok, sizeof ok - 1, true, 2));
  char u[64];
  snprintf(u, sizeof u, "http://127.0.0.1:%d/x", rs.port);
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r;
  for (int i = 0; i < 2; i++) {
    ASSERT_OK(cc_http_get(s, u, &r));
    ASSERT_STR_EQ(r->body, "ok");
    ASSERT_EQ(r->retries, 0); /* not a retry of the session's policy */
    cc_http_response_free(r);
  }
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.sockets, 2);
  ASSERT_EQ(st.native, 2);
  cc_http_session_free(s);
  raw_server_stop(&rs);
  ASSERT_OK(raw_server_start_canned(&rs, ok, sizeof ok - 1, true, 1));
  snprintf(u, sizeof u, "http://127.0.0.1:%d/x", rs.port);
  s = session(NULL);
  ASSERT_OK(cc_http_get(s, u, &r));
  cc_http_response_free(r);
  cc_http_request_t q = {.method = CC_HTTP_POST, .url = u, .json = "{}"};
  ASSERT_ERR(cc_http_request(s, &q, &r), -ECONNRESET);
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.sockets, 1);
  cc_http_session_free(s);
  raw_server_stop(&rs);
}
TEST(stale_retry_loop) {
  run_loop(t_stale, NULL);
}

/* ---- cookies -------------------------------------------------------------------- */

static void t_cookie_handover(void *arg) {
  (void)arg;
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r;
  ASSERT_OK(cc_http_get(s, url("/echocookie"), &r));
  ASSERT_STR_EQ(r->body, "cookie=\n");
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 1);
  ASSERT_OK(cc_http_get(s, url("/setcookie"), &r)); /* native, jar still empty */
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 2);
  for (int i = 0; i < 3; i++) { /* libcurl from now on, which sends the cookie */
    ASSERT_OK(cc_http_get(s, url("/echocookie"), &r));
    ASSERT_STR_EQ(r->body, "cookie=sess=abc123\n");
    cc_http_response_free(r);
  }
  ASSERT_EQ(native_count(s), 2);
  cc_http_session_free(s);
  /* no_cookies: Set-Cookie changes nothing, everything stays native. */
  s = session(&(cc_http_session_opts_t){.no_cookies = true});
  ASSERT_OK(cc_http_get(s, url("/setcookie"), &r));
  cc_http_response_free(r);
  ASSERT_OK(cc_http_get(s, url("/echocookie"), &r));
  ASSERT_STR_EQ(r->body, "cookie=\n");
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 2);
  cc_http_session_free(s);
}
TEST(cookie_handover_loop) {
  start_nginx(false);
  run_loop(t_cookie_handover, NULL);
  test_nginx_stop(&ngx);
}

static void cookie_is(const char *host, const char *path, const char *sc,
                      const char *want) {
  char out[1024];
  ssize_t n = cc__h1c_cookie_line(host, path, strlen(path), sc, strlen(sc), 1000000, out,
                                  sizeof out);
  if (!want) {
    ASSERT_LT(n, 0);
    return;
  }
  ASSERT_GT(n, 0);
  ASSERT_STR_EQ(out, want);
}

TEST(cookie_lines) {
  cookie_is("example.com", "/a/b", "id=1", "example.com\tFALSE\t/a\tFALSE\t0\tid\t1");
  cookie_is("example.com", "/", "id=1; Path=/x",
            "example.com\tFALSE\t/x\tFALSE\t0\tid\t1");
  cookie_is("example.com", "/top", " id = v v ; path=rel",
            "example.com\tFALSE\t/\tFALSE\t0\tid\tv v");
  cookie_is("www.example.com", "/", "a=b; Domain=.Example.com; HttpOnly",
            "#HttpOnly_.example.com\tTRUE\t/\tFALSE\t0\ta\tb");
  cookie_is("example.com", "/", "a=b; domain=example.com",
            ".example.com\tTRUE\t/\tFALSE\t0\ta\tb");
  cookie_is("example.com", "/", "a=b; Max-Age=60",
            "example.com\tFALSE\t/\tFALSE\t1000060\ta\tb");
  cookie_is("example.com", "/", "a=b; Max-Age=0",
            "example.com\tFALSE\t/\tFALSE\t1\ta\tb");
  cookie_is("example.com", "/", "a=b; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
            "example.com\tFALSE\t/\tFALSE\t1445412480\ta\tb");
  cookie_is("example.com", "/", "a=b; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=5",
            "example.com\tFALSE\t/\tFALSE\t1000005\ta\tb");
  cookie_is("127.0.0.1", "/", "s=1; Secure", "127.0.0.1\tFALSE\t/\tTRUE\t0\ts\t1");
  cookie_is("127.0.0.1", "/", "s=1; Domain=127.0.0.1",
            "127.0.0.1\tFALSE\t/\tFALSE\t0\ts\t1");
  cookie_is("example.com", "/", "a=", "example.com\tFALSE\t/\tFALSE\t0\ta\t");
  cookie_is("example.com", "/", "s=1; Secure", NULL);           /* insecure origin */
  cookie_is("example.com", "/", "a=b; Domain=other.com", NULL); /* not the host's */
  cookie_is("example.com", "/", "a=b; Domain=com", NULL);       /* covers, but a TLD */
  cookie_is("a.example.com", "/", "a=b; Domain=b.example.com", NULL);
  cookie_is("example.com", "/", "novalue", NULL);
  cookie_is("example.com", "/", "=v", NULL);
  cookie_is("example.com", "/", "a=b\tc", NULL);
  char out[8];
  ASSERT_ERR(cc__h1c_cookie_line("example.com", "/", 1, "a=b", 3, 0, out, sizeof out),
             -ENOSPC);
}

/* ---- which transport ------------------------------------------------------------- */

static void t_eligibility(void *arg) {
  (void)arg;
  cc_http_session_t *s = session(&(cc_http_session_opts_t){.ca_file = ngx.cert});
  cc_http_response_t *r;
  ASSERT_OK(cc_http_get(s, url("/index.html"), &r));
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 1);
  /* https: libcurl. */
  char tu[128];
  snprintf(tu, sizeof tu, "https://localhost:%d/index.html", ngx.tls_port);
  ASSERT_OK(cc_http_get(s, tu, &r));
  ASSERT_EQ(r->http_version, 20);
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 1);
  /* A file body: libcurl. */
  char path[] = "/tmp/cc-h1-upload.XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "x", 1), 1);
  close(fd);
  cc_http_request_t q = {.method = CC_HTTP_PUT, .url = url("/echo"), .body_file = path};
  ASSERT_OK(cc_http_request(s, &q, &r));
  cc_http_response_free(r);
  unlink(path);
  ASSERT_EQ(native_count(s), 1);
  /* A redirect from http to https: native, then libcurl for the rest of
   * the chain (counted there). */
  ASSERT_OK(cc_http_get(s, url("/tohttps"), &r));
  ASSERT_EQ(r->status, 200);
  ASSERT_EQ(r->redirects, 1);
  ASSERT_STR_EQ(r->url, tu);
  ASSERT_STR_EQ(r->body, "hello from nginx\n");
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 1);
  /* A redirect chain on http stays native. */
  ASSERT_OK(cc_http_get(s, url("/r3"), &r));
  ASSERT_EQ(r->redirects, 3);
  ASSERT_STR_EQ(r->url, url("/index.html"));
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 2);
  /* A proxy from the environment applies: libcurl (the name cannot
   * resolve, so only the proxy can answer). */
  char p[64];
  snprintf(p, sizeof p, "http://127.0.0.1:%d", ngx.port);
  setenv("http_proxy", p, 1);
  ASSERT_OK(cc_http_get(s, "http://proxied.invalid/index.html", &r));
  ASSERT_EQ(r->status, 200);
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 2);
  /* ... but not to a host no_proxy lists (127.0.0.1 here). */
  ASSERT_OK(cc_http_get(s, url("/index.html"), &r));
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 3);
  setenv("no_proxy", "*", 1);
  ASSERT_ERR(cc_http_get(s, "http://proxied.invalid/index.html", &r), -CC_ERESOLVE);
  ASSERT_EQ(native_count(s), 4);
  unsetenv("http_proxy");
  setenv("no_proxy", "127.0.0.1,localhost", 1);
  cc_http_session_free(s);
  /* A session proxy: libcurl. */
  s = session(&(cc_http_session_opts_t){.proxy = p});
  ASSERT_OK(cc_http_get(s, "http://other.invalid/page4k.html", &r));
  ASSERT_EQ(r->body_len, 4096);
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 0);
  cc_http_session_free(s);
  /* The option, and the environment that overrides it. */
  s = session(&(cc_http_session_opts_t){.transport = CC_HTTP_TRANSPORT_CURL});
  ASSERT_OK(cc_http_get(s, url("/index.html"), &r));
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 0);
  cc_http_session_free(s);
  setenv("CONCUR_HTTP_TRANSPORT", "curl", 1);
  s = session(NULL);
  ASSERT_OK(cc_http_get(s, url("/index.html"), &r));
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 0);
  cc_http_session_free(s);
  setenv("CONCUR_HTTP_TRANSPORT", "auto", 1);
  s = session(&(cc_http_session_opts_t){.transport = CC_HTTP_TRANSPORT_CURL});
  ASSERT_OK(cc_http_get(s, url("/index.html"), &r));
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 1);
  cc_http_session_free(s);
  unsetenv("CONCUR_HTTP_TRANSPORT");
}
TEST(eligibility_loop) {
  start_nginx(true);
  run_loop(t_eligibility, NULL);
  test_nginx_stop(&ngx);
}

/* A plain thread session never takes the native path. */
TEST(thread_session_uses_curl) {
  start_nginx(false);
  unsetenv("CONCUR_HTTP_TRANSPORT");
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r;
  ASSERT_OK(cc_http_get(s, url("/index.html"), &r));
  cc_http_response_free(r);
  ASSERT_EQ(native_count(s), 0);
  cc_http_session_free(s);
  test_nginx_stop(&ngx);
}

/* ---- limits and waiters ----------------------------------------------------------- */

typedef struct job {
  cc_http_session_t *s;
  const char *url;
  int64_t timeout_ms; /* a deadline scope around the request */
  int err;
  int status;
} job_t;

static intptr_t fetch(void *arg) {
  job_t *j = arg;
  cc_timeout_t to;
  if (j->timeout_ms)
    cc_timeout_begin(&to, cc_deadline_in(j->timeout_ms));
  cc_http_response_t *r;
  j->err = cc_http_get(j->s, j->url, &r);
  if (j->timeout_ms)
    cc_timeout_end(&to);
  if (j->err == 0) {
    j->status = r->status;
    cc_http_response_free(r);
  }
  return 0;
}

/* One connection per host: the slow request holds it; a waiter that times
 * out and one that is cancelled take nothing and leave the queue; the
 * waiter behind them gets the slot when the slow request fails. */
static void t_waiters(void *arg) {
  (void)arg;
  cc_http_session_t *s = session(&(cc_http_session_opts_t){.max_conns_per_host = 1});
  job_t slow = {.s = s, .url = url("/slow/big.bin"), .timeout_ms = 700};
  job_t timed = {.s = s, .url = url("/index.html"), .timeout_ms = 150};
  job_t cancelled = {.s = s, .url = url("/index.html")};
  job_t last = {.s = s, .url = url("/index.html")};
  cc_task_t *t[4];
  ASSERT_OK(cc_spawn(&t[0], fetch, &slow));
  ASSERT_OK(cc_sleep(50));
  ASSERT_OK(cc_spawn(&t[1], fetch, &timed));
  ASSERT_OK(cc_spawn(&t[2], fetch, &cancelled));
  ASSERT_OK(cc_spawn(&t[3], fetch, &last));
  ASSERT_OK(cc_sleep(300));
  ASSERT_EQ(timed.err, -ETIMEDOUT);
  ASSERT_OK(cc_cancel(t[2]));
  cc_join(t[2], NULL);
  ASSERT_EQ(cancelled.err, -ECANCELED);
  cc_join(t[0], NULL);
  ASSERT_EQ(slow.err, -ETIMEDOUT);
  cc_join(t[1], NULL);
  cc_join(t[3], NULL);
  ASSERT_EQ(last.err, 0);
  ASSERT_EQ(last.status, 200);
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.sockets, 2); /* the slow one's (closed: cut mid-body) and the last one's */
  ASSERT_EQ(st.watched, 1);
  ASSERT_EQ(st.in_flight, 0);
  cc_http_session_free(s);
}
TEST(waiters_loop) {
  start_nginx(false);
  run_loop(t_waiters, NULL);
  test_nginx_stop(&ngx);
}

/* Two hosts (the same nginx as 127.0.0.1 and as localhost) and a total
 * limit of 2: an idle connection to one host is closed to let the other
 * host's requests through, and every request completes. */
static void t_total_limit(void *arg) {
  (void)arg;
  cc_http_session_t *s = session(&(cc_http_session_opts_t){.max_conns = 2});
  char lu[128];
  snprintf(lu, sizeof lu, "http://localhost:%d/page4k.html", ngx.port);
  job_t jobs[40];
  cc_task_t *ts[40];
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 40; i++) {
      jobs[i] = (job_t){.s = s, .url = (i + round) % 2 ? lu : url("/page4k.html")};
      ASSERT_OK(cc_spawn(&ts[i], fetch, &jobs[i]));
    }
    ASSERT_OK(cc_gather(ts, 40, NULL));
    for (int i = 0; i < 40; i++) {
      ASSERT_EQ(jobs[i].err, 0);
      ASSERT_EQ(jobs[i].status, 200);
    }
  }
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.native, 80);
  ASSERT_LE(st.watched, 2);
  cc_http_session_free(s);
  int conns;
  ASSERT_EQ(test_nginx_count_wait(&ngx, "/page4k.html", NULL, &conns, 80), 80);
}
TEST(total_limit_loop) {
  start_nginx(false);
  run_loop(t_total_limit, NULL);
  test_nginx_stop(&ngx);
}

/* Name and connect failures, with nothing left open. */
static void t_connect_refused_and_dns(void *arg) {
  (void)arg;
  cc_http_session_t *s = session(NULL);
  cc_http_response_t *r = (void *)1;
  ASSERT_ERR(cc_http_get(s, "http://no-such-host.invalid/", &r), -CC_ERESOLVE);
  ASSERT_NULL(r);
  char u[64];
  snprintf(u, sizeof u, "http://127.0.0.1:%d/", test_free_port());
  ASSERT_ERR(cc_http_get(s, u, &r), -ECONNREFUSED);
  snprintf(u, sizeof u, "http://localhost:%d/", test_free_port());
  ASSERT_ERR(cc_http_get(s, u, &r), -ECONNREFUSED);
  ASSERT_EQ(native_count(s), 3);
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.watched, 0);
  ASSERT_EQ(st.in_flight, 0);
  cc_http_session_free(s);
}
TEST(connect_errors_loop) {
  run_loop(t_connect_refused_and_dns, NULL);
}

/* "Connection: close" and HTTP/1.0 answers: the connection is closed as
 * soon as the answer is read, never kept for the next request. */
static void t_conn_close(void *arg) {
  (void)arg;
  static const char *replies[] = {
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
  };
  for (int i = 0; i < 2; i++) {
    raw_server_t rs;
    ASSERT_OK(raw_server_start_canned(&rs, replies[i], strlen(replies[i]), false, 2));
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", rs.port);
    cc_http_session_t *s = session(NULL);
    for (int k = 0; k < 2; k++) {
      cc_http_response_t *r;
      ASSERT_OK(cc_http_get(s, u, &r));
      ASSERT_STR_EQ(r->body, "ok");
      ASSERT_EQ(r->http_version, i ? 10 : 11);
      cc_http_response_free(r);
      cc_http_session_stats_t st;
      cc_http_session_stats(s, &st);
      ASSERT_EQ(st.watched, 0); /* closed at once */
      ASSERT_EQ(st.sockets, (uint64_t)k + 1);
      ASSERT_EQ(st.idle_events, 0);
    }
    cc_http_session_free(s);
    raw_server_stop(&rs);
  }
}
TEST(connection_close_loop) {
  run_loop(t_conn_close, NULL);
}

/* The connect time-out: a listener whose backlog is full (and that never
 * accepts) leaves the handshake unanswered. Both transports give
 * -ETIMEDOUT after about connect_timeout_ms. */
static int g_port;
static void t_connect_timeout(void *arg) {
  (void)arg;
  char u[64];
  snprintf(u, sizeof u, "http://127.0.0.1:%d/", g_port);
  for (int k = 0; k < 2; k++) {
    cc_http_session_t *s = session(&(cc_http_session_opts_t){
        .connect_timeout_ms = 300,
        .transport = k ? CC_HTTP_TRANSPORT_CURL : CC_HTTP_TRANSPORT_AUTO});
    int64_t t0 = cc_now();
    cc_http_response_t *r;
    ASSERT_ERR(cc_http_get(s, u, &r), -ETIMEDOUT);
    int64_t took = cc_now() - t0;
    ASSERT_GE(took, 250);
    ASSERT_LT(took, 3000);
    ASSERT_EQ(native_count(s), k ? 0 : 1);
    cc_http_session_free(s);
  }
}
TEST(connect_timeout_loop) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  ASSERT_OK(bind(l, (struct sockaddr *)&a, sizeof a));
  ASSERT_OK(listen(l, 0));
  ASSERT_OK(getsockname(l, (struct sockaddr *)&a, &len));
  g_port = ntohs(a.sin_port);
  /* Fill the accept queue: later SYNs are dropped. */
  int fill[4];
  for (int i = 0; i < 4; i++) {
    fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(fill[i], (struct sockaddr *)&a, sizeof a);
  }
  usleep(100000);
  run_loop(t_connect_timeout, NULL);
  for (int i = 0; i < 4; i++)
    close(fill[i]);
  close(l);
}
