/* W9 crawl (WORKLOADS.md): serve the Python documentation on loopback,
 * crawl it from index.html breadth-first with 32 requests in flight, parse
 * every page, count the words of all pages in a process pool.
 *
 *   build/bench/w9_crawl          nginx (a private one, tests/http/nginx_helper.c,
 *                                 its root pointed at the docs) and concur's own
 *                                 server (`concur serve`), each crawled by
 *                                 `concur crawl --mine` and by the Go peer
 *   build/bench/w9_crawl URL      crawls URL instead (concur and Go)
 *
 * The Python peer (aiohttp + BeautifulSoup + multiprocessing.Pool, ~46 s)
 * runs only with BENCH_FULL=1. Every implementation is a separate process
 * timed from its start to its exit (process start-up included, the same
 * for all). One line per run:
 *   W9 crawl impl=<impl> server=<server> pages= wall_s= pages_per_s= top10=w:c,...
 * Exits non-zero if concur's pages or top 10 are not W9's answer. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tests/http/nginx_helper.h"

#define DOCS "/usr/share/doc/python3-doc/html"
#define TOP10                                                                            \
  "the:87952,and:26327,for:17806,python:14452,module:14118,this:12755,method:10610,"     \
  "that:10417,are:9680,with:9374"
#define PAGES 526

/* Runs argv with stdout into buf; returns the exit status; *wall the time. */
static int run(char *const *argv, char *buf, size_t cap, double *wall) {
  int p[2];
  if (pipe(p) < 0)
    return -1;
  double t0 = bench_now();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    int nul = open("/dev/null", O_WRONLY);
    dup2(nul, 2);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(p[1]);
  size_t got = 0;
  ssize_t r;
  while ((r = read(p[0], buf + got, cap - 1 - got)) > 0)
    got += (size_t)r;
  buf[got] = 0;
  close(p[0]);
  int st;
  waitpid(pid, &st, 0);
  *wall = bench_now() - t0;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int bad; /* concur's answer was wrong */

static void concur_run(const char *url, const char *server) {
  char out[8192];
  double wall;
  char *argv[] = {CONCUR_TOOL, "crawl",         (char *)url, "--mine",
                  "-q",        "--concurrency", "32",        NULL};
  int st = run(argv, out, sizeof out, &wall);
  long pages = -1;
  char *p = strstr(out, " pages in ");
  if (p) {
    while (p > out && p[-1] >= '0' && p[-1] <= '9')
      p--;
    pages = atol(p);
  }
  char top[512] = "";
  char *t = strstr(out, "top10: ");
  if (t)
    sscanf(t + 7, "%511s", top);
  printf(
      "W9 crawl impl=concur server=%s pages=%ld wall_s=%.3f pages_per_s=%.0f top10=%s\n",
      server, pages, wall, pages > 0 ? (double)pages / wall : 0, top);
  fflush(stdout);
  if (st != 0 || pages != PAGES || strcmp(top, TOP10) != 0) {
    fprintf(stderr, "w9_crawl: concur's answer is wrong (status %d)\n", st);
    bad = 1;
  }
}

static void peer_run(const char *bin, const char *url, const char *server, bool python) {
  char out[8192];
  double wall;
  /* Debian's python3 (python3-aiohttp, python3-bs4), unless BENCH_PY says */
  char *py = getenv("BENCH_PY") ? getenv("BENCH_PY") : "/usr/bin/python3";
  char *argv[] = {python ? py : (char *)bin, python ? (char *)bin : (char *)url,
                  python ? (char *)url : NULL, NULL};
  int st = run(argv, out, sizeof out, &wall);
  char *nl = strchr(out, '\n');
  if (nl)
    *nl = 0;
  if (st != 0 || strncmp(out, "W9 crawl impl=", 14) != 0) {
    printf("# W9 peer %s failed (status %d)\n", bin, st);
    return;
  }
  /* the peer's own line, with the server named */
  char *rest = strchr(out + 14, ' ');
  printf("%.*s server=%s%s\n", (int)(rest - out), out, server, rest);
  fflush(stdout);
}

static const char *go_peer(void) {
  static char bin[256];
  snprintf(bin, sizeof bin, "/tmp/cc-w9-go-%d", (int)getpid());
  char cmd[1024];
  snprintf(
      cmd, sizeof cmd,
      "cd '%s' && GOCACHE=${GOCACHE:-/tmp/gocache} GOPATH=/usr/share/gocode "
      "GO111MODULE=off GOFLAGS= ${BENCH_GO:-go} build -o '%s' w9_crawl.go >/dev/null "
      "2>&1",
      BENCH_PEERS, bin);
  if (system(cmd) != 0) {
    printf("# W9 Go peer not built (golang-go, golang-golang-x-net-dev)\n");
    return NULL;
  }
  return bin;
}

static void crawl_all(const char *url, const char *server, const char *go, bool full) {
  concur_run(url, server);
  if (go)
    peer_run(go, url, server, false);
  concur_run(url, server);
  if (go)
    peer_run(go, url, server, false);
  if (full) {
    char py[512];
    snprintf(py, sizeof py, "%s/w9_crawl.py", BENCH_PEERS);
    peer_run(py, url, server, true);
  }
}

int main(int argc, char **argv) {
  const char *full_env = getenv("BENCH_FULL");
  bool full = full_env && strcmp(full_env, "1") == 0;
  const char *go = go_peer();
  if (!full)
    printf(
        "# W9 Python peer (aiohttp + bs4 + Pool, ~46 s) skipped: BENCH_FULL=1 runs it\n");
  if (argc > 1) {
    crawl_all(argv[1], "given", go, full);
    goto out;
  }
  if (access(DOCS "/index.html", R_OK) != 0) {
    fprintf(stderr, "w9_crawl: install python3-doc (%s)\n", DOCS);
    return 77;
  }
  /* nginx: the helper's private server, its root replaced by the docs */
  test_nginx_t n;
  if (test_nginx_start_quiet(&n) == 0) {
    char root[256], old[300];
    snprintf(root, sizeof root, "%s/html", n.dir);
    snprintf(old, sizeof old, "%s/html.site", n.dir);
    if (rename(root, old) == 0 && symlink(DOCS, root) == 0) {
      char url[128];
      snprintf(url, sizeof url, "http://127.0.0.1:%d/index.html", n.port);
      crawl_all(url, "nginx", go, full);
    }
    unlink(root);
    test_nginx_stop(&n);
  } else {
    printf("# W9 nginx did not start (nginx-light)\n");
  }
  /* concur's own server, one loop */
  int port = test_free_port();
  pid_t srv = fork();
  if (srv == 0) {
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int nul = open("/dev/null", O_WRONLY);
    dup2(nul, 1);
    dup2(nul, 2);
    execl(CONCUR_TOOL, CONCUR_TOOL, "serve", DOCS, "--port", ps, "--threads", "1",
          (char *)NULL);
    _exit(127);
  }
  usleep(300 * 1000);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/index.html", port);
  crawl_all(url, "concur-serve", go, false);
  kill(srv, SIGTERM);
  waitpid(srv, NULL, 0);
out:
  if (go)
    unlink(go);
  return bad;
}
