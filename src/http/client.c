/* The HTTP client's public calls: sessions, requests, responses, retries and
 * streamed bodies. Runs in the requesting coroutine (loop session) or on the
 * requesting thread (thread session); libcurl's callbacks on the loop side
 * are in curl_loop.c.
 *
 * A request takes a transfer (a reused easy handle) and a response (reused
 * buffers) from the session's free lists, sets only the options that differ
 * from the session's defaults, adds the easy handle to the multi handle and
 * waits: a coroutine parks once and is woken once by cc__http_reap(); a
 * thread drives the multi handle itself with curl_multi_perform/poll.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "concur/error.h"
#include "concur/task.h"
#include "concur/version.h"
#include "core/trace.h"
#include "task/wait.h"
#include "http/client_int.h"
#include "http/h1_client.h"

#define DEFAULT_MAX_CONNS  100
#define DEFAULT_CONNECT_MS 30000
#define DEFAULT_REDIRECTS  10
#define DEFAULT_MAX_BODY   ((size_t)1 << 30)
#define DEFAULT_RETRY_MS   100
#define MAX_RETRY_AFTER_S  60
#define MAX_BACKOFF_MS     30000
#define RESP_POOL_MAX      256
#define RESP_KEEP_BYTES    (1u << 20) /* bigger buffers are not kept in the pool */
#define STREAM_STAGE_BYTES (64u << 10)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void) {
  global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- errors ----------------------------------------------------------------- */

static int os_err(CURL *e, int dflt) {
  long en = 0;
  if (e && curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &en) == CURLE_OK && en > 0)
    return -(int)en;
  return dflt;
}

static int map_curl(cc__http_xfer_t *x, CURLcode c) {
  CURL *e = x->easy;
  switch (c) {
  case CURLE_OK:
    return 0;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return -CC_ERESOLVE;
  case CURLE_COULDNT_CONNECT: {
    int r = os_err(e, -ECONNREFUSED);
    return r == -EINPROGRESS ? -ECONNREFUSED : r;
  }
  case CURLE_OPERATION_TIMEDOUT:
    return -ETIMEDOUT;
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR: {
    int r = os_err(e, 0);
    if (r == 0)
      return c == CURLE_RECV_ERROR ? -CC_EPROTO_HTTP : -ECONNRESET;
    return r == -EPIPE ? -ECONNRESET : r;
  }
  case CURLE_GOT_NOTHING:
    return -ECONNRESET;
  case CURLE_PARTIAL_FILE:
    return -CC_EHTTP_PARTIAL;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    return -CC_EHTTP_CERT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_USE_SSL_FAILED:
    return -CC_ETLS;
  case CURLE_TOO_MANY_REDIRECTS:
    return -CC_EHTTP_REDIRECTS;
  case CURLE_FILESIZE_EXCEEDED:
    return -CC_ETOOBIG;
  case CURLE_WRITE_ERROR:
    return x->too_big ? -CC_ETOOBIG : -ENOMEM;
  case CURLE_OUT_OF_MEMORY:
    return -ENOMEM;
  case CURLE_URL_MALFORMAT:
    return -EINVAL;
  case CURLE_UNSUPPORTED_PROTOCOL:
    return -EPROTONOSUPPORT;
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_HTTP3:
    return -CC_EPROTO_HTTP;
  case CURLE_READ_ERROR:
    return -EIO;
  default:
    return -CC_EHTTP_CURL;
  }
}

/* ---- sessions ------------------------------------------------------------- */

static char *dup_opt(const char *s, int *err) {
  if (!s)
    return NULL;
  char *d = strdup(s);
  if (!d)
    *err = -ENOMEM;
  return d;
}

int cc_http_session_new(cc_http_session_t **out, const cc_http_session_opts_t *opts) {
  *out = NULL;
  pthread_once(&global_once, global_init);
  if (global_rc != CURLE_OK)
    return -CC_EHTTP_CURL;
  cc_http_session_t *s = calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  if (opts)
    s->o = *opts;
  if (s->o.max_conns == 0)
    s->o.max_conns = DEFAULT_MAX_CONNS;
  if (s->o.connect_timeout_ms <= 0)
    s->o.connect_timeout_ms = DEFAULT_CONNECT_MS;
  if (s->o.max_redirects == 0)
    s->o.max_redirects = DEFAULT_REDIRECTS;
  if (s->o.max_body == 0)
    s->o.max_body = DEFAULT_MAX_BODY;
  if (s->o.retry_base_ms <= 0)
    s->o.retry_base_ms = DEFAULT_RETRY_MS;
  int err = 0;
  s->ua = dup_opt(s->o.user_agent ? s->o.user_agent : "concur/" CC_VERSION_STRING, &err);
  s->ca_file = dup_opt(s->o.ca_file, &err);
  s->ca_path = dup_opt(s->o.ca_path, &err);
  s->proxy = dup_opt(s->o.proxy, &err);
  s->o.user_agent = s->o.ca_file = s->o.ca_path = s->o.proxy = NULL;
  s->rng = (uint64_t)cc_now_ns() ^ (uintptr_t)s;
  pthread_mutex_init(&s->mu, NULL);
  s->multi = curl_multi_init();
  s->share = curl_share_init();
  if (err || !s->multi || !s->share) {
    cc_http_session_free(s);
    return err ? err : -CC_EHTTP_CURL;
  }
  curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  if (!s->o.no_cookies)
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
  if (s->o.max_conns > 0) {
    curl_multi_setopt(s->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, s->o.max_conns);
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, s->o.max_conns);
  }
  if (s->o.max_conns_per_host > 0)
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, s->o.max_conns_per_host);
  curl_multi_setopt(s->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  s->loop = cc_loop_current();
  if (s->loop)
    cc__http_loop_attach(s);
  const char *tr = getenv("CONCUR_HTTP_TRANSPORT");
  if (tr && strcmp(tr, "curl") == 0)
    s->o.transport = CC_HTTP_TRANSPORT_CURL;
  else if (tr && strcmp(tr, "auto") == 0)
    s->o.transport = CC_HTTP_TRANSPORT_AUTO;
  if (s->loop && s->o.transport == CC_HTTP_TRANSPORT_AUTO && (err = cc__h1c_new(s)) < 0) {
    cc_http_session_free(s);
    return err;
  }
  *out = s;
  return 0;
}

