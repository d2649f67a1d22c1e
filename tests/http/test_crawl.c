/* `concur crawl` against sites made here and served by concur's own server
 * (custom routes for the traps; a static route for the Python docs). The
 * server counts the requests of every path (with its query), so that the
 * tests can say what was fetched, and how often. */
#include "test.h"

#include <concur.h>

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CONCUR_TOOL
#define CONCUR_TOOL "concur"
#endif
#define DOCS "/usr/share/doc/python3-doc/html"

/* ---- a server on its own thread, counting requests ------------------------ */

#define MAXP 512
typedef struct site {
  cc_server_t *srv;
  pthread_t th;
  int port;
  pthread_mutex_t mu;
  char *paths[MAXP];
  int counts[MAXP];
  int np;
  bool robots_5xx;
  int slow_ms;                   /* delay of /slow/ pages */
  int slow_now, slow_max;        /* /slow/ requests in flight, and the most seen */
  int64_t busy_first, busy_last; /* cc_now() of the /busy.html requests */
} site_t;

static int count_hit(site_t *s, const char *key) {
  pthread_mutex_lock(&s->mu);
  int i = 0;
  for (; i < s->np; i++)
    if (strcmp(s->paths[i], key) == 0)
      break;
  if (i == s->np && s->np < MAXP)
    s->paths[s->np++] = strdup(key);
  int n = i < MAXP ? ++s->counts[i] : 0;
  pthread_mutex_unlock(&s->mu);
  return n;
}

static int hits(site_t *s, const char *key) {
  int n = 0;
  pthread_mutex_lock(&s->mu);
  for (int i = 0; i < s->np; i++)
    if (strcmp(s->paths[i], key) == 0)
      n = s->counts[i];
  pthread_mutex_unlock(&s->mu);
  return n;
}

