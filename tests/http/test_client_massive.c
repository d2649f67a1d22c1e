/* 10,000 requests from 1,000 coroutines on one loop session against a
 * private nginx (the native HTTP/1.1 transport; with
 * CONCUR_HTTP_TRANSPORT=curl, libcurl: client_massive_curl); no fd left
 * behind. */
#include "nginx_helper.h"
#include "test.h"

typedef struct {
  cc_http_session_t *s;
  char url[128];
  int each;
  long ok;
} job_t;

static intptr_t worker(void *arg) {
  job_t *j = arg;
  for (int i = 0; i < j->each; i++) {
    cc_http_response_t *r;
    int rc = cc_http_get(j->s, j->url, &r);
    if (rc < 0)
      return rc;
    if (r->status == 200 && r->body_len == 4096)
      j->ok++;
    cc_http_response_free(r);
  }
  return 0;
}

static test_nginx_t ngx;

static intptr_t main_task(void *arg) {
  int coros = 1000, each = cc_test_sanitized() ? 3 : 10;
  cc_http_session_t *s;
  ASSERT_OK(cc_http_session_new(&s, &(cc_http_session_opts_t){.max_conns = 64}));
  job_t *jobs = calloc((size_t)coros, sizeof *jobs);
  cc_task_t **ts = calloc((size_t)coros, sizeof *ts);
  for (int i = 0; i < coros; i++) {
    jobs[i].s = s;
    jobs[i].each = each;
    snprintf(jobs[i].url, sizeof jobs[i].url, "http://127.0.0.1:%d/page4k.html",
             ngx.port);
    ASSERT_OK(cc_spawn(&ts[i], worker, &jobs[i]));
  }
  ASSERT_OK(cc_gather(ts, (size_t)coros, NULL));
  long ok = 0;
  for (int i = 0; i < coros; i++)
    ok += jobs[i].ok;
  ASSERT_EQ(ok, (long)coros * each);
  cc_http_session_stats_t st;
  cc_http_session_stats(s, &st);
  ASSERT_EQ(st.requests, (uint64_t)coros * each);
  ASSERT_LE(st.sockets, 64);     /* connections opened: reused, within the limit */
  ASSERT_LE(st.easy_made, 1000); /* one easy handle per concurrent request at most */
  const char *tr = getenv("CONCUR_HTTP_TRANSPORT");
  bool curl = tr && strcmp(tr, "curl") == 0;
  ASSERT_EQ(st.native, curl ? 0 : (uint64_t)coros * each); /* plain http: native */
  ASSERT_EQ(st.in_flight, 0);
  cc_http_session_free(s);
  free(jobs);
  free(ts);
  int conns;
  ASSERT_EQ(test_nginx_count_wait(&ngx, "/page4k.html", NULL, &conns, coros * each),
            coros * each);
  ASSERT_LE(conns, 64);
  return 0;
}

TEST(ten_thousand) {
  setenv("no_proxy", "127.0.0.1,localhost", 1);
  if (cc_test_tsan())
    SKIP("1,000 coroutines exceed what the TSan build is given here");
  if (test_nginx_start(&ngx, false) != 0)
    SKIP("nginx (nginx-light) is not available");
  int fds = cc_test_count_fds();
  cc_test_run(main_task, NULL);
  ASSERT_EQ(cc_test_count_fds(), fds);
  test_nginx_stop(&ngx);
}