static void resp_destroy(cc__http_resp_t *r) {
  free(r->body);
  free(r->hbuf);
  free(r->hdrs);
  free(r->url);
  free(r);
}

static void session_destroy(cc_http_session_t *s) {
  pthread_mutex_destroy(&s->mu);
  free(s);
}

void cc_http_session_free(cc_http_session_t *s) {
  if (!s)
    return;
  cc__h1c_free(s);
  if (s->multi && s->loop)
    cc__http_loop_detach(s);
  cc__http_xfer_t *x;
  while ((x = s->xfree)) {
    s->xfree = x->next_free;
    curl_easy_cleanup(x->easy);
    free(x->scratch);
    free(x);
  }
  if (s->multi)
    curl_multi_cleanup(s->multi);
  if (s->share)
    curl_share_cleanup(s->share);
  s->multi = NULL;
  s->share = NULL;
  free(s->ua);
  free(s->ca_file);
  free(s->ca_path);
  free(s->proxy);
  free(s->byfd);
  s->byfd = NULL;
  pthread_mutex_lock(&s->mu);
  cc__http_resp_t *r;
  while ((r = s->rfree)) {
    s->rfree = r->next_free;
    resp_destroy(r);
  }
  bool keep = s->resp_out > 0;
  s->dead = keep;
  pthread_mutex_unlock(&s->mu);
  if (!keep)
    session_destroy(s);
}

void cc_http_session_stats(const cc_http_session_t *s, cc_http_session_stats_t *st) {
  *st = s->st;
}

/* ---- responses ------------------------------------------------------------ */

cc__http_resp_t *cc__http_resp_get(cc_http_session_t *s) {
  cc__http_resp_t *r = s->rfree;
  if (r) {
    s->rfree = r->next_free;
    s->nrfree--;
  } else if (!(r = calloc(1, sizeof *r))) {
    return NULL;
  }
  r->s = s;
  r->body_len = 0;
  r->hlen = 0;
  memset(&r->pub, 0, sizeof r->pub);
  r->pub.priv_ = r;
  s->resp_out++;
  return r;
}

/* Returns r to its session's pool. Caller holds s->mu for a thread session
 * (or is on the loop's thread). Returns true when the session must now be
 * destroyed (it was freed and this was its last response). */
static bool resp_put_locked(cc_http_session_t *s, cc__http_resp_t *r) {
  s->resp_out--;
  if (s->dead || s->nrfree >= RESP_POOL_MAX || r->body_cap > RESP_KEEP_BYTES ||
      r->hcap > RESP_KEEP_BYTES) {
    resp_destroy(r);
  } else {
    r->next_free = s->rfree;
    s->rfree = r;
    s->nrfree++;
  }
  return s->dead && s->resp_out == 0;
}

void cc__http_resp_put(cc__http_resp_t *r) {
  resp_put_locked(r->s, r);
}

void cc_http_response_free(cc_http_response_t *pub) {
  if (!pub)
    return;
  cc__http_resp_t *r = pub->priv_;
  cc_http_session_t *s = r->s;
  if (!s) { /* handed to a plain thread (remote_request): not pooled */
    resp_destroy(r);
    return;
  }
  if (!s->loop)
    pthread_mutex_lock(&s->mu);
  bool destroy = resp_put_locked(s, r);
  if (!s->loop)
    pthread_mutex_unlock(&s->mu);
  if (destroy)
    session_destroy(s);
}

