/* Static files: content types, index.html, ETag/Last-Modified/304,
 * Range/206/416, HEAD, and every way out of the root refused. */
#include <sys/stat.h>

#include "http_test.h"

static char root[64], outside[64];

static void put(const char *dir, const char *name, const char *text) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  ASSERT_NOT_NULL(f);
  fputs(text, f);
  fclose(f);
}

static void make_tree(void) {
  strcpy(root, "/tmp/cc_static_XXXXXX");
  strcpy(outside, "/tmp/cc_outside_XXXXXX");
  ASSERT_NOT_NULL(mkdtemp(root));
  ASSERT_NOT_NULL(mkdtemp(outside));
  put(root, "index.html", "<h1>home</h1>");
  put(root, "style.css", "body{}");
  put(root, "app.js", "var x=1;");
  put(root, "data.bin", "0123456789abcdefghij");
  put(root, "r.txt", "0123456789abcdefghijABCDEFGHIJklmnopqrstKLMNOPQRST");
  char p[256], q[256];
  snprintf(p, sizeof p, "%s/sub", root);
  mkdir(p, 0755);
  put(p, "index.html", "<p>sub</p>");
  put(outside, "secret.txt", "TOP SECRET");
  snprintf(p, sizeof p, "%s/secret.txt", outside);
  snprintf(q, sizeof q, "%s/escape.txt", root);
  ASSERT_EQ(symlink(p, q), 0);
  snprintf(q, sizeof q, "%s/inside.css", root);
  ASSERT_EQ(symlink("style.css", q), 0); /* relative, inside: allowed */
  snprintf(q, sizeof q, "%s/sub/up.txt", root);
  ASSERT_EQ(symlink("../../", q), 0); /* relative, climbing out: refused */
  snprintf(q, sizeof q, "%s/outdir", root);
  ASSERT_EQ(symlink(outside, q), 0);
}

static void remove_tree(void) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s %s", root, outside);
  ASSERT_EQ(system(cmd), 0);
}

static void start(tsrv_t *t) {
  make_tree();
  cc_server_t *s;
  cc_server_opts_t o = {.loops = 1};
  ASSERT_OK(cc_server_new(&s, &o));
  ASSERT_OK(cc_server_static(s, "/", root));
  tsrv_start(t, s);
}

static int req(int port, const char *text, char *buf, size_t cap) {
  int fd = tconnect(port);
  tsend(fd, text);
  int st = tread_resp(fd, buf, cap, NULL);
  close(fd);
  return st;
}

TEST(files_and_types) {
  tsrv_t t;
  start(&t);
  char buf[8192];
  ASSERT_EQ(tget(t.port, "/", buf, sizeof buf), 200);
  ASSERT_NOT_NULL(strstr(buf, "Content-Type: text/html; charset=utf-8\r\n"));
  ASSERT_NOT_NULL(strstr(buf, "<h1>home</h1>"));
  ASSERT_EQ(tget(t.port, "/style.css", buf, sizeof buf), 200);
  ASSERT_NOT_NULL(strstr(buf, "Content-Type: text/css"));
  ASSERT_EQ(tget(t.port, "/app.js", buf, sizeof buf), 200);
  ASSERT_NOT_NULL(strstr(buf, "Content-Type: text/javascript"));
  ASSERT_EQ(tget(t.port, "/sub/", buf, sizeof buf), 200);
  ASSERT_NOT_NULL(strstr(buf, "<p>sub</p>"));
  ASSERT_EQ(tget(t.port, "/sub", buf, sizeof buf), 301);
  ASSERT_NOT_NULL(strstr(buf, "Location: /sub/\r\n"));
  ASSERT_EQ(tget(t.port, "/inside.css", buf, sizeof buf), 200); /* symlink inside: fine */
  ASSERT_EQ(tget(t.port, "/missing.txt", buf, sizeof buf), 404);
  ASSERT_EQ(tget(t.port, "/data%2ebin", buf, sizeof buf), 200); /* encoded dot is a dot */
  tresp_head = true;
  ASSERT_EQ(req(t.port, "HEAD /data.bin HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf),
            200);
  ASSERT_NOT_NULL(strstr(buf, "Content-Length: 20\r\n"));
  ASSERT_NULL(strstr(buf, "0123"));
  tsrv_stop(&t);
  remove_tree();
}

TEST(no_escape_from_root) {
  tsrv_t t;
  start(&t);
  char buf[8192];
  char path[256];
  const char *base = strrchr(outside, '/') + 1;
  /* '@' stands for the outside directory's name. */
  const char *attempts[] = {"/../@/secret.txt",        "/%2e%2e/@/secret.txt",
                            "/%2E%2E/@/secret.txt",    "/..%2f@%2fsecret.txt",
                            "/sub/../../@/secret.txt", "/sub/%2e%2e/%2e%2e/@/secret.txt",
                            "/.%2e/@/secret.txt",      "/..%5c@%5csecret.txt",
                            "/sub/up.txt/@/secret.txt"};
  for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
    const char *at = strchr(attempts[i], '@');
    snprintf(path, sizeof path, "%.*s%s%s", (int)(at - attempts[i]), attempts[i], base,
             at + 1);
    int st = tget(t.port, path, buf, sizeof buf);
    if (st == 200 || strstr(buf, "TOP SECRET"))
      CC_TEST_FAIL("%s was served", path);
    ASSERT_TRUE(st == 400 || st == 404);
  }
  ASSERT_EQ(tget(t.port, "/escape.txt", buf, sizeof buf), 404); /* symlink outside */
  ASSERT_NULL(strstr(buf, "TOP SECRET"));
  ASSERT_EQ(tget(t.port, "/outdir/secret.txt", buf, sizeof buf), 404);
  ASSERT_EQ(tget(t.port, "/sub%2findex.html", buf, sizeof buf), 400); /* encoded slash */
  ASSERT_EQ(tget(t.port, "/index.html%00.txt", buf, sizeof buf), 400);
  ASSERT_EQ(tget(t.port, "/style.css", buf, sizeof buf), 200); /* still serving */
  tsrv_stop(&t);
  remove_tree();
}

