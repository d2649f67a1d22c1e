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
 * /page4k.html. BENCH_W7_PEERS=0 runs concur alone; BENCH_W7_PEERS=ref adds
 * only the libcurl reference (impl=libcurl-multi: libcurl's multi interface
 * driven by curl_multi_perform/poll, no concur, none of the session's
 * features: what concur's layer and those features add).
 *
 * concur's line also gives its client CPU per request (user + system time
 * of this process over the run) and the poller calls per request (epoll_ctl
 * made by the loop, which the session keeps at about zero by leaving
 * keep-alive sockets registered between requests).
 *
 * concur runs three times: one loop with 64 coroutines (impl=concur, the
 * line to compare with the peers' single client; the session's default
 * transport, i.e. concur's native HTTP/1.1 one for this plain-http URL),
 * the same with the session's libcurl transport forced (impl=concur-curl,
 * what the native transport gains), then two loops on two threads with a
 * session and 32 coroutines each (impl=concur-2loops, concur's
 * thread-per-core model; compare with Go's default GOMAXPROCS).
 *
 * BENCH_W7_ONLY=concur (or concur-curl) runs that line alone, no peers.
 *
 * Prints: W7 http-client impl=<system> n=... wall_s=... rps=...
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <concur.h>
#include <curl/curl.h>

#include "../tests/http/nginx_helper.h"
#include "common.h"
#include "loop/loop_int.h"

#define INFLIGHT 64

static long n_total;
static long bad_total;
static long want = -1;
static const char *url;

/* One loop's share of the run: its session and its counters. */
typedef struct w7run {
  long n, next, bad;
  int inflight;
  cc_http_session_t *s;
  pthread_barrier_t *start; /* several loops: all warm before the clock */
  uint64_t ctls, sockets;
  cc_http_transport_t transport;
} w7run_t;

static intptr_t worker(void *arg) {
  w7run_t *w = arg;
  while (w->next < w->n) {
    w->next++;
    cc_http_response_t *r;
    int rc = cc_http_get(w->s, url, &r);
    if (rc < 0) {
      fprintf(stderr, "w7: %s\n", cc_strerror(rc));
      w->bad++;
      continue;
    }
    if (want < 0)
      want = (long)r->body_len;
    if (r->status != 200 || (long)r->body_len != want)
      w->bad++;
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

static int run_workers(w7run_t *w) {
  cc_task_t *ts[INFLIGHT];
  for (int i = 0; i < w->inflight; i++)
    cc_spawn(&ts[i], worker, w);
  return cc_gather(ts, (size_t)w->inflight, NULL);
}

/* One loop: warm up (connections, free lists; not timed), then the run. */
static intptr_t loop_main(void *arg) {
  w7run_t *w = arg;
  int rc =
      cc_http_session_new(&w->s, &(cc_http_session_opts_t){.max_conns = w->inflight,
                                                           .transport = w->transport});
  if (rc < 0)
    return rc;
  long n = w->n;
  w->n = w->inflight * 4;
  run_workers(w);
  w->n = n;
  w->next = 0;
  w->bad = 0;
  if (w->start)
    pthread_barrier_wait(w->start);
  uint64_t ctl0 = cc__tl_loop->poller_ctls;
  rc = run_workers(w);
  w->ctls = cc__tl_loop->poller_ctls - ctl0;
  cc_http_session_stats_t st;
  cc_http_session_stats(w->s, &st);
  w->sockets = st.sockets;
  cc_http_session_free(w->s);
  return rc;
}

static void *loop_thread(void *arg) {
  intptr_t res;
  return (void *)(intptr_t)cc_run_opts(NULL, loop_main, arg, &res);
}

/* The run on `loops` loops (threads), INFLIGHT requests in flight in all. */
static int concur_run(int loops, cc_http_transport_t transport) {
  w7run_t w[2] = {0};
  pthread_t th[2];
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, (unsigned)loops + 1);
  for (int i = 0; i < loops; i++) {
    w[i].n = n_total / loops + (i < n_total % loops);
    w[i].inflight = INFLIGHT / loops;
    w[i].start = &bar;
    w[i].transport = transport;
    pthread_create(&th[i], NULL, loop_thread, &w[i]);
  }
  pthread_barrier_wait(&bar);
  double c0 = cpu_s(), t0 = bench_now();
  int rc = 0;
  for (int i = 0; i < loops; i++) {
    void *r;
    pthread_join(th[i], &r);
    if ((intptr_t)r != 0)
      rc = (int)(intptr_t)r;
  }
  double wall = bench_now() - t0, cpu = cpu_s() - c0;
  pthread_barrier_destroy(&bar);
  uint64_t ctls = 0, socks = 0;
  for (int i = 0; i < loops; i++) {
    bad_total += w[i].bad;
    ctls += w[i].ctls;
    socks += w[i].sockets;
  }
  char impl[32];
  if (transport == CC_HTTP_TRANSPORT_CURL)
    snprintf(impl, sizeof impl, loops == 1 ? "concur-curl" : "concur-curl-%dloops",
             loops);
  else
    snprintf(impl, sizeof impl, loops == 1 ? "concur" : "concur-%dloops", loops);
  printf("W7 http-client impl=%s n=%ld wall_s=%.3f rps=%.0f cpu_us_per_req=%.2f "
         "epoll_ctl_per_req=%.4f connections=%llu\n",
         impl, n_total, wall, (double)n_total / wall, cpu * 1e6 / (double)n_total,
         (double)ctls / (double)n_total, (unsigned long long)socks);
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

/* A reference beside the peers: libcurl's multi interface alone, without
 * concur (curl_multi_perform + curl_multi_poll on this thread, 64 reused
 * easy handles, a counting write callback), to show what concur's layer
 * adds to libcurl's own cost. */
static size_t count_body(char *p, size_t sz, size_t n, void *ud) {
  *(long *)ud += (long)(sz * n);
  return sz * n;
}

static void libcurl_reference(long n, const char *u, long body) {
  CURLM *m = curl_multi_init();
  CURL *e[INFLIGHT];
  long got[INFLIGHT] = {0};
  long started = 0, done = 0, badref = 0;
  curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)INFLIGHT);
  for (int i = 0; i < INFLIGHT; i++) {
    e[i] = curl_easy_init();
    curl_easy_setopt(e[i], CURLOPT_URL, u);
    curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, count_body);
    curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &got[i]);
    curl_easy_setopt(e[i], CURLOPT_PRIVATE, (char *)&got[i]);
    curl_easy_setopt(e[i], CURLOPT_NOSIGNAL, 1L);
  }
  double c0 = cpu_s(), t0 = bench_now();
  for (int i = 0; i < INFLIGHT && started < n; i++, started++)
    curl_multi_add_handle(m, e[i]);
  while (done < n) {
    int running;
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int q;
    while ((msg = curl_multi_info_read(m, &q))) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      CURL *h = msg->easy_handle;
      long code = 0, *g;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
      curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&g);
      if (msg->data.result != CURLE_OK || code != 200 || (body >= 0 && *g != body))
        badref++;
      *g = 0;
      curl_multi_remove_handle(m, h);
      done++;
      if (started < n) {
        curl_multi_add_handle(m, h);
        started++;
      }
    }
    if (done < n)
      curl_multi_poll(m, NULL, 0, 1000, NULL);
  }
  double wall = bench_now() - t0, cpu = cpu_s() - c0;
  for (int i = 0; i < INFLIGHT; i++)
    curl_easy_cleanup(e[i]);
  curl_multi_cleanup(m);
  if (badref == 0)
    printf("W7 http-client impl=libcurl-multi n=%ld wall_s=%.3f rps=%.0f "
           "cpu_us_per_req=%.2f\n",
           n, wall, (double)n / wall, cpu * 1e6 / (double)n);
  else
    fprintf(stderr, "# libcurl reference: %ld bad responses\n", badref);
  fflush(stdout);
}