int cc__http_grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap)
    return 0;
  size_t c = *cap ? *cap : 256;
  while (c < need)
    c *= 2;
  char *p = realloc(*buf, c);
  if (!p)
    return -ENOMEM;
  *buf = p;
  *cap = c;
  return 0;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  cc__http_xfer_t *x = ud;
  cc__http_resp_t *r = x->resp;
  size_t len = sz * n;
  if (x->stream) {
    if (r->body_len - x->stage_off >= STREAM_STAGE_BYTES) {
      x->paused = true;
      return CURL_WRITEFUNC_PAUSE;
    }
    if (x->task)
      cc__wake(x->task, x->token, 0);
  }
  if (x->total + len > x->max_body) {
    x->too_big = true;
    return 0;
  }
  if (cc__http_grow(&r->body, &r->body_cap, r->body_len + len + 1) < 0)
    return 0;
  memcpy(r->body + r->body_len, p, len);
  r->body_len += len;
  x->total += len;
  return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  cc__http_xfer_t *x = ud;
  cc__http_resp_t *r = x->resp;
  size_t len = sz * n;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
    r->hlen = 0; /* a new response (after a redirect or a 1xx): keep the last only */
  if (cc__http_grow(&r->hbuf, &r->hcap, r->hlen + len + 1) < 0)
    return 0;
  memcpy(r->hbuf + r->hlen, p, len);
  r->hlen += len;
  return len;
}

/* Splits the header block into name/value pairs (pointing into hbuf). */
int cc__http_parse_headers(cc__http_resp_t *r) {
  size_t n = 0;
  char *p = r->hbuf, *end = r->hbuf + r->hlen;
  if (!p)
    return 0;
  bool first = true;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *le = nl ? nl : end;
    char *next = nl ? nl + 1 : end;
    size_t ll = (size_t)(le - p);
    if (ll && p[ll - 1] == '\r')
      ll--;
    if (first) {
      first = false;
    } else if (ll == 0) {
      break; /* end of the header block (trailers, if any, are not kept) */
    } else {
      char *colon = memchr(p, ':', ll);
      if (colon && colon > p) {
        if (n == r->nhdrs_cap) {
          size_t c = r->nhdrs_cap ? r->nhdrs_cap * 2 : 16;
          cc_http_header_t *h = realloc(r->hdrs, c * sizeof *h);
          if (!h)
            return -ENOMEM;
          r->hdrs = h;
          r->nhdrs_cap = c;
        }
        char *v = colon + 1, *ve = p + ll;
        while (v < ve && (*v == ' ' || *v == '\t'))
          v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
          ve--;
        r->hdrs[n++] = (cc_http_header_t){p, (size_t)(colon - p), v, (size_t)(ve - v)};
      }
    }
    p = next;
  }
  r->pub.headers = r->hdrs;
  r->pub.nheaders = n;
  return 0;
}

/* Fills the public fields of x->resp after its transfer ended. */
static int resp_finish(cc__http_xfer_t *x) {
  cc__http_resp_t *r = x->resp;
  CURL *e = x->easy;
  long code = 0, ver = 0, redirs = 0;
  char *url = NULL;
  double t = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &ver);
  curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirs);
  curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url);
  curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &t);
  if (cc__http_grow(&r->body, &r->body_cap, r->body_len + 1) < 0)
    return -ENOMEM;
  r->body[r->body_len] = '\0';
  size_t ul = url ? strlen(url) : 0;
  if (cc__http_grow(&r->url, &r->url_cap, ul + 1) < 0)
    return -ENOMEM;
  memcpy(r->url, url ? url : "", ul + 1);
  if (cc__http_parse_headers(r) < 0)
    return -ENOMEM;
  r->pub.status = (int)code;
  r->pub.http_version = ver == CURL_HTTP_VERSION_1_0   ? 10
                        : ver == CURL_HTTP_VERSION_2_0 ? 20
                        : ver == CURL_HTTP_VERSION_3   ? 30
                                                       : 11;
  r->pub.redirects = (int)redirs;
  r->pub.total_s = t;
  r->pub.url = r->url;
  r->pub.body = r->body;
  r->pub.body_len = r->body_len;
  return 0;
}

/* ---- transfers ------------------------------------------------------------- */

/* The session's defaults, on a new or reset easy handle. */
static void easy_defaults(cc_http_session_t *s, cc__http_xfer_t *x) {
  CURL *e = x->easy;
  curl_easy_setopt(e, CURLOPT_PRIVATE, x);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, cc__http_open_socket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, s);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, cc__http_close_socket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, s);
  curl_easy_setopt(e, CURLOPT_SHARE, s->share);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (s->o.max_redirects > 0) {
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)s->o.max_redirects);
  }
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->o.connect_timeout_ms);
  if (s->o.timeout_ms > 0)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->o.timeout_ms);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->o.max_body);
  if (!s->o.no_decompress)
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  if (!s->o.no_cookies)
    curl_easy_setopt(e, CURLOPT_COOKIEFILE,
                     ""); /* the engine on; the jar is the share's */
  curl_easy_setopt(e, CURLOPT_USERAGENT, s->ua);
  if (s->o.insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (s->ca_file)
    curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
  if (s->ca_path)
    curl_easy_setopt(e, CURLOPT_CAPATH, s->ca_path);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                   s->o.http1_only ? (long)CURL_HTTP_VERSION_1_1
                                   : (long)CURL_HTTP_VERSION_2TLS);
  if (s->proxy)
    curl_easy_setopt(e, CURLOPT_PROXY, s->proxy);
  x->max_body = s->o.max_body;
}

/* Puts back every option xfer_setup() may have changed (cheaper than
 * curl_easy_reset, which would also drop the defaults and the cookie
 * engine's state). */