TEST(conditional_and_ranges) {
  tsrv_t t;
  start(&t);
  char buf[8192], r[512];
  ASSERT_EQ(tget(t.port, "/data.bin", buf, sizeof buf), 200);
  char *et = strstr(buf, "ETag: ");
  ASSERT_NOT_NULL(et);
  char etag[64];
  ASSERT_EQ(sscanf(et + 6, "%63[^\r]", etag), 1);
  char *lm = strstr(buf, "Last-Modified: ");
  ASSERT_NOT_NULL(lm);
  char lmv[64];
  ASSERT_EQ(sscanf(lm + 15, "%63[^\r]", lmv), 1);
  snprintf(r, sizeof r, "GET /data.bin HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n",
           etag);
  ASSERT_EQ(req(t.port, r, buf, sizeof buf), 304);
  snprintf(r, sizeof r,
           "GET /data.bin HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: %s\r\n\r\n", lmv);
  ASSERT_EQ(req(t.port, r, buf, sizeof buf), 304);
  ASSERT_EQ(req(t.port,
                "GET /data.bin HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"nope\"\r\n\r\n",
                buf, sizeof buf),
            200);
  ASSERT_EQ(req(t.port, "GET /data.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\n\r\n",
                buf, sizeof buf),
            206);
  ASSERT_NOT_NULL(strstr(buf, "Content-Range: bytes 2-5/20\r\n"));
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\n2345"));
  ASSERT_EQ(req(t.port, "GET /data.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-3\r\n\r\n",
                buf, sizeof buf),
            206);
  ASSERT_NOT_NULL(strstr(buf, "\r\n\r\nhij"));
  ASSERT_EQ(req(t.port, "GET /data.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=50-60\r\n\r\n",
                buf, sizeof buf),
            416);
  ASSERT_NOT_NULL(strstr(buf, "Content-Range: bytes */20\r\n"));
  /* More ranges than the cap: the whole file. */
  char many[1024] = "GET /data.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0";
  for (int i = 1; i < 40; i++)
    strcat(many, ",1-1");
  strcat(many, "\r\n\r\n");
  ASSERT_EQ(req(t.port, many, buf, sizeof buf), 200);
  tsrv_stop(&t);
  remove_tree();
}

/* The body of a response in buf (after the header block). */
static const char *body_of(const char *buf) {
  const char *b = strstr(buf, "\r\n\r\n");
  return b ? b + 4 : NULL;
}

