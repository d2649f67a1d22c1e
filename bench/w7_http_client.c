/* W7 http-client: N GETs of the same 4 KiB page from a local nginx on
 * loopback, 64 requests in flight over keep-alive connections, and the
 * peers on the same server in the same run: Go net/http (default
 * GOMAXPROCS and GOMAXPROCS=1), `curl --parallel --parallel-max 64` over a
 * URL list, aiohttp (asyncio and uvloop) and wrk.
 *
 *   w7_http_client [N (100,000; 20,000 with BENCH_QUICK=1)] [URL]
 *
 * With URL, that server is used (and every body must have the length of the
 * first one); otherwise a private nginx (one worker, no access log) serves
 * /page4k.html. BENCH_W7_PEERS=0 runs concur alone.
 *
 * concur's line also gives its client CPU per request (user + system time
 * of this process over the run) and the poller calls per request (epoll_ctl
 * made by the loop, which the session keeps at about zero by leaving
 * keep-alive sockets registered between requests).
 *
 * Prints: W7 http-client impl=<system> n=... wall_s=... rps=...
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <concur.h>

#include "../tests/http/nginx_helper.h"
#include "common.h"
#include "loop/loop_int.h"

#define INFLIGHT 64

static long n_total;
static long next_i;
static long bad;
static long want = -1;
static const char *url;

static intptr_t worker(void *arg) {
  cc_http_session_t *s = arg;
  while (next_i < n_total) {
    next_i++;
    cc_http_response_t *r;
    int rc = cc_http_get(s, url, &r);
    if (rc < 0) {
      fprintf(stderr, "w7: %s\n", cc_strerror(rc));
      bad++;
      continue;
    }
    if (want < 0)
      want = (long)r->body_len;
    if (r->status != 200 || (long)r->body_len != want)
      bad++;
    cc_http_response_free(r);
  }
  return 0;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static intptr_t concur_main(void *arg) {
  cc_http_session_t *s;
  int rc = cc_http_session_new(&s, &(cc_http_session_opts_t){.max_conns = INFLIGHT});
  if (rc < 0)
    return rc;
  /* Warm-up: the connection pool and the free lists (not timed). */
  cc_task_t *ts[INFLIGHT];
  long n_run = n_total;
  n_total = INFLIGHT * 4;
  for (int i = 0; i < INFLIGHT; i++)
    cc_spawn(&ts[i], worker, s);
  cc_gather(ts, INFLIGHT, NULL);
  n_total = n_run;
  next_i = 0;
  uint64_t ctl0 = cc__tl_loop->poller_ctls;
  double c0 = cpu_s(), t0 = bench_now();
  for (int i = 0; i < INFLIGHT; i++)
    cc_spawn(&ts[i], worker, s);
  rc = cc_gather(ts, INFLIGHT, NULL);
  double wall = bench_now() - t0, cpu = cpu_s() - c0;
  uint64_t ctls = cc__tl_loop->poller_ctls - ctl0;
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  cc_http_session_free(s);
  printf("W7 http-client impl=concur n=%ld wall_s=%.3f rps=%.0f cpu_us_per_req=%.2f "
         "epoll_ctl_per_req=%.4f conns=%llu\n",
         n_total, wall, (double)n_total / wall, cpu * 1e6 / (double)n_total,
         (double)ctls / (double)n_total, (unsigned long long)st.sockets);
  fflush(stdout);
  return rc;
}