static void easy_undo(cc_http_session_t *s, cc__http_xfer_t *x) {
  CURL *e = x->easy;
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
  curl_easy_setopt(e, CURLOPT_MIMEPOST, NULL);
  curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* last: the two above set POST */
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(e, CURLOPT_READDATA, NULL);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                   (long)(s->o.timeout_ms > 0 ? s->o.timeout_ms : 0));
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->o.max_body);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, s->o.max_redirects > 0 ? 1L : 0L);
  if (s->o.max_redirects > 0)
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)s->o.max_redirects);
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, 0L);
  x->max_body = s->o.max_body;
}

static cc__http_xfer_t *xfer_get(cc_http_session_t *s) {
  cc__http_xfer_t *x = s->xfree;
  if (x) {
    s->xfree = x->next_free;
    return x;
  }
  x = calloc(1, sizeof *x);
  if (!x)
    return NULL;
  x->s = s;
  x->easy = curl_easy_init();
  if (!x->easy) {
    free(x);
    return NULL;
  }
  easy_defaults(s, x);
  s->st.easy_made++;
  return x;
}

/* Releases what the request set up; the easy handle goes back to the free
 * list (its connection, if any, stays in the multi handle's cache). */
static void xfer_put(cc_http_session_t *s, cc__http_xfer_t *x) {
  if (x->hdrs) {
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
  }
  if (x->mime) {
    curl_mime_free(x->mime);
    x->mime = NULL;
  }
  if (x->upload) {
    fclose(x->upload);
    x->upload = NULL;
  }
  x->resp = NULL;
  x->task = NULL;
  x->stream = false;
  x->paused = false;
  x->next_free = s->xfree;
  s->xfree = x;
}

void cc__http_reap(cc_http_session_t *s) {
  CURLMsg *m;
  int q;
  while ((m = curl_multi_info_read(s->multi, &q))) {
    if (m->msg != CURLMSG_DONE)
      continue;
    cc__http_xfer_t *x = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    CURLcode rc = m->data.result; /* m is invalid after the removal */
    curl_multi_remove_handle(s->multi, m->easy_handle);
    if (!x)
      continue;
    x->result = rc;
    x->done = true;
    x->in_multi = false;
    s->st.in_flight--;
    s->st.requests++;
    if (x->task)
      cc__wake(x->task, x->token, 0);
  }
}

/* Appends `src` percent-encoded. */
static int put_escaped(char **buf, size_t *cap, size_t *len, const char *src, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  if (cc__http_grow(buf, cap, *len + 3 * n + 1) < 0)
    return -ENOMEM;
  char *d = *buf + *len;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)src[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '.' || c == '_' || c == '~') {
      *d++ = (char)c;
    } else {
      *d++ = '%';
      *d++ = hex[c >> 4];
      *d++ = hex[c & 15];
    }
  }
  *len = (size_t)(d - *buf);
  (*buf)[*len] = '\0';
  return 0;
}

static int put_raw2(char **buf, size_t *cap, size_t *len, const char *src, size_t n) {
  if (cc__http_grow(buf, cap, *len + n + 1) < 0)
    return -ENOMEM;
  memcpy(*buf + *len, src, n);
  *len += n;
  (*buf)[*len] = '\0';
  return 0;
}

static int put_raw(cc__http_xfer_t *x, size_t *len, const char *src, size_t n) {
  return put_raw2(&x->scratch, &x->scratch_cap, len, src, n);
}

int cc__http_put_pairs(char **buf, size_t *cap, size_t *len, const cc_http_header_t *p,
                       size_t n) {
  for (size_t i = 0; i < n; i++) {
    int r;
    if ((i && (r = put_raw2(buf, cap, len, "&", 1)) < 0) ||
        (r = put_escaped(buf, cap, len, p[i].name, p[i].name_len)) < 0 ||
        (r = put_raw2(buf, cap, len, "=", 1)) < 0 ||
        (r = put_escaped(buf, cap, len, p[i].value, p[i].value_len)) < 0)
      return r;
  }
  return 0;
}

/* name=value&name=value into x->scratch at *len. */
static int put_pairs(cc__http_xfer_t *x, size_t *len, const cc_http_header_t *p,
                     size_t n) {
  return cc__http_put_pairs(&x->scratch, &x->scratch_cap, len, p, n);
}

static int add_header(cc__http_xfer_t *x, const char *name, size_t nl, const char *val,
                      size_t vl) {
  char stackbuf[512];
  size_t need = nl + vl + 3;
  char *b = need <= sizeof stackbuf ? stackbuf : malloc(need);
  if (!b)
    return -ENOMEM;
  memcpy(b, name, nl);
  /* "Name;" sends an empty value in libcurl's syntax; "Name: v" otherwise. */
  if (vl) {
    b[nl] = ':';
    b[nl + 1] = ' ';
    memcpy(b + nl + 2, val, vl);
    b[nl + 2 + vl] = '\0';
  } else {
    b[nl] = ';';
    b[nl + 1] = '\0';
  }
  struct curl_slist *l = curl_slist_append(x->hdrs, b);
  if (b != stackbuf)
    free(b);
  if (!l)
    return -ENOMEM;
  x->hdrs = l;
  return 0;
}