TEST(multiple_ranges) {
  tsrv_t t;
  start(&t);
  char buf[8192];
  /* Two ranges: 206 multipart/byteranges (RFC 9110 §14.6). */
  ASSERT_EQ(req(t.port,
                "GET /r.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9,20-29\r\n\r\n", buf,
                sizeof buf),
            206);
  const char *ct = strstr(buf, "Content-Type: multipart/byteranges; boundary=");
  ASSERT_NOT_NULL(ct);
  char bnd[80];
  ASSERT_EQ(sscanf(ct + 45, "%79[^\r]", bnd), 1);
  const char *cl = strstr(buf, "Content-Length: ");
  ASSERT_NOT_NULL(cl);
  const char *body = body_of(buf);
  ASSERT_NOT_NULL(body);
  ASSERT_EQ((size_t)atol(cl + 16), strlen(body));
  char want[1024];
  snprintf(want, sizeof want,
           "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes "
           "0-9/50\r\n\r\n0123456789"
           "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes "
           "20-29/50\r\n\r\nABCDEFGHIJ\r\n--%s--\r\n",
           bnd, bnd, bnd);
  ASSERT_STR_EQ(body, want);
  /* A suffix and an open range, in the order asked; spaces allowed. */
  ASSERT_EQ(req(t.port,
                "GET /r.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-3, 10-12\r\n\r\n", buf,
                sizeof buf),
            206);
  body = body_of(buf);
  ASSERT_NOT_NULL(body);
  const char *p1 = strstr(body, "Content-Range: bytes 47-49/50\r\n\r\nRST\r\n");
  const char *p2 = strstr(body, "Content-Range: bytes 10-12/50\r\n\r\nabc\r\n");
  ASSERT_TRUE(p1 && p2 && p1 < p2);
  /* One satisfiable range among unsatisfiable ones: a plain 206. */
  ASSERT_EQ(req(t.port,
                "GET /r.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=5-6,90-99\r\n\r\n", buf,
                sizeof buf),
            206);
  ASSERT_NOT_NULL(strstr(buf, "Content-Range: bytes 5-6/50\r\n"));
  ASSERT_STR_EQ(body_of(buf), "56");
  /* None satisfiable: 416. */
  ASSERT_EQ(req(t.port,
                "GET /r.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=60-70,80-\r\n\r\n", buf,
                sizeof buf),
            416);
  ASSERT_NOT_NULL(strstr(buf, "Content-Range: bytes */50\r\n"));
  /* Overlapping ranges (range abuse): the whole file, 200. */
  ASSERT_EQ(req(t.port, "GET /r.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9,5-14\r\n\r\n",
                buf, sizeof buf),
            200);
  ASSERT_EQ(strlen(body_of(buf)), 50u);
  /* 17 disjoint ranges, one past the cap of 16: the whole file. */
  char many[1024] = "GET /r.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0";
  for (int i = 1; i < 17; i++)
    snprintf(many + strlen(many), sizeof many - strlen(many), ",%d-%d", 2 * i, 2 * i);
  strcat(many, "\r\n\r\n");
  ASSERT_EQ(req(t.port, many, buf, sizeof buf), 200);
  /* 16: still 206, 16 parts. */
  char *e = strrchr(many, ',');
  strcpy(e, "\r\n\r\n");
  ASSERT_EQ(req(t.port, many, buf, sizeof buf), 206);
  int parts = 0;
  for (const char *q = buf; (q = strstr(q, "Content-Range: bytes ")); q++)
    parts++;
  ASSERT_EQ(parts, 16);
  /* Malformed: ignored. */
  ASSERT_EQ(req(t.port, "GET /r.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,x-y\r\n\r\n",
                buf, sizeof buf),
            200);
  /* HEAD: the same headers, no body. */
  int fd = tconnect(t.port);
  tsend(fd, "HEAD /r.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,3-4\r\n\r\n");
  tresp_head = true;
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, NULL), 206);
  ASSERT_NOT_NULL(strstr(buf, "multipart/byteranges"));
  ASSERT_STR_EQ(body_of(buf), "");
  close(fd);
  /* curl: -r with two ranges, the body as curl saw it. */
  if (thave("curl")) {
    char cmd[256], out[4096];
    snprintf(cmd, sizeof cmd, "curl -s -i -r 0-9,20-29 http://127.0.0.1:%d/r.txt",
             t.port);
    ASSERT_EQ(trun(cmd, out, sizeof out), 0);
    ASSERT_NOT_NULL(strstr(out, "HTTP/1.1 206"));
    ASSERT_NOT_NULL(strstr(out, "multipart/byteranges; boundary="));
    ASSERT_NOT_NULL(strstr(out, "Content-Range: bytes 0-9/50\r\n\r\n0123456789\r\n--"));
    ASSERT_NOT_NULL(strstr(out, "Content-Range: bytes 20-29/50\r\n\r\nABCDEFGHIJ\r\n--"));
  }
  tsrv_stop(&t);
  remove_tree();
}

TEST(big_file_sendfile) {
  make_tree();
  char p[256];
  snprintf(p, sizeof p, "%s/big.bin", root);
  FILE *f = fopen(p, "w");
  ASSERT_NOT_NULL(f);
  for (int i = 0; i < 300000; i++)
    fputc('a' + i % 26, f);
  fclose(f);
  cc_server_t *s;
  cc_server_opts_t o = {.loops = 1};
  ASSERT_OK(cc_server_new(&s, &o));
  ASSERT_OK(cc_server_static(s, "/files", root));
  tsrv_t t;
  tsrv_start(&t, s);
  static char buf[400000];
  size_t n;
  int fd = tconnect(t.port);
  tsend(fd, "GET /files/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, &n), 200);
  char *body = strstr(buf, "\r\n\r\n") + 4;
  ASSERT_EQ(n - (size_t)(body - buf), 300000);
  for (int i = 0; i < 300000; i += 9973)
    ASSERT_EQ(body[i], 'a' + i % 26);
  /* Same connection: a range of it. */
  tsend(fd,
        "GET /files/big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=100000-299999\r\n\r\n");
  ASSERT_EQ(tread_resp(fd, buf, sizeof buf, &n), 206);
  body = strstr(buf, "\r\n\r\n") + 4;
  ASSERT_EQ(n - (size_t)(body - buf), 200000);
  ASSERT_EQ(body[0], 'a' + 100000 % 26);
  close(fd);
  tsrv_stop(&t);
  remove_tree();
}