static void peers(long n, const char *u, long body) {
  const char *pdir = BENCH_PEERS_DIR;
  const char *py = getenv("BENCH_PYTHON") ? getenv("BENCH_PYTHON") : "/usr/bin/python3";
  bool quick = getenv("BENCH_QUICK") && strcmp(getenv("BENCH_QUICK"), "1") == 0;
  char cmd[2048], out[8192];
  double wall;
  int st;
  libcurl_reference(n, u, body);
  if (getenv("BENCH_W7_PEERS") && strcmp(getenv("BENCH_W7_PEERS"), "ref") == 0)
    return;
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
  /* BENCH_W7_ONLY=concur or concur-curl: that one line and nothing else
   * (for callgrind and perf). */
  const char *only = getenv("BENCH_W7_ONLY");
  int rc;
  if (only) {
    rc = concur_run(1, strcmp(only, "concur-curl") == 0 ? CC_HTTP_TRANSPORT_CURL
                                                        : CC_HTTP_TRANSPORT_AUTO);
    setenv("BENCH_W7_PEERS", "0", 1);
  } else {
    rc = concur_run(1, CC_HTTP_TRANSPORT_AUTO);
    if (rc == 0)
      rc = concur_run(1, CC_HTTP_TRANSPORT_CURL);
    if (rc == 0)
      rc = concur_run(2, CC_HTTP_TRANSPORT_AUTO);
  }
  long n = n_total;
  if (rc == 0 && bad_total == 0 &&
      !(getenv("BENCH_W7_PEERS") && strcmp(getenv("BENCH_W7_PEERS"), "0") == 0))
    peers(n, url, want);
  if (ngx.pid)
    test_nginx_stop(&ngx);
  if (rc != 0 || bad_total != 0) {
    fprintf(stderr, "w7: %s, %ld bad responses\n", rc ? cc_strerror(rc) : "ok",
            bad_total);
    return 1;
  }
  return 0;
}