static bool is_plain_get(const cc_http_request_t *q) {
  return q->method == CC_HTTP_GET && !q->nquery && !q->nheaders && !q->body &&
         !q->body_file && !q->nform && !q->nparts && !q->json && !q->timeout_ms &&
         !q->max_body && !q->no_redirects;
}

static bool idempotent(cc_http_method_t m) {
  return m == CC_HTTP_GET || m == CC_HTTP_HEAD || m == CC_HTTP_PUT ||
         m == CC_HTTP_DELETE || m == CC_HTTP_OPTIONS || m == CC_HTTP_TRACE;
}

/* Sets every per-request option of `q` on x's easy handle. */
static int xfer_setup(cc_http_session_t *s, cc__http_xfer_t *x,
                      const cc_http_request_t *q) {
  CURL *e = x->easy;
  int r;
  if (x->dirty) {
    easy_undo(s, x);
    x->dirty = false;
  }
  x->done = false;
  x->too_big = false;
  x->result = CURLE_OK;
  x->stage_off = 0;
  x->total = 0;
  if (is_plain_get(q)) {
    if (curl_easy_setopt(e, CURLOPT_URL, q->url) != CURLE_OK)
      return -ENOMEM;
  } else {
    x->dirty = true;
    if (q->nquery) {
      size_t len = 0;
      const char *hash = strchr(q->url, '#');
      size_t ulen = hash ? (size_t)(hash - q->url) : strlen(q->url);
      if ((r = put_raw(x, &len, q->url, ulen)) < 0 ||
          (r = put_raw(x, &len, memchr(q->url, '?', ulen) ? "&" : "?", 1)) < 0 ||
          (r = put_pairs(x, &len, q->query, q->nquery)) < 0)
        return r;
      curl_easy_setopt(e, CURLOPT_URL, x->scratch);
    } else {
      curl_easy_setopt(e, CURLOPT_URL, q->url);
    }
    for (size_t i = 0; i < q->nheaders; i++)
      if ((r = add_header(x, q->headers[i].name, q->headers[i].name_len,
                          q->headers[i].value, q->headers[i].value_len)) < 0)
        return r;
    bool has_body = q->body || q->body_file || q->nform || q->nparts || q->json;
    if (q->json) {
      if ((r = add_header(x, "Content-Type", 12, "application/json", 16)) < 0)
        return r;
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->json);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(q->json));
    } else if (q->body) {
      const char *ct = q->content_type ? q->content_type : "application/octet-stream";
      if ((r = add_header(x, "Content-Type", 12, ct, strlen(ct))) < 0)
        return r;
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
    } else if (q->nform) {
      size_t len = 0;
      if ((r = put_raw(x, &len, "", 0)) < 0 ||
          (r = put_pairs(x, &len, q->form, q->nform)) < 0)
        return r;
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->scratch);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (q->nparts) {
      x->mime = curl_mime_init(e);
      if (!x->mime)
        return -ENOMEM;
      for (size_t i = 0; i < q->nparts; i++) {
        const cc_http_part_t *p = &q->parts[i];
        curl_mimepart *mp = curl_mime_addpart(x->mime);
        if (!mp)
          return -ENOMEM;
        curl_mime_name(mp, p->name);
        if (p->file) {
          if (curl_mime_filedata(mp, p->file) != CURLE_OK)
            return -ENOENT;
        } else {
          curl_mime_data(mp, p->data, p->len);
        }
        if (p->filename)
          curl_mime_filename(mp, p->filename);
        if (p->type)
          curl_mime_type(mp, p->type);
      }
      curl_easy_setopt(e, CURLOPT_MIMEPOST, x->mime);
    } else if (q->body_file) {
      x->upload = fopen(q->body_file, "rb");
      if (!x->upload)
        return -errno;
      struct stat stt;
      if (fstat(fileno(x->upload), &stt) != 0)
        return -errno;
      const char *ct = q->content_type ? q->content_type : "application/octet-stream";
      if ((r = add_header(x, "Content-Type", 12, ct, strlen(ct))) < 0)
        return r;
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_READDATA, x->upload);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)stt.st_size);
    }
    /* The method: POST bodies go as POST (so a 303 turns into GET, as
     * browsers do); other methods are named explicitly. */
    const char *mname =
        q->method == CC_HTTP_OTHER ? q->method_name : cc_http_method_name(q->method);
    if (!mname)
      return -EINVAL;
    if (q->method == CC_HTTP_HEAD) {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (q->method == CC_HTTP_POST) {
      if (!has_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
      }
    } else if (q->method != CC_HTTP_GET || has_body) {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, mname);
    }
    if (x->hdrs)
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    if (q->timeout_ms > 0)
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)q->timeout_ms);
    if (q->max_body) {
      x->max_body = q->max_body;
      curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)q->max_body);
    }
    if (q->no_redirects)
      curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  }
  /* HTTP/2 over TLS: wait for a connection being set up to say whether it
   * multiplexes, instead of opening another one. */
  if (!s->o.http1_only && strncmp(q->url, "https:", 6) == 0) {
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    x->dirty = true;
  }
  return 0;
}

