/* `concur fetch URL... [--parallel N] [-o DIR]`: fetches every URL
 * concurrently on one HTTP session (like `curl --parallel`) and prints one
 * line per URL as it completes:
 *
 *   <status> <bytes> <milliseconds>ms <final URL>        (an answer)
 *   ERR <code name> <milliseconds>ms <URL>: <message>    (no answer)
 *
 * then a summary on stderr. With -o DIR each body is saved in DIR under the
 * last segment of its URL's path ("index.html" for an empty one; ".<k>"
 * appended when a name repeats). Exit status: 0 when every URL got an
 * answer, 1 when some failed, 2 on bad arguments. Public API only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <concur.h>

#include "cmd.h"
#include "fetch.h"

typedef struct fetch_run {
  char **urls;
  size_t n, next;
  int parallel;
  const char *dir;
  cc_http_session_opts_t opts;
  cc_http_session_t *s;
  char **names; /* output file names given so far (with -o) */
  size_t failed, bytes;
} fetch_run_t;

/* DIR/<last path segment>, made unique within the run. */
static char *out_name(fetch_run_t *fr, size_t i, const char *url) {
  const char *p = strstr(url, "://");
  p = p ? strchr(p + 3, '/') : NULL;
  char base[256] = "index.html";
  if (p) {
    size_t len = strcspn(p, "?#");
    const char *seg = p;
    for (const char *c = p; c < p + len; c++)
      if (*c == '/')
        seg = c + 1;
    size_t sl = (size_t)(p + len - seg);
    if (sl > 0 && sl < sizeof base) {
      memcpy(base, seg, sl);
      base[sl] = '\0';
    }
  }
  char *name = NULL;
  for (int k = 0;; k++) {
    free(name);
    if ((k ? asprintf(&name, "%s/%s.%d", fr->dir, base, k)
           : asprintf(&name, "%s/%s", fr->dir, base)) < 0)
      return NULL;
    bool used = false;
    for (size_t j = 0; j < fr->n; j++)
      if (fr->names[j] && strcmp(fr->names[j], name) == 0)
        used = true;
    if (!used)
      break;
  }
  fr->names[i] = name;
  return name;
}

static intptr_t fetch_worker(void *arg) {
  fetch_run_t *fr = arg;
  while (fr->next < fr->n) {
    size_t i = fr->next++;
    const char *url = fr->urls[i];
    int64_t t0 = cc_now_ns();
    cc_http_response_t *r;
    int rc = cc_http_get(fr->s, url, &r);
    double ms = (double)(cc_now_ns() - t0) / 1e6;
    if (rc < 0) {
      printf("ERR %s %.1fms %s: %s\n", cc_err_name(rc), ms, url, cc_strerror(rc));
      fr->failed++;
      continue;
    }
    printf("%d %zu %.1fms %s\n", r->status, r->body_len, ms, r->url);
    fr->bytes += r->body_len;
    if (fr->dir) {
      char *name = out_name(fr, i, url);
      FILE *f = name ? fopen(name, "wb") : NULL;
      if (!f || fwrite(r->body, 1, r->body_len, f) != r->body_len) {
        fprintf(stderr, "concur fetch: cannot write %s: %s\n", name ? name : "?",
                strerror(errno));
        fr->failed++;
      }
      if (f)
        fclose(f);
    }
    cc_http_response_free(r);
  }
  return 0;
}

static intptr_t fetch_main(void *arg) {
  fetch_run_t *fr = arg;
  int rc = cc_http_session_new(&fr->s, &fr->opts);
  if (rc < 0)
    return rc;
  size_t k = (size_t)fr->parallel < fr->n ? (size_t)fr->parallel : fr->n;
  cc_task_t **ts = calloc(k, sizeof *ts);
  if (!ts) {
    cc_http_session_free(fr->s);
    return -ENOMEM;
  }
  size_t started = 0;
  for (; started < k; started++)
    if ((rc = cc_spawn(&ts[started], fetch_worker, fr)) < 0)
      break;
  int grc = cc_gather(ts, started, NULL);
  free(ts);
  cc_http_session_free(fr->s);
  return rc < 0 ? rc : grc;
}

