/* Real clients against the server: curl (keep-alive reuse, HTTP/1.0,
 * chunked upload, Range, If-None-Match), Python's http.client and requests
 * (Debian's /usr/bin/python3), wrk for a short bounded load, and 10,000 idle
 * keep-alive connections held at once. A client that is not installed
 * skips its case. */
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "http_test.h"

#define PY "/usr/bin/python3"

static char root[64];

static int h_plain(cc_req_t *r, void *arg) {
  return cc_resp_send(r, 200, "text/plain", "Hello, World!", 13);
}

static int h_echo(cc_req_t *r, void *arg) {
  size_t n;
  const void *b = cc_req_body(r, &n);
  char len[32];
  snprintf(len, sizeof len, "%zu", n);
  cc_resp_header(r, "X-Body-Length", len);
  return cc_resp_send(r, 200, "application/octet-stream", b, n);
}

static int h_item(cc_req_t *r, void *arg) {
  char b[256];
  const char *q = cc_req_query(r, "q", NULL);
  int n = snprintf(b, sizeof b, "item %s q=%s", cc_req_param(r, "id", NULL), q ? q : "");
  return cc_resp_send(r, 200, "text/plain", b, (size_t)n);
}

static void start(tsrv_t *t) {
  strcpy(root, "/tmp/cc_clients_XXXXXX");
  ASSERT_NOT_NULL(mkdtemp(root));
  char p[128];
  snprintf(p, sizeof p, "%s/file.txt", root);
  FILE *f = fopen(p, "w");
  ASSERT_NOT_NULL(f);
  fputs("abcdefghijklmnopqrstuvwxyz", f);
  fclose(f);
  cc_server_t *s;
  cc_server_opts_t o = {.loops = 2};
  ASSERT_OK(cc_server_new(&s, &o));
  ASSERT_OK(cc_server_route(s, "GET", "/plaintext", h_plain, NULL));
  ASSERT_OK(cc_server_route(s, "POST", "/echo", h_echo, NULL));
  ASSERT_OK(cc_server_route(s, "GET", "/items/{id}", h_item, NULL));
  ASSERT_OK(cc_server_static(s, "/static", root));
  tsrv_start(t, s);
}

static void finish(tsrv_t *t) {
  tsrv_stop(t);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", root);
  ASSERT_EQ(system(cmd), 0);
}

TEST(curl_all) {
  if (!thave("curl"))
    SKIP("curl is not installed");
  tsrv_t t;
  start(&t);
  static char out[65536];
  char cmd[1024];
  /* Keep-alive: the second request reuses the connection. */
  snprintf(
      cmd, sizeof cmd,
      "curl -sv http://127.0.0.1:%d/plaintext http://127.0.0.1:%d/items/7?q=a%%20b 2>&1",
      t.port, t.port);
  ASSERT_EQ(trun(cmd, out, sizeof out), 0);
  ASSERT_NOT_NULL(strstr(out, "Hello, World!"));
  ASSERT_NOT_NULL(strstr(out, "item 7 q=a b"));
  ASSERT_TRUE(strstr(out, "Re-using existing connection") ||
              strstr(out, "Reusing existing"));
  /* HTTP/1.0. */
  snprintf(cmd, sizeof cmd, "curl -s0 -i http://127.0.0.1:%d/plaintext", t.port);
  ASSERT_EQ(trun(cmd, out, sizeof out), 0);
  ASSERT_NOT_NULL(strstr(out, "HTTP/1.1 200 OK"));
  ASSERT_NOT_NULL(strstr(out, "Connection: close"));
  /* Chunked upload of 100 KB (curl sends Expect: 100-continue too). */
  char path[128];
  snprintf(path, sizeof path, "%s/upload.bin", root);
  FILE *f = fopen(path, "w");
  for (int i = 0; i < 100000; i++)
    fputc('0' + i % 10, f);
  fclose(f);
  snprintf(cmd, sizeof cmd,
           "curl -s -i -H 'Transfer-Encoding: chunked' --data-binary @%s "
           "http://127.0.0.1:%d/echo "
           "| grep -i x-body-length",
           path, t.port);
  ASSERT_EQ(trun(cmd, out, sizeof out), 0);
  ASSERT_NOT_NULL(strstr(out, "100000"));
  /* Range and If-None-Match on a static file. */
  snprintf(cmd, sizeof cmd, "curl -s -r 3-6 http://127.0.0.1:%d/static/file.txt", t.port);
  ASSERT_EQ(trun(cmd, out, sizeof out), 0);
  ASSERT_STR_EQ(out, "defg");
  snprintf(cmd, sizeof cmd,
           "curl -s -o /dev/null -w '%%{http_code}' -H \"If-None-Match: $(curl -sI "
           "http://127.0.0.1:%d/static/file.txt | tr -d '\\r' | sed -n 's/^ETag: //p')\" "
           "http://127.0.0.1:%d/static/file.txt",
           t.port, t.port);
  ASSERT_EQ(trun(cmd, out, sizeof out), 0);
  ASSERT_STR_EQ(out, "304");
  finish(&t);
}