/* Thread session: drives the multi handle on this thread until x is done. */
static void run_blocking(cc_http_session_t *s, cc__http_xfer_t *x, bool until_data) {
  while (!x->done) {
    if (until_data && x->resp->body_len > x->stage_off)
      return;
    int running;
    curl_multi_perform(s->multi, &running);
    cc__http_reap(s);
    if (x->done || (until_data && x->resp->body_len > x->stage_off))
      return;
    curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
  }
}

/* Adds x to the multi handle. */
static int xfer_start(cc_http_session_t *s, cc__http_xfer_t *x) {
  x->task = s->loop ? cc__self() : NULL;
  CURLMcode mc = curl_multi_add_handle(s->multi, x->easy);
  if (mc != CURLM_OK)
    return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -CC_EHTTP_CURL;
  x->in_multi = true;
  s->st.in_flight++;
  if (s->loop) {
    /* Start the transfer now rather than when the loop timer that
     * curl_multi_add_handle just armed (timeout 0) fires on the next
     * iteration: the request leaves while this loop still has other
     * coroutines to run, so the server works on it meanwhile instead of
     * receiving a whole batch at once. This is outside every libcurl
     * callback, as libcurl requires. */
    int running;
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    cc__http_reap(s);
  }
  return 0;
}

/* Takes x out of the multi handle before its end (cancel, deadline, close):
 * libcurl closes its connection unless it can still be reused. */
static void xfer_abort(cc_http_session_t *s, cc__http_xfer_t *x) {
  if (x->in_multi) {
    curl_multi_remove_handle(s->multi, x->easy);
    x->in_multi = false;
    s->st.in_flight--;
  }
  /* Options of the aborted request must not leak into the next one. */
  x->dirty = true;
}

/* Waits (loop session: parks; thread session: drives) until x is done or,
 * with until_data, has body bytes to hand out. Returns 0 or the park's
 * error (the transfer is then still in the multi handle). */
static int xfer_wait(cc_http_session_t *s, cc__http_xfer_t *x, bool until_data) {
  if (!s->loop) {
    run_blocking(s, x, until_data);
    return 0;
  }
  while (!x->done && !(until_data && x->resp->body_len > x->stage_off)) {
    x->token = cc__park_token();
    int r = cc__park("http request", x, CC_FOREVER);
    if (r < 0 && !x->done)
      return r;
  }
  return 0;
}

/* One attempt on libcurl: set up, run, collect. On success *out holds the
 * response. */
int cc__http_curl_attempt(cc_http_session_t *s, const cc_http_request_t *q,
                          int max_redirects, cc__http_resp_t **out) {
  *out = NULL;
  cc__http_xfer_t *x = xfer_get(s);
  if (!x)
    return -ENOMEM;
  cc__http_resp_t *r = cc__http_resp_get(s);
  if (!r) {
    xfer_put(s, x);
    return -ENOMEM;
  }
  x->resp = r;
  int rc = xfer_setup(s, x, q);
  if (rc == 0 && max_redirects >= 0 && !q->no_redirects) {
    curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(x->easy, CURLOPT_MAXREDIRS, (long)max_redirects);
    x->dirty = true;
  }
  if (rc == 0)
    rc = xfer_start(s, x);
  if (rc == 0) {
    rc = xfer_wait(s, x, false);
    if (rc < 0)
      xfer_abort(s, x);
    else
      rc = map_curl(x, x->result);
  }
  if (s->h1 && !s->jar_used && !s->o.no_cookies) {
    /* The native transport serves a cookie session only while its jar is
     * empty: see whether this transfer (or a redirect of it) filled it. */
    struct curl_slist *cl = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_COOKIELIST, &cl) == CURLE_OK && cl) {
      s->jar_used = true;
      curl_slist_free_all(cl);
    }
  }
  if (rc == 0)
    rc = resp_finish(x);
  if (rc != 0)
    x->dirty = true;
  xfer_put(s, x);
  if (rc != 0) {
    resp_put_locked(s, r);
    return rc;
  }
  *out = r;
  return 0;
}

int cc__http_cookie_add(cc_http_session_t *s, const char *line) {
  cc__http_xfer_t *x = xfer_get(s);
  if (!x)
    return -ENOMEM;
  CURLcode c = curl_easy_setopt(x->easy, CURLOPT_COOKIELIST, line);
  xfer_put(s, x);
  s->jar_used = true;
  return c == CURLE_OK ? 0 : -ENOMEM;
}

/* One attempt on whichever transport serves q. */
static int attempt(cc_http_session_t *s, const cc_http_request_t *q,
                   cc__http_resp_t **out) {
  if (s->h1) {
    int rc = cc__h1c_request(s, q, out);
    if (rc != CC__H1C_NOT_MINE)
      return rc;
  }
  return cc__http_curl_attempt(s, q, -1, out);
}

static bool retryable_err(int rc) {
  return rc == -ECONNREFUSED || rc == -ECONNRESET || rc == -CC_EHTTP_PARTIAL ||
         rc == -CC_EPROTO_HTTP || rc == -ENETUNREACH || rc == -EHOSTUNREACH;
}

