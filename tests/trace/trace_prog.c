/* A traced program for test_trace: tasks, a thread pool, a process pool,
 * user spans and the HTTP emit hooks. Prints the pids of its pool's workers
 * ("workers <pid> <pid>") so the test can check the chunk events' pids.
 * Run with CONCUR_TRACE=file.json (or without, to check nothing is written).
 * `trace_prog many N` spawns N tiny tasks too (for the SVG size check). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <concur.h>

#include "core/trace.h" /* the HTTP emit API, as the http layer calls it */

static long many;
static bool wait_mode;

static intptr_t long_sleeper(void *arg) {
  return cc_sleep(10000);
}

/* `trace_prog http`: concur's server and client on loopback, traced on
 * both sides: GET /hello (200) and GET /missing (404). */
static int hello(cc_req_t *req, void *arg) {
  return cc_resp_send(req, 200, "text/plain", "hi", 2);
}

static intptr_t run_server(void *arg) {
  return cc_server_run(arg);
}

static intptr_t http_main(void *arg) {
  cc_server_t *srv;
  cc_server_opts_t so = {.loops = 1};
  if (cc_server_new(&srv, &so) < 0 ||
      cc_server_route(srv, "GET", "/hello", hello, NULL) < 0 ||
      cc_server_listen(srv, "127.0.0.1", 0) < 0)
    return -1;
  int port = cc_server_port(srv);
  cc_task_t *st;
  if (cc_spawn(&st, run_server, srv) < 0)
    return -2;
  cc_http_session_t *s;
  if (cc_http_session_new(&s, NULL) < 0)
    return -3;
  int rc = 0;
  static const char *paths[] = {"/hello", "/missing"};
  for (int i = 0; i < 2; i++) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, paths[i]);
    cc_http_response_t *r;
    int e = cc_http_get(s, url, &r);
    if (e < 0 || r->status != (i ? 404 : 200))
      rc = -4;
    if (e == 0)
      cc_http_response_free(r);
  }
  cc_http_session_free(s);
  cc_server_shutdown(srv);
  intptr_t v;
  cc_join(st, &v);
  cc_server_free(srv);
  return rc;
}

/* `trace_prog wait`: 50 tasks asleep for 10 s; "ready" once they all
 * sleep; Ctrl-C (SIGINT) cancels them through cc_run's signal handling. */
static intptr_t wait_main(void *arg) {
  cc_task_t *t[50];
  for (int i = 0; i < 50; i++) {
    cc_spawn_opts_t o = {.name = "long_sleeper"};
    if (cc_spawn_opts(&t[i], long_sleeper, NULL, &o) < 0)
      return -1;
  }
  cc_sleep(1);
  printf("ready\n");
  fflush(stdout);
  return cc_gather(t, 50, NULL);
}

static intptr_t sleeper(void *arg) {
  return cc_sleep(2 + (intptr_t)arg);
}

static intptr_t blocking_job(void *arg) {
  volatile unsigned long x = 0;
  for (unsigned long i = 0; i < 200000; i++)
    x += i;
  return (intptr_t)arg;
}

static int square(const void *in, void *out, void *ctx) {
  int v = *(const int *)in;
  volatile unsigned long x = 0;
  for (int i = 0; i < 2000; i++)
    x += (unsigned long)i;
  *(int *)out = v * v;
  return 0;
}

static intptr_t tiny(void *arg) {
  return 0;
}

static intptr_t prog_main(void *arg) {
  cc_trace_span_t sp;
  cc_trace_span_begin(&sp, "phase one");
  cc_task_t *t[5];
  for (intptr_t i = 0; i < 5; i++) {
    cc_spawn_opts_t o = {.name = "sleeper"};
    if (cc_spawn_opts(&t[i], sleeper, (void *)i, &o) < 0)
      return -1;
  }
  if (cc_gather(t, 5, NULL) < 0)
    return -2;
  cc_trace_instant("sleepers done");
  cc_trace_span_end(&sp);

  cc_executor_t *ex;
  cc_executor_opts_t eo = {.max_workers = 2, .name_prefix = "trprog", .batch = 1};
  if (cc_executor_new(&ex, &eo) < 0)
    return -3;
  cc_future_t *f[8];
  for (intptr_t i = 0; i < 8; i++)
    if (cc_executor_submit(ex, blocking_job, (void *)i, &f[i]) < 0)
      return -4;
  for (int i = 0; i < 8; i++) {
    intptr_t v;
    if (cc_future_result(f[i], CC_FOREVER, &v) < 0 || v != i)
      return -5;
    cc_future_unref(f[i]);
  }
  cc_executor_free(ex);

  int64_t t0 = cc__trace_now();
  cc_sleep(1);
  CC__TRACE(cc__trace_http(CC__TRACE_CLIENT, "GET", "http://127.0.0.1:9/page?q=\"x\"",
                           200, t0, 1234));
  CC__TRACE(cc__trace_http(CC__TRACE_SERVER, "GET", "/page", 404, t0, -1));
  CC__TRACE(
      cc__trace_http(CC__TRACE_CLIENT, "POST", "http://127.0.0.1:9/", -111, t0, -1));

  for (long i = 0; i < many; i++) {
    cc_spawn_opts_t o = {.detached = true};
    if (cc_spawn_opts(NULL, tiny, NULL, &o) < 0)
      return -6;
    if (i % 1000 == 999)
      cc_yield();
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "many") == 0)
    many = atol(argv[2]);
  wait_mode = argc > 1 && strcmp(argv[1], "wait") == 0;
  if (argc > 1 && strcmp(argv[1], "http") == 0) {
    intptr_t hres = 0;
    int hr = cc_run(http_main, NULL, &hres);
    return hr < 0 || hres != 0 ? 1 : 0;
  }
  intptr_t res = 0;
  int r = cc_run(wait_mode ? wait_main : prog_main, NULL, &res);
  if (wait_mode)
    return r == -ECANCELED || res == -ECANCELED ? 0 : 1;
  if (r < 0 || res != 0) {
    fprintf(stderr, "trace_prog: %d %ld\n", r, (long)res);
    return 1;
  }
  cc_pool_t *pool;
  cc_pool_opts_t po = {.workers = 2};
  if (cc_pool_new(&pool, &po) < 0)
    return 2;
  pid_t pids[2];
  int np = cc_pool_worker_pids(pool, pids, 2);
  printf("workers");
  for (int i = 0; i < np; i++)
    printf(" %d", (int)pids[i]);
  printf("\n");
  fflush(stdout);
  enum { N = 1000 };
  static int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  cc_pool_map_opts_t mo = {.chunksize = 50};
  r = cc_pool_map_records(pool, square, NULL, in, sizeof(int), out, sizeof(int), N, NULL,
                          &mo);
  cc_pool_free(pool);
  if (r < 0)
    return 3;
  for (int i = 0; i < N; i++)
    if (out[i] != i * i)
      return 4;
  return 0;
}