static void python(tsrv_t *t, const char *module, const char *script) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, PY " -c 'import %s' 2>/dev/null", module);
  if (system(cmd) != 0)
    SKIP("%s with python3-%s is not installed", PY, module);
  snprintf(cmd, sizeof cmd, "PORT=%d " PY " - <<'EOF'\n%s\nEOF\n", t->port, script);
  char out[4096];
  int rc = trun(cmd, out, sizeof out);
  if (rc != 0 || !strstr(out, "OK"))
    CC_TEST_FAIL("python client failed (%d): %s", rc, out);
}

TEST(python_http_client) {
  if (access(PY, X_OK) != 0)
    SKIP("no " PY);
  tsrv_t t;
  start(&t);
  python(
      &t, "http.client",
      "import http.client, os\n"
      "c = http.client.HTTPConnection('127.0.0.1', int(os.environ['PORT']), timeout=10)\n"
      "for i in range(20):\n"
      "    c.request('GET', '/plaintext')\n"
      "    r = c.getresponse(); assert r.status == 200 and r.read() == b'Hello, World!'\n"
      "c.request('POST', '/echo', body=b'x' * 5000)\n"
      "r = c.getresponse(); assert r.read() == b'x' * 5000\n"
      "c.request('GET', '/nope'); r = c.getresponse(); r.read(); assert r.status == 404\n"
      "c.request('HEAD', '/plaintext'); r = c.getresponse(); assert r.read() == b''\n"
      "print('OK')\n");
  finish(&t);
}

TEST(python_requests) {
  if (access(PY, X_OK) != 0)
    SKIP("no " PY);
  tsrv_t t;
  start(&t);
  python(&t, "requests",
         "import requests, os\n"
         "b = 'http://127.0.0.1:%s' % os.environ['PORT']\n"
         "s = requests.Session()\n"
         "for i in range(10):\n"
         "    r = s.get(b + '/items/%d' % i, params={'q': 'x y&z'})\n"
         "    assert r.text == 'item %d q=x y&z' % i, r.text\n"
         "r = s.post(b + '/echo', data=(c for c in [b'ab', b'cd']))\n" /* chunked */
         "assert r.content == b'abcd', r.content\n"
         "r = s.delete(b + '/echo'); assert r.status_code == 405 and 'POST' in "
         "r.headers['Allow']\n"
         "r = s.get(b + '/static/file.txt', headers={'Range': 'bytes=0-2'})\n"
         "assert r.status_code == 206 and r.content == b'abc'\n"
         "print('OK')\n");
  finish(&t);
}

TEST(wrk_short_load) {
  if (!thave("wrk"))
    SKIP("wrk is not installed");
  tsrv_t t;
  start(&t);
  char cmd[512], out[8192];
  snprintf(cmd, sizeof cmd, "wrk -t1 -c32 -d1s http://127.0.0.1:%d/plaintext 2>&1",
           t.port);
  ASSERT_EQ(trun(cmd, out, sizeof out), 0);
  ASSERT_NULL(strstr(out, "Non-2xx"));
  ASSERT_NULL(strstr(out, "Socket errors"));
  long long n = 0;
  char *p = strstr(out, " requests in ");
  ASSERT_NOT_NULL(p);
  while (p > out && p[-1] >= '0' && p[-1] <= '9')
    p--;
  n = atoll(p);
  ASSERT_GT(n, 100);
  cc_server_stats_t st;
  cc_server_stats(t.srv, &st);
  ASSERT_GE(st.requests, (uint64_t)n);
  finish(&t);
}

/* The clients live in a child process, so that each side needs only its own
 * 10,000 descriptors (the hard RLIMIT_NOFILE here may be 20,000). */
static int idle_fds[10000];

TEST(idle_10000) {
  int conns = cc_test_sanitized() ? 2000 : 10000;
  struct rlimit old, rl;
  getrlimit(RLIMIT_NOFILE, &old);
  rl = old;
  rl.rlim_cur = rl.rlim_max;
  if (rl.rlim_max < (rlim_t)conns + 200 || setrlimit(RLIMIT_NOFILE, &rl) != 0)
    SKIP("RLIMIT_NOFILE cannot be raised to %d", conns + 200);
  tsrv_t t;
  start(&t);
  int up[2], down[2];
  ASSERT_EQ(pipe(up), 0);
  ASSERT_EQ(pipe(down), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char buf[1024];
    for (int i = 0; i < conns; i++) {
      idle_fds[i] = tconnect(t.port);
      tsend(idle_fds[i], "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
      if (tread_resp(idle_fds[i], buf, sizeof buf, NULL) != 200)
        _exit(2);
    }
    char c = 1;
    if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1)
      _exit(3);
    /* Every one is still usable. */
    for (int i = 0; i < conns; i += 97) {
      tsend(idle_fds[i], "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
      if (tread_resp(idle_fds[i], buf, sizeof buf, NULL) != 200)
        _exit(4);
    }
    _exit(0);
  }
  close(up[1]);
  close(down[0]);
  char c;
  ASSERT_EQ(read(up[0], &c, 1), 1);
  cc_server_stats_t st;
  cc_server_stats(t.srv, &st);
  ASSERT_EQ(st.live_conns, (size_t)conns);
  char buf[1024];
  ASSERT_EQ(tget(t.port, "/plaintext", buf, sizeof buf), 200); /* a new one too */
  ASSERT_EQ(write(down[1], &c, 1), 1);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  close(up[0]);
  close(down[1]);
  finish(&t);
  setrlimit(RLIMIT_NOFILE, &old);
}