int64_t cc__http_retry_after_ms(const cc_http_header_t *hdrs, size_t n) {
  const cc_http_header_t *h = cc_http_header_find(hdrs, n, "Retry-After");
  if (!h || !h->value_len || h->value_len >= 64)
    return -1;
  char v[64];
  memcpy(v, h->value, h->value_len);
  v[h->value_len] = '\0';
  char *end;
  errno = 0;
  long long secs = strtoll(v, &end, 10);
  if (end == v || *end != '\0') {
    time_t when = curl_getdate(v, NULL); /* an HTTP date */
    if (when <= 0)
      return -1;
    secs = (long long)when - (long long)time(NULL);
    if (secs < 0)
      secs = 0;
  } else if (secs < 0 || errno == ERANGE) {
    return -1;
  }
  return (int64_t)(secs > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S : secs) * 1000;
}

/* Delay before retry number k (0-based) in ms: Retry-After when the
 * response has one, else exponential back-off with jitter. */
static int64_t backoff_ms(cc_http_session_t *s, cc__http_resp_t *r, int k) {
  if (r) {
    int64_t ra = cc__http_retry_after_ms(r->pub.headers, r->pub.nheaders);
    if (ra >= 0)
      return ra;
  }
  int64_t d = s->o.retry_base_ms << (k < 20 ? k : 20);
  if (d > MAX_BACKOFF_MS)
    d = MAX_BACKOFF_MS;
  s->rng ^= s->rng << 13;
  s->rng ^= s->rng >> 7;
  s->rng ^= s->rng << 17;
  return d + (int64_t)(s->rng % (uint64_t)(d / 2 + 1));
}

static int pause_ms(cc_http_session_t *s, int64_t ms) {
  if (s->loop)
    return cc_sleep(ms);
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
  return 0;
}

static int check_owner(cc_http_session_t *s) {
  if (!s)
    return -EINVAL;
  if (s->loop) {
    if (cc_loop_current() != s->loop || !cc__self())
      return -EXDEV;
  } else if (cc__self()) {
    return -EXDEV; /* a thread session would block the whole loop */
  }
  return 0;
}

/* ---- a plain thread using a loop session ----------------------------------- */

/* The thread posts the request to the session's loop, where a detached
 * coroutine runs it, and blocks on the exec layer's thread-or-coroutine
 * wait (task/wait.h) until that coroutine hands over the result. The
 * response leaves the session's pool, so the thread may free it. */
typedef struct remote_job {
  cc_http_session_t *s;
  const cc_http_request_t *req;
  cc_http_response_t *out;
  int rc;
  bool done;
  pthread_mutex_t mu;
  cc__twq_t q;
} remote_job_t;

static void remote_finish(remote_job_t *j, int rc, cc_http_response_t *r) {
  pthread_mutex_lock(&j->mu);
  j->out = r;
  j->rc = rc;
  j->done = true;
  cc__tw_signal(&j->q, 0);
  pthread_mutex_unlock(&j->mu); /* j may be gone after this */
}

static intptr_t remote_task(void *arg) {
  remote_job_t *j = arg;
  cc_http_response_t *r = NULL;
  int rc = cc_http_request(j->s, j->req, &r);
  if (rc == 0) {
    cc__http_resp_t *p = r->priv_;
    p->s->resp_out--;
    p->s = NULL;
  }
  remote_finish(j, rc, r);
  return 0;
}

static void remote_start(void *arg) {
  remote_job_t *j = arg;
  cc_spawn_opts_t o = {.name = "http request (thread)", .detached = true};
  int rc = cc_spawn_opts(NULL, remote_task, j, &o);
  if (rc < 0)
    remote_finish(j, rc, NULL);
}

static int remote_request(cc_http_session_t *s, const cc_http_request_t *q,
                          cc_http_response_t **out) {
  remote_job_t j = {.s = s, .req = q};
  pthread_mutex_init(&j.mu, NULL);
  int rc = cc_loop_call(s->loop, remote_start, &j);
  if (rc == 0) {
    pthread_mutex_lock(&j.mu);
    while (!j.done) {
      cc__tw_t w;
      cc__tw_wait(&j.q, &j.mu, &w, "http request", &j, CC_FOREVER, 0);
    }
    pthread_mutex_unlock(&j.mu);
    rc = j.rc;
    *out = j.out;
  }
  pthread_mutex_destroy(&j.mu);
  return rc;
}

int cc_http_request(cc_http_session_t *s, const cc_http_request_t *q,
                    cc_http_response_t **out) {
  *out = NULL;
  if (!q || !q->url)
    return -EINVAL;
  if (s && s->loop && !cc_loop_current())
    return remote_request(s, q, out);
  int rc = check_owner(s);
  if (rc < 0)
    return rc;
  if (!s->loop)
    pthread_mutex_lock(&s->mu);
  int64_t t0 = CC__TRACING() ? cc__trace_now() : 0; /* docs/trace.md */
  int retries = q->retries < 0 ? 0 : q->retries ? q->retries : s->o.retries;
  if (!idempotent(q->method))
    retries = 0;
  cc__http_resp_t *r = NULL;
  int k = 0;
  for (;; k++) {
    rc = attempt(s, q, &r);
    bool again = k < retries && (rc == 0 ? (r->pub.status == 429 || r->pub.status == 503)
                                         : retryable_err(rc));
    if (!again)
      break;
    int64_t d = backoff_ms(s, rc == 0 ? r : NULL, k);
    if (r) {
      resp_put_locked(s, r);
      r = NULL;
    }
    s->st.retries++;
    if (!s->loop)
      pthread_mutex_unlock(&s->mu);
    int pr = pause_ms(s, d);
    if (!s->loop)
      pthread_mutex_lock(&s->mu);
    if (pr < 0) {
      rc = pr;
      break;
    }
  }
  if (rc == 0) {
    r->pub.retries = k;
    *out = &r->pub;
  }
  if (t0)
    cc__trace_http(CC__TRACE_CLIENT,
                   q->method_name ? q->method_name : cc_http_method_name(q->method),
                   q->url, rc == 0 ? r->pub.status : rc, t0,
                   rc == 0 ? (int64_t)r->pub.body_len : -1);
  if (!s->loop)
    pthread_mutex_unlock(&s->mu);
  return rc;
}