int concur_fetch_main(int argc, char **argv) {
  fetch_run_t fr = {.parallel = 16};
  fr.urls = calloc((size_t)argc, sizeof *fr.urls);
  if (!fr.urls)
    return 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has_value = i + 1 < argc;
    long v;
    if (strcmp(a, "--parallel") == 0 || strcmp(a, "-Z") == 0) {
      if (!has_value || concur_parse_count(argv[0], "parallel count", argv[++i], &v) != 0)
        return free(fr.urls),
               has_value ? 2 : concur_usage_error(argv[0], "%s needs a number", a);
      fr.parallel = v > 4096 ? 4096 : (int)v;
    } else if (strcmp(a, "-o") == 0) {
      if (!has_value)
        return free(fr.urls), concur_usage_error(argv[0], "-o needs a directory");
      fr.dir = argv[++i];
    } else if (strcmp(a, "--timeout") == 0) {
      if (!has_value || concur_parse_count(argv[0], "timeout", argv[++i], &v) != 0)
        return free(fr.urls),
               has_value ? 2
                         : concur_usage_error(argv[0], "--timeout needs milliseconds");
      fr.opts.timeout_ms = v;
    } else if (strcmp(a, "--retries") == 0) {
      if (!has_value || concur_parse_count(argv[0], "retry count", argv[++i], &v) != 0)
        return free(fr.urls),
               has_value ? 2 : concur_usage_error(argv[0], "--retries needs a number");
      fr.opts.retries = (int)v;
    } else if (strcmp(a, "--insecure") == 0 || strcmp(a, "-k") == 0) {
      fr.opts.insecure = true;
    } else if (a[0] == '-' && a[1]) {
      free(fr.urls);
      return concur_usage_error(argv[0], "unknown option '%s'", a);
    } else {
      fr.urls[fr.n++] = argv[i];
    }
  }
  if (fr.n == 0) {
    free(fr.urls);
    return concur_usage_error(argv[0], "no URL given");
  }
  if (fr.dir && mkdir(fr.dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "concur fetch: cannot create %s: %s\n", fr.dir, strerror(errno));
    free(fr.urls);
    return 1;
  }
  fr.names = calloc(fr.n, sizeof *fr.names);
  setvbuf(stdout, NULL, _IOLBF, 0);
  int64_t t0 = cc_now_ns();
  intptr_t res = 0;
  int rc = cc_run(fetch_main, &fr, &res);
  double s = (double)(cc_now_ns() - t0) / 1e9;
  if (rc < 0)
    fprintf(stderr, "concur fetch: %s\n", cc_strerror(rc));
  fprintf(stderr, "%zu URLs, %zu failed, %zu bytes in %.3f s (%d in parallel)\n", fr.n,
          fr.failed, fr.bytes, s, fr.parallel);
  for (size_t i = 0; fr.names && i < fr.n; i++)
    free(fr.names[i]);
  free(fr.names);
  free(fr.urls);
  return rc < 0 || fr.failed ? 1 : 0;
}

const concur_cmd_t concur_cmd_fetch = {
    .name = "fetch",
    .args = "URL... [--parallel N] [-o DIR] [--timeout MS] [--retries N] [--insecure]",
    .summary = "fetch URLs concurrently, a line per URL (like curl --parallel)",
    .help =
        "Fetches every URL concurrently on one HTTP session (keep-alive, HTTP/2 over\n"
        "TLS, redirects) and prints a line per URL as it completes:\n"
        "  <status> <bytes> <ms>ms <final URL>   or   ERR <code> <ms>ms <URL>: <why>\n"
        "then a summary on stderr. Exit status 0 when every URL got an answer.\n"
        "\n"
        "  --parallel N, -Z N  requests in flight (default 16)\n"
        "  -o DIR              save each body in DIR under its URL's last segment\n"
        "  --timeout MS        total time-out per request\n"
        "  --retries N         retries of idempotent requests (429/503 honour\n"
        "                      Retry-After; back-off with jitter)\n"
        "  --insecure, -k      do not verify TLS certificates\n",
    .main = concur_fetch_main,
};