static double children_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Runs a shell command and returns its exit status (-1 when it could not
 * run), its wall time in *wall and its CPU time (user + system, from
 * RUSAGE_CHILDREN) in *cpu. Its output goes to `capture` when given, else
 * its result lines are copied to stdout with the peer's client CPU per
 * request appended (cpu_us_per_req, from the line's n=). */
static int run_peer(const char *cmd, double *wall, double *cpu, char *capture,
                    size_t cap) {
  double t0 = bench_now(), c0 = children_cpu_s();
  FILE *p = popen(cmd, "r");
  if (!p)
    return -1;
  char line[1024], held[8][1024];
  int nheld = 0;
  size_t used = 0;
  while (fgets(line, sizeof line, p)) {
    if (capture) {
      size_t l = strlen(line);
      if (used + l < cap) {
        memcpy(capture + used, line, l + 1);
        used += l;
      }
    } else if (strncmp(line, "W7 ", 3) == 0 && nheld < 8) {
      snprintf(held[nheld++], sizeof held[0], "%s", line);
    } else {
      fputs(line, stdout);
    }
  }
  int st = pclose(p);
  *wall = bench_now() - t0;
  double c = children_cpu_s() - c0;
  if (cpu)
    *cpu = c;
  for (int i = 0; i < nheld; i++) {
    char *nl = strchr(held[i], '\n');
    if (nl)
      *nl = '\0';
    const char *np = strstr(held[i], " n=");
    long n = np ? strtol(np + 3, NULL, 10) : 0;
    if (n > 0)
      printf("%s cpu_us_per_req=%.2f\n", held[i], c * 1e6 / (double)n);
    else
      printf("%s\n", held[i]);
  }
  fflush(stdout);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void peers(long n, const char *u, long body) {
  const char *pdir = BENCH_PEERS_DIR;
  const char *py = getenv("BENCH_PYTHON") ? getenv("BENCH_PYTHON") : "/usr/bin/python3";
  bool quick = getenv("BENCH_QUICK") && strcmp(getenv("BENCH_QUICK"), "1") == 0;
  char cmd[2048], out[8192];
  double wall;
  int st;
  /* Go: built once, outside the clock. */
  char gobin[128];
  snprintf(gobin, sizeof gobin, "/tmp/w7_http_client_go.%d", (int)getpid());
  snprintf(cmd, sizeof cmd,
           "cd /tmp && GO111MODULE=off GOFLAGS= GOCACHE=${GOCACHE:-/tmp/gocache} go "
           "build -o %s "
           "%s/w7_http_client.go >&2",
           gobin, pdir);
  if (run_peer(cmd, &wall, NULL, NULL, 0) == 0) {
    snprintf(cmd, sizeof cmd, "%s %ld '%s' %ld", gobin, n, u, body);
    if ((st = run_peer(cmd, &wall, NULL, NULL, 0)) != 0)
      fprintf(stderr, "# go peer failed (%d)\n", st);
    snprintf(cmd, sizeof cmd, "GOMAXPROCS=1 %s %ld '%s' %ld", gobin, n, u, body);
    if ((st = run_peer(cmd, &wall, NULL, NULL, 0)) != 0)
      fprintf(stderr, "# go GOMAXPROCS=1 peer failed (%d)\n", st);
    unlink(gobin);
  } else {
    fprintf(stderr, "# skip go: no Go toolchain or the build failed\n");
  }
  /* curl --parallel over a list of N URLs. */
  char list[128];
  snprintf(list, sizeof list, "/tmp/w7_urls.%d", (int)getpid());
  FILE *f = fopen(list, "w");
  if (f) {
    for (long i = 0; i < n; i++)
      fprintf(f, "url = \"%s\"\noutput = \"/dev/null\"\n", u);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "curl --parallel --parallel-max 64 -s --no-progress-meter -f -K %s", list);
    double cpu;
    st = run_peer(cmd, &wall, &cpu, out, sizeof out);
    if (st == 0)
      printf("W7 http-client impl=curl n=%ld wall_s=%.3f rps=%.0f cpu_us_per_req=%.2f\n",
             n, wall, (double)n / wall, cpu * 1e6 / (double)n);
    else
      fprintf(stderr, "# curl peer failed (%d)\n", st);
    unlink(list);
  }
  /* aiohttp, stock asyncio and uvloop. */
  for (int i = 0; i < 2; i++) {
    const char *impl = i ? "uvloop" : "asyncio";
    snprintf(cmd, sizeof cmd,
             "env -u PYTHONHOME -u PYTHONPATH %s %s/w7_http_client_aiohttp.py "
             "--impl %s %ld '%s' %ld",
             py, pdir, impl, n, u, body);
    if ((st = run_peer(cmd, &wall, NULL, NULL, 0)) != 0)
      fprintf(stderr, "# aiohttp (%s) peer: exit %d\n", impl, st);
  }
  /* wrk: one thread (the other core is nginx's), 64 connections. */
  snprintf(cmd, sizeof cmd, "wrk -t1 -c64 -d%ds '%s' 2>&1", quick ? 2 : 5, u);
  double wcpu;
  if (run_peer(cmd, &wall, &wcpu, out, sizeof out) == 0) {
    char *rq = strstr(out, " requests in ");
    char *rs = strstr(out, "Requests/sec:");
    if (rq && rs) {
      char *b = rq;
      while (b > out && b[-1] != '\n')
        b--;
      long reqs = strtol(b, NULL, 10);
      double secs = strtod(rq + 13, NULL);
      double rps = strtod(rs + 13, NULL);
      printf("W7 http-client impl=wrk n=%ld wall_s=%.3f rps=%.0f cpu_us_per_req=%.2f\n",
             reqs, secs, rps, reqs > 0 ? wcpu * 1e6 / (double)reqs : 0.0);
    }
  } else {
    fprintf(stderr, "# skip wrk: not installed\n");
  }
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *quick = getenv("BENCH_QUICK");
  long dflt = quick && strcmp(quick, "1") == 0 ? 20000 : 100000;
  n_total = (long)bench_arg(argc, argv, 1, dflt);
  test_nginx_t ngx = {0};
  char own[128];
  setenv("no_proxy", "127.0.0.1,localhost", 1);
  if (argc > 2) {
    url = argv[2];
  } else {
    if (test_nginx_start_quiet(&ngx) != 0) {
      fprintf(stderr, "w7: nginx is not available (apt-get install nginx-light)\n");
      return 77;
    }
    snprintf(own, sizeof own, "http://127.0.0.1:%d/page4k.html", ngx.port);
    url = own;
    want = 4096;
  }
  intptr_t res = 0;
  int rc = cc_run(concur_main, NULL, &res);
  long n = n_total;
  if (rc == 0 && bad == 0 &&
      !(getenv("BENCH_W7_PEERS") && strcmp(getenv("BENCH_W7_PEERS"), "0") == 0))
    peers(n, url, want);
  if (ngx.pid)
    test_nginx_stop(&ngx);
  if (rc != 0 || bad != 0) {
    fprintf(stderr, "w7: %s, %ld bad responses\n", rc ? cc_strerror(rc) : "ok", bad);
    return 1;
  }
  return 0;
}