int cc_http_get(cc_http_session_t *s, const char *url, cc_http_response_t **out) {
  cc_http_request_t q = {.method = CC_HTTP_GET, .url = url};
  return cc_http_request(s, &q, out);
}

/* ---- streaming bodies ------------------------------------------------------- */

struct cc_http_stream {
  cc_http_session_t *s;
  cc__http_xfer_t *x;
  cc__http_resp_t *r;
};

static void stream_release(cc_http_stream_t *st) {
  cc_http_session_t *s = st->s;
  if (st->x) {
    if (st->x->in_multi)
      xfer_abort(s, st->x);
    xfer_put(s, st->x);
  }
  if (st->r)
    resp_put_locked(s, st->r);
  free(st);
}

int cc_http_stream_open(cc_http_session_t *s, const cc_http_request_t *q,
                        cc_http_stream_t **out, const cc_http_response_t **head) {
  *out = NULL;
  if (head)
    *head = NULL;
  if (!q || !q->url)
    return -EINVAL;
  int rc = check_owner(s);
  if (rc < 0)
    return rc;
  cc_http_stream_t *st = calloc(1, sizeof *st);
  if (!st)
    return -ENOMEM;
  st->s = s;
  if (!s->loop)
    pthread_mutex_lock(&s->mu);
  st->x = xfer_get(s);
  st->r = st->x ? cc__http_resp_get(s) : NULL;
  if (!st->r) {
    rc = -ENOMEM;
    goto fail;
  }
  st->x->resp = st->r;
  if ((rc = xfer_setup(s, st->x, q)) < 0)
    goto fail;
  st->x->stream = true;
  if ((rc = xfer_start(s, st->x)) < 0 || (rc = xfer_wait(s, st->x, true)) < 0)
    goto fail;
  if (st->x->done && (rc = map_curl(st->x, st->x->result)) < 0)
    goto fail;
  /* The headers as a response without a body (resp_finish terminates the
   * staged bytes, which stay where they are for the reader). */
  size_t staged = st->r->body_len;
  if ((rc = resp_finish(st->x)) < 0)
    goto fail;
  st->r->body_len = staged;
  st->r->pub.body = "";
  st->r->pub.body_len = 0;
  if (!s->loop)
    pthread_mutex_unlock(&s->mu);
  *out = st;
  if (head)
    *head = &st->r->pub;
  return 0;
fail:
  if (st->x)
    st->x->dirty = true;
  stream_release(st);
  if (!s->loop)
    pthread_mutex_unlock(&s->mu);
  return rc;
}

ssize_t cc_http_stream_read(cc_http_stream_t *st, void *buf, size_t len) {
  if (!st || !buf)
    return -EINVAL;
  cc_http_session_t *s = st->s;
  int rc = check_owner(s);
  if (rc < 0)
    return rc;
  cc__http_xfer_t *x = st->x;
  cc__http_resp_t *r = st->r;
  ssize_t n = 0;
  if (!s->loop)
    pthread_mutex_lock(&s->mu);
  if (r->body_len == x->stage_off) {
    r->body_len = x->stage_off = 0;
    if (x->paused && !x->done) {
      x->paused = false;
      curl_easy_pause(x->easy, CURLPAUSE_CONT); /* may deliver data at once */
    }
    if (r->body_len == 0 && !x->done && (rc = xfer_wait(s, x, true)) < 0) {
      xfer_abort(s, x);
      x->done = true;
      x->result = CURLE_ABORTED_BY_CALLBACK;
      n = rc;
      goto out;
    }
  }
  size_t avail = r->body_len - x->stage_off;
  if (avail == 0) {
    n = x->result == CURLE_ABORTED_BY_CALLBACK ? -ECANCELED : map_curl(x, x->result);
    goto out;
  }
  if (len > avail)
    len = avail;
  memcpy(buf, r->body + x->stage_off, len);
  x->stage_off += len;
  n = (ssize_t)len;
out:
  if (!s->loop)
    pthread_mutex_unlock(&s->mu);
  return n;
}

void cc_http_stream_close(cc_http_stream_t *st) {
  if (!st)
    return;
  cc_http_session_t *s = st->s;
  if (!s->loop)
    pthread_mutex_lock(&s->mu);
  stream_release(st);
  if (!s->loop)
    pthread_mutex_unlock(&s->mu);
}