static int html(cc_req_t *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int html(cc_req_t *req, const char *fmt, ...) {
  char body[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  return cc_resp_send(req, 200, "text/html; charset=utf-8", body, (size_t)n);
}

static int handler(cc_req_t *req, void *arg) {
  site_t *s = arg;
  size_t pl, ql = 0;
  const char *p = cc_req_path(req, &pl);
  const char *q = cc_req_query_string(req, &ql);
  char key[512];
  snprintf(key, sizeof key, "%.*s%s%.*s", (int)pl, p, ql ? "?" : "", (int)ql, q ? q : "");
  int n = count_hit(s, key);
  char path[256];
  snprintf(path, sizeof path, "%.*s", (int)pl, p);
  int port = s->port;
  if (strcmp(path, "/robots.txt") == 0) {
    if (s->robots_5xx)
      return cc_resp_text(req, 503, "down\n");
    return cc_resp_send(req, 200, "text/plain", "User-agent: *\nDisallow: /private/\n",
                        35);
  }
  if (strcmp(path, "/index.html") == 0)
    return html(
        req,
        "<title>home</title><a href=a.html>a</a> <a href='/b.html#x'>b</a>"
        "<a href=/private/secret.html>s</a><a href='/cal?month=1'>cal</a>"
        "<a href=busy.html>busy</a><a href=flaky.html>flaky</a>"
        "<a href=/moved>moved</a><a href=/out>out</a><a href=file.bin>bin</a>"
        "<a href=latin.html>latin</a><a href='index.html#top'>self</a>"
        "<a href='./x/../a.html'>dots</a><a href='HTTP://127.0.0.1:%d/b.html'>case</a>"
        "<a href='http://127.0.0.1:%d/%%61.html'>escaped</a>"
        "<a href='mailto:x@example.com'>mail</a>",
        port, port);
  if (strcmp(path, "/a.html") == 0)
    return html(req, "<title>a</title><a href=b.html>b</a><a href=index.html>home</a>");
  if (strcmp(path, "/b.html") == 0)
    return html(req, "<title>b</title><a href=a.html>a</a><a href=/>root</a>");
  if (strcmp(path, "/") == 0)
    return html(req, "<title>root</title><a href=index.html>home</a>");
  if (strcmp(path, "/a2.html") == 0)
    return html(req, "<title>a2</title>");
  if (strcmp(path, "/cal") == 0) {
    const char *m = cc_req_query(req, "month", NULL);
    int month = m ? atoi(m) : 0;
    return html(req, "<title>month %d</title><a href='/cal?month=%d'>next</a>", month,
                month + 1);
  }
  if (strcmp(path, "/busy.html") == 0) {
    if (n == 1)
      s->busy_first = cc_now();
    else
      s->busy_last = cc_now();
    if (n == 1) {
      cc_resp_header(req, "Retry-After", "1");
      return cc_resp_text(req, 429, "slow down\n");
    }
    return html(req, "<title>busy</title>");
  }
  if (strcmp(path, "/flaky.html") == 0) {
    if (n == 1)
      return cc_resp_text(req, 500, "oops\n");
    return html(req, "<title>flaky</title>");
  }
  if (strcmp(path, "/moved") == 0) {
    cc_resp_header(req, "Location", "/a2.html");
    return cc_resp_text(req, 301, "moved\n");
  }
  if (strcmp(path, "/out") == 0) {
    char loc[128];
    snprintf(loc, sizeof loc, "http://localhost:%d/offsite.html", port);
    cc_resp_header(req, "Location", loc);
    return cc_resp_text(req, 302, "away\n");
  }
  if (strcmp(path, "/file.bin") == 0)
    return cc_resp_send(req, 200, "application/octet-stream", "\x00\x01<a href=z.html>",
                        17);
  if (strcmp(path, "/latin.html") == 0) {
    const char b[] = "<meta charset=\"iso-8859-1\"><title>caf\xe9</title><p>d\xe9j\xe0";
    return cc_resp_send(req, 200, "text/html", b, sizeof b - 1);
  }
  if (strncmp(path, "/slow/", 6) == 0) {
    int k = atoi(path + 6);
    pthread_mutex_lock(&s->mu);
    if (++s->slow_now > s->slow_max)
      s->slow_max = s->slow_now;
    pthread_mutex_unlock(&s->mu);
    if (s->slow_ms)
      cc_sleep(s->slow_ms);
    pthread_mutex_lock(&s->mu);
    s->slow_now--;
    pthread_mutex_unlock(&s->mu);
    char links[256] = "";
    if (2 * k + 2 < 60)
      snprintf(links, sizeof links, "<a href=/slow/%d>l</a><a href=/slow/%d>r</a>",
               2 * k + 1, 2 * k + 2);
    else if (2 * k + 1 < 60)
      snprintf(links, sizeof links, "<a href=/slow/%d>l</a>", 2 * k + 1);
    return html(req, "<title>slow %d</title>%s", k, links);
  }
  return cc_resp_text(req, 404, "no\n");
}

static void *site_thread(void *arg) {
  site_t *s = arg;
  cc_server_run(s->srv);
  return NULL;
}

static void site_start(site_t *s) {
  pthread_mutex_init(&s->mu, NULL);
  cc_server_opts_t o = {.loops = 1, .shutdown_grace_ms = 200};
  if (cc_server_new(&s->srv, &o) < 0 ||
      cc_server_route(s->srv, "GET", "/*", handler, s) < 0 ||
      cc_server_listen(s->srv, "127.0.0.1", 0) < 0) {
    fprintf(stderr, "server setup failed\n");
    exit(1);
  }
  s->port = cc_server_port(s->srv);
  pthread_create(&s->th, NULL, site_thread, s);
}

static void site_stop(site_t *s) {
  cc_server_shutdown(s->srv);
  pthread_join(s->th, NULL);
  cc_server_free(s->srv);
}

static void site_free(site_t *s) {
  for (int i = 0; i < s->np; i++)
    free(s->paths[i]);
  pthread_mutex_destroy(&s->mu);
}

/* ---- running the crawler ----------------------------------------------------- */

/* Starts `concur crawl args...` with stdout to out_file, stderr to /dev/null. */
static pid_t crawl_start(const char *out_file, char *const *args) {
  pid_t pid = fork();
  if (pid == 0) {
    freopen(out_file, "w", stdout);
    freopen("/dev/null", "w", stderr);
    char *argv[40] = {CONCUR_TOOL, "crawl"};
    int i = 2;
    for (; args[i - 2] && i < 39; i++)
      argv[i] = args[i - 2];
    argv[i] = NULL;
    execv(CONCUR_TOOL, argv);
    _exit(127);
  }
  return pid;
}

static int crawl_wait(pid_t pid) {
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return strdup("");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = calloc(1, (size_t)n + 1);
  if (fread(b, 1, (size_t)n, f) != (size_t)n)
    b[0] = 0;
  fclose(f);
  return b;
}

static void tmpname(char *buf, size_t cap, const char *what) {
  snprintf(buf, cap, "/tmp/cc_crawl_%d_%s", (int)getpid(), what);
}

/* ---- the traps --------------------------------------------------------------- */

TEST(traps) {
  site_t s = {0};
  site_start(&s);
  char url[128], out[128], jl[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/index.html", s.port);
  tmpname(out, sizeof out, "out");
  tmpname(jl, sizeof jl, "jl");
  pid_t pid = crawl_start(out, (char *[]){url, "--max-depth", "5", "--out", jl,
                                          "--retries", "3", "-q", NULL});
  int st = crawl_wait(pid);
  site_stop(&s);
  char *o = slurp(out), *j = slurp(jl);
  ASSERT_EQ(st, 0);
  ASSERT_EQ(hits(&s, "/robots.txt"), 1);
  ASSERT_EQ(hits(&s, "/index.html"), 1); /* fragment, self link */
  ASSERT_EQ(hits(&s, "/a.html"), 1);     /* cycle, dot segments, %61 */
  ASSERT_EQ(hits(&s, "/b.html"), 1);     /* cycle, scheme case, fragment */
  ASSERT_EQ(hits(&s, "/"), 1);
  ASSERT_EQ(hits(&s, "/private/secret.html"), 0); /* robots.txt */
  ASSERT_EQ(hits(&s, "/busy.html"), 2);           /* 429 then 200 */
  ASSERT_GE(s.busy_last - s.busy_first, 900);     /* after Retry-After: 1 */
  ASSERT_EQ(hits(&s, "/flaky.html"), 2);          /* 500 then 200 */
  ASSERT_EQ(hits(&s, "/moved"), 1);
  ASSERT_EQ(hits(&s, "/a2.html"), 1); /* redirect within the site */
  ASSERT_EQ(hits(&s, "/offsite.html"), 0);
  ASSERT_EQ(hits(&s, "/file.bin"), 1);
  ASSERT_EQ(hits(&s, "/z.html"), 0); /* a binary body is not parsed */
  ASSERT_EQ(hits(&s, "/cal?month=1"), 1);
  ASSERT_EQ(hits(&s, "/cal?month=5"), 1); /* depth 5 */
  ASSERT_EQ(hits(&s, "/cal?month=6"), 0); /* depth 6 */
  ASSERT_NOT_NULL(strstr(j, "\"title\":\"caf\xc3\xa9\""));
  ASSERT_NOT_NULL(strstr(j, "\"error\":\"robots.txt\""));
  ASSERT_NOT_NULL(strstr(j, "\"error\":\"redirect off-site\""));
  ASSERT_NOT_NULL(strstr(o, "by robots.txt"));
  unlink(out);
  unlink(jl);
  free(o);
  free(j);
  site_free(&s);
}

TEST(calendar_max_pages) {
  site_t s = {0};
  site_start(&s);
  char url[128], out[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/cal?month=1", s.port);
  tmpname(out, sizeof out, "cal");
  pid_t pid = crawl_start(out, (char *[]){url, "--max-pages", "20", "-q", NULL});
  ASSERT_EQ(crawl_wait(pid), 0);
  site_stop(&s);
  ASSERT_EQ(hits(&s, "/cal?month=20"), 1);
  ASSERT_EQ(hits(&s, "/cal?month=21"), 0);
  char *o = slurp(out);
  ASSERT_NOT_NULL(strstr(o, "20 pages"));
  free(o);
  unlink(out);
  site_free(&s);
}

TEST(robots_5xx_disallows_all) {
  site_t s = {.robots_5xx = true};
  site_start(&s);
  char url[128], out[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/index.html", s.port);
  tmpname(out, sizeof out, "r5");
  pid_t pid = crawl_start(out, (char *[]){url, "-q", NULL});
  ASSERT_EQ(crawl_wait(pid), 0);
  ASSERT_EQ(hits(&s, "/robots.txt"), 1);
  ASSERT_EQ(hits(&s, "/index.html"), 0);
  /* --ignore-robots: fetched */
  pid = crawl_start(out,
                    (char *[]){url, "-q", "--ignore-robots", "--max-depth", "0", NULL});
  ASSERT_EQ(crawl_wait(pid), 0);
  site_stop(&s);
  ASSERT_EQ(hits(&s, "/index.html"), 1);
  unlink(out);
  site_free(&s);
}

/* SIGKILL in the middle, then the same command again: everything is
 * fetched, and nothing that was finished before the kill is fetched again
 * (only what was in flight at the kill, at most --concurrency pages). */
TEST(resume_after_sigkill) {
  site_t s = {.slow_ms = 40};
  site_start(&s);
  char url[128], out[128], state[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/slow/0", s.port);
  tmpname(out, sizeof out, "res");
  tmpname(state, sizeof state, "state");
  unlink(state);
  char *args[] = {url,  "--state",         state, "--concurrency", "2",
                  "-q", "--ignore-robots", NULL};
  pid_t pid = crawl_start(out, args);
  usleep(500 * 1000);
  kill(pid, SIGKILL);
  ASSERT_EQ(crawl_wait(pid), 128 + SIGKILL);
  /* what the state file says was in flight (F without D) */
  char *st = slurp(state);
  int done_before = 0;
  for (char *l = st; (l = strstr(l, "\nD\t")); l++)
    done_before++;
  if (strncmp(st, "D\t", 2) == 0)
    done_before++;
  ASSERT_GT(done_before, 0);
  free(st);
  pid = crawl_start(out, args);
  ASSERT_EQ(crawl_wait(pid), 0);
  site_stop(&s);
  int twice = 0;
  for (int k = 0; k < 60; k++) {
    char key[32];
    snprintf(key, sizeof key, "/slow/%d", k);
    int h = hits(&s, key);
    ASSERT_GE(h, 1);
    ASSERT_LE(h, 2);
    twice += h == 2;
  }
  ASSERT_LE(twice, 2); /* --concurrency 2: the pages in flight at the kill */
  unlink(out);
  unlink(state);
  site_free(&s);
}

/* Ctrl-C: in-flight requests cancelled, the finished pages all in the
 * output (whole lines), the summary printed, exit status 130. */
TEST(ctrl_c) {
  site_t s = {.slow_ms = 40};
  site_start(&s);
  char url[128], out[128], jl[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/slow/0", s.port);
  tmpname(out, sizeof out, "int");
  tmpname(jl, sizeof jl, "intjl");
  pid_t pid = crawl_start(out, (char *[]){url, "--concurrency", "2", "-q", "--out", jl,
                                          "--ignore-robots", NULL});
  usleep(400 * 1000);
  kill(pid, SIGINT);
  ASSERT_EQ(crawl_wait(pid), 130);
  site_stop(&s);
  char *o = slurp(out), *j = slurp(jl);
  ASSERT_NOT_NULL(strstr(o, "interrupted: "));
  int lines = 0;
  for (char *p = j; (p = strchr(p, '\n')); p++)
    lines++;
  ASSERT_GT(lines, 0);
  ASSERT_LT(lines, 59);
  ASSERT_EQ(j[strlen(j) - 1], '\n');
  ASSERT_EQ(j[strlen(j) - 2], '}');
  free(o);
  free(j);
  unlink(out);
  unlink(jl);
  site_free(&s);
}

/* --allow-domain: the redirect to localhost is followed then; --max-bytes
 * stops the calendar early. */
TEST(allow_domain_and_max_bytes) {
  site_t s = {0};
  site_start(&s);
  char url[128], out[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/out", s.port);
  tmpname(out, sizeof out, "ad");
  pid_t pid =
      crawl_start(out, (char *[]){url, "--allow-domain", "localhost", "-q", NULL});
  ASSERT_EQ(crawl_wait(pid), 0);
  ASSERT_EQ(hits(&s, "/offsite.html"), 1);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/cal?month=1", s.port);
  pid = crawl_start(
      out, (char *[]){url, "--max-bytes", "300", "--concurrency", "1", "-q", NULL});
  ASSERT_EQ(crawl_wait(pid), 0);
  site_stop(&s);
  /* each month page is about 60 bytes: stopped after about 5 */
  ASSERT_EQ(hits(&s, "/cal?month=3"), 1);
  ASSERT_EQ(hits(&s, "/cal?month=12"), 0);
  unlink(out);
  site_free(&s);
}

/* --per-host 1 --delay 30: one request at a time to the host, and at
 * least 30 ms between the starts of two. */
TEST(per_host_cap_and_delay) {
  site_t s = {.slow_ms = 10};
  site_start(&s);
  char url[128], out[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/slow/0", s.port);
  tmpname(out, sizeof out, "ph");
  int64_t t0 = cc_now();
  pid_t pid =
      crawl_start(out, (char *[]){url, "--per-host", "1", "--delay", "30", "--max-pages",
                                  "8", "-q", "--ignore-robots", NULL});
  ASSERT_EQ(crawl_wait(pid), 0);
  int64_t el = cc_now() - t0;
  site_stop(&s);
  ASSERT_EQ(s.slow_max, 1);
  ASSERT_GE(el, 7 * 30);
  int total = 0;
  for (int k = 0; k < 60; k++) {
    char key[32];
    snprintf(key, sizeof key, "/slow/%d", k);
    total += hits(&s, key);
  }
  ASSERT_EQ(total, 8);
  unlink(out);
  site_free(&s);
}

/* ---- the Python documentation (W9's answer) -------------------------------- */

static void *docs_thread(void *arg) {
  cc_server_run(arg);
  return NULL;
}

TEST(python_docs) {
  if (access(DOCS "/index.html", R_OK) != 0)
    SKIP("python3-doc is not installed (" DOCS ")");
  cc_server_t *srv;
  cc_server_opts_t o = {.loops = 1, .shutdown_grace_ms = 200};
  ASSERT_OK(cc_server_new(&srv, &o));
  ASSERT_OK(cc_server_static(srv, "/", DOCS));
  ASSERT_OK(cc_server_listen(srv, "127.0.0.1", 0));
  pthread_t th;
  pthread_create(&th, NULL, docs_thread, srv);
  char url[128], out[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/index.html", cc_server_port(srv));
  tmpname(out, sizeof out, "docs");
  pid_t pid = crawl_start(out, (char *[]){url, "--mine", "-q", NULL});
  int st = crawl_wait(pid);
  cc_server_shutdown(srv);
  pthread_join(th, NULL);
  cc_server_free(srv);
  char *r = slurp(out);
  ASSERT_EQ(st, 0);
  ASSERT_NOT_NULL(strstr(r, "526 pages in"));
  ASSERT_NOT_NULL(strstr(r, "errors: http_404=1"));
  ASSERT_NOT_NULL(strstr(r, "top10: the:87952,and:26327,for:17806,python:14452,"
                            "module:14118,this:12755,method:10610,that:10417,are:9680,"
                            "with:9374\n"));
  free(r);
  unlink(out);
}
