/* The HTTP client's native HTTP/1.1 transport: plain http:// requests of a
 * loop session on keep-alive connections that the loop watches directly,
 * parsed by llhttp, instead of through libcurl (whose own work per request
 * is most of the client's cost: docs/client.md). eligible() decides
 * per request; everything else stays on libcurl (client.c).
 *
 * Runs in the requesting coroutine, except on_io() (a connection watcher's
 * callback, in the loop's own context: it only wakes a parked request or
 * closes an idle connection the server closed).
 *
 * Connections. Per session, one record per (host, port) holds the idle
 * connections (LIFO: the warmest first), the resolved addresses (looked up
 * once per session) and the pre-built header prefix (Host, User-Agent,
 * Accept, Accept-Encoding, as libcurl sends them). A connection's watcher
 * stays registered for reading from connect to close, idle or not, so a
 * request costs no poller call: one send, one park until the watcher says
 * readable (level-triggered, so nothing is lost by not reading first), one
 * recv into the connection's buffer, parsed in place by llhttp into the
 * pooled response. No allocation once the pools are warm.
 *
 * Limits. max_conns (all hosts) and max_conns_per_host count connections
 * open or being opened. A request that may not open one waits in one FIFO
 * of the session; a connection released with a waiter for its host is
 * handed to the first such waiter, and a closed connection's slot to the
 * first waiter whose limits now allow a connection. Handing is exact: the
 * waiter is woken with cc__wake(), and if its park already ended (cancelled,
 * timed out) the connection or slot goes to the next one. An idle
 * connection to another host is closed to make room when only the total
 * limit stands in the way (as libcurl does with its cache).
 *
 * Failure. A request that fails, is cancelled or times out with a
 * connection in hand closes it (a half-read response is never reused). A
 * reused connection that ends before any byte of the response (the server
 * closed it while it was idle) is retried once on a new connection for an
 * idempotent request. Idle connections the server closes are noticed by
 * their watcher and closed at once (stats.idle_events).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <brotli/decode.h>
#include <llhttp.h>
#include <zlib.h>
#include <zstd.h>

#include "concur/error.h"
#include "concur/net.h"
#include "concur/task.h"
#include "http/h1_client.h"

extern char **environ;

#define RBUF_BYTES     16384
#define MAX_HEAD_BYTES (100u << 10) /* libcurl's limit on a response's headers */
#define MAX_ADDRS      8

typedef struct h1_host h1_host_t;
typedef struct h1_conn h1_conn_t;
typedef struct h1_req h1_req_t;

struct h1_conn {
  cc__io_t io;
  struct cc__h1 *h;
  h1_host_t *host;
  h1_conn_t *next; /* in host->idle */
  int fd;
  bool busy;       /* checked out by a request */
  cc_task_t *task; /* the request parked on this connection's watcher */
  uint64_t token;
  uint64_t uses;   /* responses read on it */
  unsigned events; /* the watcher's mask */
  char *wbuf;      /* the request head being sent */
  size_t wcap;
  llhttp_t parser;
  char rbuf[RBUF_BYTES];
};

struct h1_host {
  h1_host_t *next;
  char *name;  /* lower case, without brackets */
  char *spelt; /* as the first URL wrote it (the Host header's) */
  size_t name_len;
  int port;
  cc_addr_t addrs[MAX_ADDRS];
  int naddrs; /* 0: not resolved yet */
  char *prefix;
  size_t prefix_len;
  size_t
      line_off[5]; /* start of the Host, User-Agent, Accept, Accept-Encoding lines, end */
  h1_conn_t *idle;
  long open; /* connections open or being opened */
};

typedef struct h1_wait {
  cc__waiter_t w;
  h1_host_t *host;
  h1_conn_t *conn; /* handed over; NULL with a granted slot */
} h1_wait_t;

struct cc__h1 {
  cc_http_session_t *s;
  h1_host_t *hosts;
  long open;
  cc__wlist_t waiters;
  char accept_encoding[48]; /* what libcurl sends with CURLOPT_ACCEPT_ENCODING "" */
};

/* A URL the native transport can take, split in place. */
typedef struct h1_url {
  const char *host;
  size_t host_len;
  int port;
  const char *target; /* path and query (up to '#'); empty means "/" */
  size_t target_len;
  size_t path_len; /* of target, up to '?' */
  size_t url_len;  /* of the whole URL up to '#' */
} h1_url_t;

/* The state of one response being parsed (on the requester's stack). */
enum { ENC_NONE, ENC_GZIP, ENC_DEFLATE, ENC_BR, ENC_ZSTD, ENC_STACK };
#define MAX_CODINGS 5 /* libcurl's MAX_ENCODE_STACK */
struct h1_req {
  bool decode; /* Content-Encoding is undone (the session's no_decompress off) */
  cc__http_resp_t *r;
  size_t max_body;
  bool head;
  bool headers_done, done, interim;
  const cc_http_header_t *loc; /* Location, of the final answer */
  bool cookies;                /* it has a Set-Cookie */
  bool got_any;                /* a byte of the response arrived */
  bool not_http;               /* and it did not start like "HTTP/" */
  int err;
  int enc;
  bool enc_end;
  /* ENC_STACK (several codings, "gzip, br"): the raw body is kept and
   * decoded stage by stage at its end, the last coding first. */
  int codings[MAX_CODINGS];
  int ncodings;
  char *raw;
  size_t raw_len, raw_cap;
  z_stream z;
  bool z_on, z_raw_tried;
  BrotliDecoderState *br;
  ZSTD_DStream *zd;
};

static const llhttp_settings_t settings;
static const char *trim(const char *p, const char *e, const char **end);
static int decode(h1_req_t *q, const char *at, size_t n);

/* ---- URLs and eligibility --------------------------------------------------- */

static bool host_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '-' || c == '_';
}

static bool parse_url(const char *u, h1_url_t *o) {
  if (strncasecmp(u, "http://", 7) != 0)
    return false;
  const char *c = u;
  for (; *c; c++)
    if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
      return false; /* libcurl's own rules for such URLs apply */
  const char *end = c, *a = u + 7, *p = a;
  while (p < end && *p != '/' && *p != '?' && *p != '#')
    p++;
  if (p == a || memchr(a, '@', (size_t)(p - a)))
    return false;
  const char *ps = NULL;
  if (*a == '[') {
    const char *rb = memchr(a, ']', (size_t)(p - a));
    if (!rb || rb == a + 1)
      return false;
    for (const char *h = a + 1; h < rb; h++)
      if (!(host_char((unsigned char)*h) || *h == ':') || *h == '_' || *h == '-')
        return false;
    o->host = a + 1;
    o->host_len = (size_t)(rb - a - 1);
    if (rb + 1 < p) {
      if (rb[1] != ':')
        return false;
      ps = rb + 2;
    }
  } else {
    const char *colon = memchr(a, ':', (size_t)(p - a));
    const char *he = colon ? colon : p;
    if (he == a)
      return false;
    for (const char *h = a; h < he; h++)
      if (!host_char((unsigned char)*h))
        return false;
    o->host = a;
    o->host_len = (size_t)(he - a);
    if (colon)
      ps = colon + 1;
  }
  o->port = 80;
  if (ps && ps < p) {
    long port = 0;
    for (const char *d = ps; d < p; d++) {
      if (*d < '0' || *d > '9' || port > 65535)
        return false;
      port = port * 10 + (*d - '0');
    }
    if (port < 1 || port > 65535)
      return false;
    o->port = (int)port;
  }
  const char *hash = memchr(p, '#', (size_t)(end - p));
  const char *te = hash ? hash : end;
  o->target = p;
  o->target_len = (size_t)(te - p);
  const char *qm = memchr(p, '?', o->target_len);
  o->path_len = qm ? (size_t)(qm - p) : o->target_len;
  o->url_len = (size_t)(te - u);
  return true;
}

/* Whether libcurl would send a request to `host` through a proxy of the
 * environment (http_proxy, all_proxy / ALL_PROXY, minus no_proxy /
 * NO_PROXY). When unsure (a no_proxy entry with a CIDR range, say) it says
 * yes, and libcurl decides. */
static bool env_proxy(const char *host, size_t hl) {
  /* One pass over the environment rather than a getenv() per name: this
   * runs for every request (libcurl, too, reads it per transfer). */
  const char *hp = NULL, *ap = NULL, *aP = NULL, *np = NULL, *nP = NULL;
  for (char **e = environ; *e; e++) {
    const char *v = *e;
    switch (v[0]) {
    case 'h':
      if (strncmp(v, "http_proxy=", 11) == 0)
        hp = v + 11;
      break;
    case 'a':
      if (strncmp(v, "all_proxy=", 10) == 0)
        ap = v + 10;
      break;
    case 'A':
      if (strncmp(v, "ALL_PROXY=", 10) == 0)
        aP = v + 10;
      break;
    case 'n':
      if (strncmp(v, "no_proxy=", 9) == 0)
        np = v + 9;
      break;
    case 'N':
      if (strncmp(v, "NO_PROXY=", 9) == 0)
        nP = v + 9;
      break;
    }
  }
  const char *p = hp && *hp ? hp : ap && *ap ? ap : aP;
  if (!p || !*p)
    return false;
  if (!np || !*np)
    np = nP;
  if (!np)
    return true;
  while (*np) {
    while (*np == ' ' || *np == ',')
      np++;
    const char *t = np;
    while (*np && *np != ',' && *np != ' ')
      np++;
    size_t tl = (size_t)(np - t);
    if (tl == 1 && *t == '*')
      return false;
    if (tl && *t == '.') {
      t++;
      tl--;
    }
    if (tl && t[tl - 1] == '.')
      tl--;
    if (!tl)
      continue;
    if (tl == hl && strncasecmp(t, host, hl) == 0)
      return false;
    if (hl > tl && host[hl - tl - 1] == '.' && strncasecmp(host + hl - tl, t, tl) == 0)
      return false;
  }
  return true;
}

static bool eligible(cc_http_session_t *s, const cc_http_request_t *q, h1_url_t *u) {
  if (!s->h1 || s->proxy || (s->jar_used && !s->o.no_cookies) || q->body_file ||
      q->nparts)
    return false;
  if (q->method == CC_HTTP_OTHER) {
    if (!q->method_name || !*q->method_name)
      return false;
  } else if (!cc_http_method_name(q->method)) {
    return false;
  }
  if (!parse_url(q->url, u))
    return false;
  return !env_proxy(u->host, u->host_len);
}

/* ---- connections --------------------------------------------------------------- */

static void on_io(cc__io_t *w, unsigned events);
static void grant(struct cc__h1 *h);

static bool can_open(struct cc__h1 *h, h1_host_t *host) {
  cc_http_session_t *s = h->s;
  return (s->o.max_conns <= 0 || h->open < s->o.max_conns) &&
         (s->o.max_conns_per_host <= 0 || host->open < s->o.max_conns_per_host);
}

static void conn_destroy(h1_conn_t *c) {
  struct cc__h1 *h = c->h;
  cc__io_stop(&c->io);
  close(c->fd);
  c->host->open--;
  h->open--;
  h->s->st.watched--;
  free(c->wbuf);
  free(c);
}

static void idle_unlink(h1_conn_t *c) {
  for (h1_conn_t **pp = &c->host->idle; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      return;
    }
}

/* Closes a connection (in use by the caller, or idle) and lets a waiter
 * have its slot. */
static void conn_close(h1_conn_t *c) {
  struct cc__h1 *h = c->h;
  if (!c->busy)
    idle_unlink(c);
  conn_destroy(c);
  grant(h);
}

static void on_io(cc__io_t *w, unsigned events) {
  (void)events;
  h1_conn_t *c = w->data;
  if (c->task) {
    cc_task_t *t = c->task;
    c->task = NULL;
    cc__wake(t, c->token, 0);
  } else if (!c->busy) {
    /* An idle connection became readable: the server closed it (or sent
     * something it should not have). It cannot serve another request. */
    c->h->s->st.idle_events++;
    conn_close(c);
  }
  /* else: in use and not waiting yet; the request reads it soon. */
}

/* Parks the request on c's watcher until `events` (CC__READ, or with
 * CC__WRITE too) or the deadline. */
static int conn_wait(h1_conn_t *c, unsigned events, int64_t deadline) {
  if (events != c->events) {
    int r = cc__io_start(c->h->s->loop, &c->io, events);
    if (r < 0)
      return r;
    c->events = events;
  }
  c->task = cc__self();
  c->token = cc__park_token();
  int r = cc__park("http response", c, deadline);
  c->task = NULL;
  return r;
}

static int conn_open(struct cc__h1 *h, h1_host_t *host, int64_t deadline,
                     h1_conn_t **out) {
  cc_http_session_t *s = h->s;
  int64_t cdl = cc_now() + s->o.connect_timeout_ms;
  if (deadline != CC_FOREVER && deadline < cdl)
    cdl = deadline;
  if (!host->naddrs) {
    cc_addr_t a;
    if (cc_addr_ip(&a, host->name, host->port) == 0) {
      host->addrs[0] = a;
      host->naddrs = 1;
    } else {
      int n = cc_resolve(host->name, host->port, AF_UNSPEC, host->addrs, MAX_ADDRS, cdl);
      if (n < 0)
        return n;
      host->naddrs = n;
    }
  }
  h1_conn_t *c = malloc(sizeof *c);
  if (!c)
    return -ENOMEM;
  memset(c, 0, offsetof(h1_conn_t, rbuf));
  c->h = h;
  c->host = host;
  c->busy = true; /* the opener's: on_io must not take it for an idle one */
  int rc = -ECONNREFUSED;
  for (int i = 0; i < host->naddrs; i++) {
    const cc_addr_t *a = &host->addrs[i];
    int fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      rc = -errno;
      continue;
    }
    s->st.sockets++;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    cc__io_init(&c->io, fd, on_io, c);
    c->events = 0;
    if (connect(fd, &a->u.sa, a->len) != 0) {
      if (errno != EINPROGRESS) {
        rc = -errno;
        close(fd);
        continue;
      }
      rc = conn_wait(c, CC__WRITE, cdl);
      if (rc == 0) {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
        rc = -e;
      }
      if (rc < 0) {
        cc__io_stop(&c->io);
        close(fd);
        if (rc == -ETIMEDOUT || rc == -ECANCELED)
          break;
        continue;
      }
    }
    if ((rc = cc__io_start(s->loop, &c->io, CC__READ)) < 0) {
      cc__io_stop(&c->io);
      close(fd);
      break;
    }
    c->events = CC__READ;
    s->st.watched++;
    if (i > 0) { /* the address that answered first from now on */
      cc_addr_t t = host->addrs[0];
      host->addrs[0] = host->addrs[i];
      host->addrs[i] = t;
    }
    *out = c;
    return 0;
  }
  free(c);
  return rc;
}

/* Hands the first waiter that can proceed a connection or a slot, until no
 * waiter can. */
static void grant(struct cc__h1 *h) {
  cc__waiter_t *w = h->waiters.head;
  while (w) {
    cc__waiter_t *next = w->next;
    h1_wait_t *hw = w->data;
    h1_host_t *host = hw->host;
    h1_conn_t *c = host->idle;
    if (c || can_open(h, host)) {
      cc__wlist_remove(&h->waiters, w);
      if (c) {
        host->idle = c->next;
        c->busy = true; /* from now on: on_io leaves it to the waiter */
      } else {
        host->open++;
        h->open++;
      }
      hw->conn = c;
      if (!cc__wake(w->task, w->token, 0)) {
        /* Its park ended meanwhile: it takes nothing. */
        if (c) {
          c->busy = false;
          c->next = host->idle;
          host->idle = c;
        } else {
          host->open--;
          h->open--;
        }
        next = h->waiters.head; /* start over: the list changed */
      }
    }
    w = next;
  }
}

/* A connection, or (*out NULL) the right to open one, already counted. */
static int acquire(struct cc__h1 *h, h1_host_t *host, int64_t deadline, h1_conn_t **out) {
  *out = NULL;
  for (;;) {
    h1_conn_t *c = host->idle;
    if (c) {
      host->idle = c->next;
      c->busy = true;
      *out = c;
      return 0;
    }
    /* (Waiters for this host would have been handed any free slot: grant()
     * runs whenever one frees up, so no one is overtaken here.) */
    if (can_open(h, host)) {
      host->open++;
      h->open++;
      return 0;
    }
    /* Only the total limit in the way: close an idle connection to another
     * host. */
    if (h->s->o.max_conns_per_host <= 0 || host->open < h->s->o.max_conns_per_host) {
      h1_conn_t *victim = NULL;
      for (h1_host_t *o = h->hosts; o && !victim; o = o->next)
        if (o != host && o->idle)
          victim = o->idle;
      if (victim) {
        idle_unlink(victim);
        conn_destroy(victim);
        continue;
      }
    }
    h1_wait_t hw = {.host = host};
    cc__waiter_init(&hw.w, &hw);
    cc__wlist_push(&h->waiters, &hw.w);
    int r = cc__park("http connection", host, deadline);
    if (r < 0) {
      cc__wlist_remove(&h->waiters, &hw.w);
      return r;
    }
    *out = hw.conn;
    return 0;
  }
}

/* Gives back a slot that acquire() granted but that was not used. */
static void unreserve(struct cc__h1 *h, h1_host_t *host) {
  host->open--;
  h->open--;
  grant(h);
}

/* Whether a waiter is held back by max_conns alone (its host's own limit
 * would let it open a connection). */
static bool total_bound(struct cc__h1 *h) {
  long per = h->s->o.max_conns_per_host;
  for (cc__waiter_t *w = h->waiters.head; w; w = w->next) {
    h1_wait_t *hw = w->data;
    if (per <= 0 || hw->host->open < per)
      return true;
  }
  return false;
}

/* The request is done with c: keep it for the next one or close it. */
static void release(h1_conn_t *c, bool reuse) {
  struct cc__h1 *h = c->h;
  if (reuse) {
    for (cc__waiter_t *w = h->waiters.head; w;) {
      cc__waiter_t *next = w->next;
      h1_wait_t *hw = w->data;
      if (hw->host == c->host) {
        cc__wlist_remove(&h->waiters, w);
        hw->conn = c;
        if (cc__wake(w->task, w->token, 0))
          return; /* still busy: now the waiter's */
        next = h->waiters.head;
      }
      w = next;
    }
    if (!total_bound(h)) {
      c->busy = false;
      c->next = c->host->idle;
      c->host->idle = c;
      return;
    }
    /* A waiter for another host that only the total limit holds back:
     * this connection's slot serves it better. */
  }
  conn_destroy(c);
  grant(h);
}

static h1_host_t *host_get(struct cc__h1 *h, const h1_url_t *u) {
  for (h1_host_t *o = h->hosts; o; o = o->next)
    if (o->port == u->port && o->name_len == u->host_len &&
        strncasecmp(o->name, u->host, u->host_len) == 0)
      return o;
  cc_http_session_t *s = h->s;
  h1_host_t *o = calloc(1, sizeof *o);
  if (!o)
    return NULL;
  o->name = malloc(u->host_len + 1);
  o->spelt = malloc(u->host_len + 1);
  size_t cap = u->host_len + strlen(s->ua) + 160;
  o->prefix = malloc(cap);
  if (!o->name || !o->spelt || !o->prefix) {
    free(o->name);
    free(o->spelt);
    free(o->prefix);
    free(o);
    return NULL;
  }
  memcpy(o->spelt, u->host, u->host_len);
  o->spelt[u->host_len] = '\0';
  for (size_t i = 0; i < u->host_len; i++)
    o->name[i] =
        (char)(u->host[i] >= 'A' && u->host[i] <= 'Z' ? u->host[i] + 32 : u->host[i]);
  o->name[u->host_len] = '\0';
  o->name_len = u->host_len;
  o->port = u->port;
  bool v6 = memchr(o->name, ':', o->name_len) != NULL;
  int n = 0;
  o->line_off[0] = 0;
  if (u->port == 80)
    n = snprintf(o->prefix, cap, v6 ? "Host: [%s]\r\n" : "Host: %s\r\n", o->spelt);
  else
    n = snprintf(o->prefix, cap, v6 ? "Host: [%s]:%d\r\n" : "Host: %s:%d\r\n", o->spelt,
                 u->port);
  o->line_off[1] = (size_t)n;
  n += snprintf(o->prefix + n, cap - (size_t)n, "User-Agent: %s\r\n", s->ua);
  o->line_off[2] = (size_t)n;
  n += snprintf(o->prefix + n, cap - (size_t)n, "Accept: */*\r\n");
  o->line_off[3] = (size_t)n;
  if (!s->o.no_decompress)
    n += snprintf(o->prefix + n, cap - (size_t)n, "Accept-Encoding: %s\r\n",
                  h->accept_encoding);
  o->line_off[4] = (size_t)n;
  o->prefix_len = (size_t)n;
  o->next = h->hosts;
  h->hosts = o;
  return o;
}

int cc__h1c_new(cc_http_session_t *s) {
  struct cc__h1 *h = calloc(1, sizeof *h);
  if (!h)
    return -ENOMEM;
  h->s = s;
  /* libcurl's list of the encodings it was built to decode, in its order
   * (content_encoding.c); this transport decodes all of them. */
  const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
  snprintf(h->accept_encoding, sizeof h->accept_encoding, "deflate, gzip%s%s",
           vi->features & CURL_VERSION_BROTLI ? ", br" : "",
           vi->features & CURL_VERSION_ZSTD ? ", zstd" : "");
  s->h1 = h;
  return 0;
}

void cc__h1c_free(cc_http_session_t *s) {
  struct cc__h1 *h = s->h1;
  if (!h)
    return;
  h1_host_t *o;
  while ((o = h->hosts)) {
    h->hosts = o->next;
    h1_conn_t *c;
    while ((c = o->idle)) {
      o->idle = c->next;
      conn_destroy(c);
    }
    free(o->name);
    free(o->spelt);
    free(o->prefix);
    free(o);
  }
  free(h);
  s->h1 = NULL;
}

/* ---- the response parser (llhttp callbacks) ----------------------------------- */

static int hput(cc__http_resp_t *r, const char *p, size_t n) {
  if (r->hlen + n + 1 > r->hcap) {
    if (r->hlen + n + 1 > MAX_HEAD_BYTES)
      return -CC_EPROTO_HTTP;
    if (cc__http_grow(&r->hbuf, &r->hcap, r->hlen + n + 1) < 0)
      return -ENOMEM;
  }
  memcpy(r->hbuf + r->hlen, p, n);
  r->hlen += n;
  return 0;
}

/* The two separator bytes after a name and after a value: two stores, not
 * a memcpy call (this runs twice per header line). */
static inline int hput2(cc__http_resp_t *r, char a, char b) {
  if (r->hlen + 3 > r->hcap) {
    int e = hput(r, "  ", 2);
    if (e)
      return e;
    r->hlen -= 2;
  }
  r->hbuf[r->hlen] = a;
  r->hbuf[r->hlen + 1] = b;
  r->hlen += 2;
  return 0;
}

#define REQ(p) ((h1_req_t *)(p)->data)

static int fail(h1_req_t *q, int err) {
  q->err = err;
  return -1;
}

static int on_begin(llhttp_t *p) {
  h1_req_t *q = REQ(p);
  q->r->hlen = 0;
  int e =
      hput(q->r, "HTTP\r\n", 6); /* the status line: cc__http_parse_headers skips it */
  return e ? fail(q, e) : 0;
}

/* Header lines go into the header buffer until the headers are complete;
 * a chunked body's trailers come through the same callbacks and are
 * dropped (as on the libcurl path): the header array points into that
 * buffer, which must not move any more. */
static int on_hfield(llhttp_t *p, const char *at, size_t n) {
  if (REQ(p)->headers_done)
    return 0;
  int e = hput(REQ(p)->r, at, n);
  return e ? fail(REQ(p), e) : 0;
}

static int on_hfield_done(llhttp_t *p) {
  if (REQ(p)->headers_done)
    return 0;
  int e = hput2(REQ(p)->r, ':', ' ');
  return e ? fail(REQ(p), e) : 0;
}

static int on_hvalue_done(llhttp_t *p) {
  if (REQ(p)->headers_done)
    return 0;
  int e = hput2(REQ(p)->r, '\r', '\n');
  return e ? fail(REQ(p), e) : 0;
}

static bool token_is(const char *v, size_t n, const char *t) {
  size_t tl = strlen(t);
  return n == tl && strncasecmp(v, t, n) == 0;
}

static int dec_init(h1_req_t *q) {
  switch (q->enc) {
  case ENC_GZIP:
  case ENC_DEFLATE:
    memset(&q->z, 0, sizeof q->z);
    if (inflateInit2(&q->z, q->enc == ENC_GZIP ? 15 + 16 : 15) != Z_OK)
      return -ENOMEM;
    q->z_on = true;
    return 0;
  case ENC_BR:
    return (q->br = BrotliDecoderCreateInstance(NULL, NULL, NULL)) ? 0 : -ENOMEM;
  case ENC_ZSTD:
    return (q->zd = ZSTD_createDStream()) ? 0 : -ENOMEM;
  }
  return 0;
}

static void dec_end(h1_req_t *q) {
  if (q->z_on)
    inflateEnd(&q->z);
  q->z_on = false;
  if (q->br)
    BrotliDecoderDestroyInstance(q->br);
  q->br = NULL;
  if (q->zd)
    ZSTD_freeDStream(q->zd);
  q->zd = NULL;
}

/* Everything a parsed answer held beyond the response (decoders, the raw
 * body of stacked codings). */
static void req_end(h1_req_t *q) {
  dec_end(q);
  free(q->raw);
  q->raw = NULL;
  q->raw_len = q->raw_cap = 0;
}

static int on_headers(llhttp_t *p) {
  h1_req_t *q = REQ(p);
  cc__http_resp_t *r = q->r;
  int e = hput(r, "\r\n", 2);
  if (e)
    return fail(q, e);
  int st = p->status_code;
  if (st < 100 || st > 999)
    /* llhttp takes "HTTP/1.1 2"; to libcurl that is no status line but
     * HTTP/0.9, which it refuses. */
    return fail(q, -EPROTONOSUPPORT);
  if (st >= 100 && st < 200 && st != 101) {
    q->interim = true; /* 100 Continue, 103 Early Hints: the answer follows */
    return 0;
  }
  q->interim = false;
  q->headers_done = true;
  if (st == 101)
    return fail(q, -CC_EPROTO_HTTP); /* no upgrade was asked for */
  if ((e = cc__http_parse_headers(r)) < 0)
    return fail(q, e);
  r->pub.status = st;
  r->pub.http_version = p->http_major == 1 && p->http_minor == 0 ? 10 : 11;
  /* One pass over the headers for the three the transport acts on. */
  const cc_http_header_t *ce = NULL;
  q->loc = NULL;
  q->cookies = false;
  for (size_t i = 0; i < r->pub.nheaders; i++) {
    const cc_http_header_t *h = &r->pub.headers[i];
    if (h->name_len == 8 && !q->loc && strncasecmp(h->name, "Location", 8) == 0)
      q->loc = h;
    else if (h->name_len == 10 && strncasecmp(h->name, "Set-Cookie", 10) == 0)
      q->cookies = true;
    else if (h->name_len == 16 && !ce &&
             strncasecmp(h->name, "Content-Encoding", 16) == 0)
      ce = h;
  }
  if (q->head || st == 204 || st == 304)
    return 1; /* no body, whatever the headers say */
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > q->max_body)
    return fail(q, -CC_ETOOBIG);
  q->enc = ENC_NONE;
  q->ncodings = 0;
  if (q->decode && ce && ce->value_len) {
    /* The codings in the order they were applied; identity is none. */
    const char *v = ce->value, *end = ce->value + ce->value_len;
    while (v < end) {
      const char *t = v;
      while (v < end && *v != ',')
        v++;
      const char *te;
      t = trim(t, v, &te);
      size_t n = (size_t)(te - t);
      if (v < end)
        v++; /* the ',' */
      int c;
      if (n == 0 || token_is(t, n, "identity"))
        continue;
      if (token_is(t, n, "gzip") || token_is(t, n, "x-gzip"))
        c = ENC_GZIP;
      else if (token_is(t, n, "deflate"))
        c = ENC_DEFLATE;
      else if (token_is(t, n, "br"))
        c = ENC_BR;
      else if (token_is(t, n, "zstd"))
        c = ENC_ZSTD;
      else
        return fail(q, -CC_EPROTO_HTTP); /* libcurl: unrecognised content encoding */
      if (q->ncodings == MAX_CODINGS)
        return fail(q, -CC_EPROTO_HTTP); /* libcurl: too many encodings */
      q->codings[q->ncodings++] = c;
    }
    if (q->ncodings == 1) {
      q->enc = q->codings[0];
      if ((e = dec_init(q)) < 0)
        return fail(q, e);
    } else if (q->ncodings > 1) {
      q->enc = ENC_STACK;
    }
  }
  return 0;
}

/* ENC_STACK at the end of the body: each coding undone in turn, the last
 * applied first, into the response's body. */
static int decode_stack(h1_req_t *q) {
  cc__http_resp_t *r = q->r;
  const char *in = q->raw ? q->raw : "";
  size_t n = q->raw_len;
  char *tmp = NULL;
  int e = 0;
  for (int i = q->ncodings - 1; i >= 0 && e == 0; i--) {
    q->enc = q->codings[i];
    q->enc_end = false;
    q->z_raw_tried = false;
    r->body_len = 0;
    if ((e = dec_init(q)) == 0)
      e = decode(q, in, n);
    dec_end(q);
    if (e == 0 && i > 0) { /* this stage's output is the next one's input */
      char *t = malloc(r->body_len ? r->body_len : 1);
      if (!t) {
        e = -ENOMEM;
        break;
      }
      memcpy(t, r->body, r->body_len);
      free(tmp);
      tmp = t;
      in = t;
      n = r->body_len;
    }
  }
  free(tmp);
  q->enc = ENC_STACK;
  return e;
}

/* Room for at least `want` more body bytes (and the NUL), within max_body. */
static int body_room(h1_req_t *q, size_t want) {
  cc__http_resp_t *r = q->r;
  if (r->body_len + 1 + want > r->body_cap &&
      cc__http_grow(&r->body, &r->body_cap, r->body_len + 1 + want) < 0)
    return -ENOMEM;
  return 0;
}

static int decode(h1_req_t *q, const char *at, size_t n) {
  cc__http_resp_t *r = q->r;
  const uint8_t *in = (const uint8_t *)at;
  size_t avail = n;
  while (!q->enc_end) {
    int e = body_room(q, avail * 4 > 16384 ? avail * 4 : 16384);
    if (e)
      return e;
    size_t room = r->body_cap - r->body_len - 1;
    uint8_t *out = (uint8_t *)r->body + r->body_len;
    size_t made = 0;
    bool more_out = false;
    if (q->enc == ENC_GZIP || q->enc == ENC_DEFLATE) {
      q->z.next_in = (Bytef *)in;
      q->z.avail_in = (uInt)avail;
      q->z.next_out = out;
      q->z.avail_out = (uInt)room;
      int zr = inflate(&q->z, Z_NO_FLUSH);
      if (zr == Z_DATA_ERROR && q->enc == ENC_DEFLATE && !q->z_raw_tried &&
          q->z.total_out == 0) {
        /* "deflate" sent as a raw stream without its zlib wrapper, as some
         * servers do (libcurl accepts it too). */
        q->z_raw_tried = true;
        inflateEnd(&q->z);
        memset(&q->z, 0, sizeof q->z);
        if (inflateInit2(&q->z, -15) != Z_OK) {
          q->z_on = false;
          return -ENOMEM;
        }
        in = (const uint8_t *)at; /* total_out == 0: nothing of this piece was used */
        avail = n;
        continue;
      }
      if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
        return -CC_EPROTO_HTTP;
      made = room - q->z.avail_out;
      in = q->z.next_in;
      avail = q->z.avail_in;
      q->enc_end = zr == Z_STREAM_END;
      more_out = q->z.avail_out == 0;
    } else if (q->enc == ENC_BR) {
      size_t ao = room;
      uint8_t *o2 = out;
      BrotliDecoderResult br =
          BrotliDecoderDecompressStream(q->br, &avail, &in, &ao, &o2, NULL);
      if (br == BROTLI_DECODER_RESULT_ERROR)
        return -CC_EPROTO_HTTP;
      made = room - ao;
      q->enc_end = br == BROTLI_DECODER_RESULT_SUCCESS;
      more_out = br == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
    } else {
      ZSTD_inBuffer ib = {in, avail, 0};
      ZSTD_outBuffer ob = {out, room, 0};
      size_t zr = ZSTD_decompressStream(q->zd, &ob, &ib);
      if (ZSTD_isError(zr))
        return -CC_EPROTO_HTTP;
      made = ob.pos;
      in += ib.pos;
      avail -= ib.pos;
      q->enc_end = zr == 0;
      more_out = ob.pos == ob.size;
    }
    r->body_len += made;
    if (r->body_len > q->max_body)
      return -CC_ETOOBIG;
    if (!more_out && avail == 0)
      break;
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  h1_req_t *q = REQ(p);
  cc__http_resp_t *r = q->r;
  int e;
  if (q->enc == ENC_STACK) {
    /* Kept raw until the end; bounded, as the decoded body is. */
    if (q->raw_len + n > q->max_body + (1u << 20))
      e = -CC_ETOOBIG;
    else if ((e = cc__http_grow(&q->raw, &q->raw_cap, q->raw_len + n)) == 0) {
      memcpy(q->raw + q->raw_len, at, n);
      q->raw_len += n;
    }
  } else if (q->enc != ENC_NONE) {
    e = decode(q, at, n);
  } else if (r->body_len + n > q->max_body) {
    e = -CC_ETOOBIG;
  } else if ((e = body_room(q, n)) == 0) {
    memcpy(r->body + r->body_len, at, n);
    r->body_len += n;
  }
  return e ? fail(q, e) : 0;
}

static int on_complete(llhttp_t *p) {
  h1_req_t *q = REQ(p);
  if (q->interim)
    return 0; /* the next message is the answer */
  /* An encoded stream that stops short of its end is not an error: libcurl
   * hands over what decoded, and so do we. */
  if (q->enc == ENC_STACK) {
    int e = decode_stack(q);
    if (e)
      return fail(q, e);
  }
  q->done = true;
  return HPE_PAUSED; /* anything after the answer is not ours to parse */
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_begin,
    .on_header_field = on_hfield,
    .on_header_field_complete = on_hfield_done,
    .on_header_value = on_hfield, /* appended the same way */
    .on_header_value_complete = on_hvalue_done,
    .on_headers_complete = on_headers,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* Feeds n received bytes of the answer to the parser: 1 when the answer
 * is complete (*keep: nothing follows it and the connection may serve
 * another request), 0 when more is needed, or an error. */
static int feed(llhttp_t *p, h1_req_t *q, const char *b, size_t n, bool *keep) {
  if (!q->got_any)
    q->not_http = memcmp(b, "HTTP/", n < 5 ? n : 5) != 0;
  q->got_any = true;
  llhttp_errno_t e = llhttp_execute(p, b, n);
  if (q->done) {
    *keep = llhttp_should_keep_alive(p) && llhttp_get_error_pos(p) == b + n;
    return 1;
  }
  if (e != HPE_OK)
    /* Not HTTP/1.x at all: libcurl's "HTTP/0.9 not allowed". */
    return q->err ? q->err : q->not_http ? -EPROTONOSUPPORT : -CC_EPROTO_HTTP;
  return 0;
}

/* The server closed the connection: the end of a body delimited by the
 * close (0), or what the answer lacks. */
static int at_eof(llhttp_t *p, h1_req_t *q) {
  if (!q->got_any)
    return -ECONNRESET; /* libcurl's "empty reply from server" */
  llhttp_finish(p);
  if (q->done)
    return 0;
  if (q->err)
    return q->err;
  return q->headers_done ? -CC_EHTTP_PARTIAL
         : q->not_http   ? -EPROTONOSUPPORT
                         : -CC_EPROTO_HTTP;
}

int cc__h1c_parse(cc__http_resp_t *r, const char *p, size_t n, size_t piece, bool head,
                  bool decode, size_t max_body, bool *keep) {
  llhttp_t parser;
  h1_req_t q = {.decode = decode, .r = r, .max_body = max_body, .head = head};
  llhttp_init(&parser, HTTP_RESPONSE, &settings);
  parser.data = &q;
  r->body_len = r->hlen = 0;
  *keep = false;
  int rc = 0;
  for (size_t off = 0; off < n && rc == 0; off += piece) {
    size_t k = n - off < piece ? n - off : piece;
    rc = feed(&parser, &q, p + off, k, keep);
    if (rc == 1 && off + k < n)
      *keep = false; /* bytes after the answer */
  }
  if (rc == 0)
    rc = at_eof(&parser, &q);
  req_end(&q);
  if (rc == 1)
    rc = 0;
  if (rc == 0 && cc__http_grow(&r->body, &r->body_cap, r->body_len + 1) == 0)
    r->body[r->body_len] = '\0';
  return rc;
}

/* ---- one exchange on one connection --------------------------------------------- */

/* Internal result: the reused connection ended before any byte of the
 * response (retry on a new one if the request is idempotent). */
#define STALE 1

static int send_all(h1_conn_t *c, struct iovec *iov, int n, int64_t deadline) {
  struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
  for (;;) {
    ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN) {
        int e = -errno;
        return e == -EPIPE ? -ECONNRESET : e;
      }
      /* Writable only: a server that answers early and stops reading must
       * not wake us for its answer over and over (level-triggered). */
      int r = conn_wait(c, CC__WRITE, deadline);
      if (r < 0)
        return r;
      continue;
    }
    while (m.msg_iovlen && (size_t)w >= m.msg_iov->iov_len) {
      w -= (ssize_t)m.msg_iov->iov_len;
      m.msg_iov++;
      m.msg_iovlen--;
    }
    if (!m.msg_iovlen)
      break;
    m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + w;
    m.msg_iov->iov_len -= (size_t)w;
  }
  if (c->events != CC__READ && cc__io_start(c->h->s->loop, &c->io, CC__READ) == 0)
    c->events = CC__READ;
  return 0;
}

/* Sends the request and reads its answer into q->r. Returns 0 with *keep
 * (the connection may serve another request), STALE, or an error. */
static int exchange(h1_conn_t *c, h1_req_t *q, struct iovec *iov, int niov,
                    int64_t deadline, bool *keep) {
  *keep = false;
  bool reused = c->uses > 0;
  int rc = send_all(c, iov, niov, deadline);
  if (rc < 0)
    return reused && (rc == -ECONNRESET) ? STALE : rc;
  llhttp_init(&c->parser, HTTP_RESPONSE, &settings);
  c->parser.data = q;
  bool wait = true; /* nothing can be there yet: park before the first recv */
  for (;;) {
    if (wait && (rc = conn_wait(c, CC__READ, deadline)) < 0)
      return rc;
    ssize_t n = recv(c->fd, c->rbuf, RBUF_BYTES, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        wait = errno == EAGAIN;
        continue;
      }
      rc = -errno;
      if (!q->got_any && reused)
        return STALE;
      return rc == -EPIPE ? -ECONNRESET : rc;
    }
    if (n == 0)
      return !q->got_any && reused ? STALE : at_eof(&c->parser, q);
    if ((rc = feed(&c->parser, q, c->rbuf, (size_t)n, keep)) != 0) {
      if (rc == 1) {
        c->uses++;
        rc = 0;
      }
      return rc;
    }
    wait = (size_t)n < RBUF_BYTES;
  }
}

/* ---- requests ---------------------------------------------------------------------- */

static int wput(h1_conn_t *c, size_t *len, const char *p, size_t n) {
  if (*len + n + 1 > c->wcap && cc__http_grow(&c->wbuf, &c->wcap, *len + n + 1) < 0)
    return -ENOMEM;
  memcpy(c->wbuf + *len, p, n);
  *len += n;
  return 0;
}

static bool has_header(const cc_http_request_t *q, const char *name) {
  return cc_http_header_find(q->headers, q->nheaders, name) != NULL;
}

static int put_ct(h1_conn_t *c, size_t *len, const char *ct) {
  int r;
  if ((r = wput(c, len, "Content-Type: ", 14)) < 0 ||
      (r = wput(c, len, ct, strlen(ct))) < 0)
    return r;
  return wput(c, len, "\r\n", 2);
}

/* The request head into c->wbuf; the body into iov[1]. */
static int build(h1_conn_t *c, const cc_http_request_t *q, const h1_url_t *u,
                 struct iovec iov[2], int *niov, char **form, size_t *form_cap) {
  h1_host_t *host = c->host;
  size_t len = 0;
  int r;
  const char *m =
      q->method == CC_HTTP_OTHER ? q->method_name : cc_http_method_name(q->method);
  if ((r = wput(c, &len, m, strlen(m))) < 0 || (r = wput(c, &len, " ", 1)) < 0)
    return r;
  if (u->target_len == 0 || u->target[0] != '/')
    if ((r = wput(c, &len, "/", 1)) < 0)
      return r;
  if ((r = wput(c, &len, u->target, u->target_len)) < 0)
    return r;
  if (q->nquery) {
    bool has_q = memchr(u->target, '?', u->target_len) != NULL;
    if ((r = wput(c, &len, has_q ? "&" : "?", 1)) < 0)
      return r;
    size_t l2 = len;
    if (cc__http_grow(&c->wbuf, &c->wcap, len + 1) < 0 ||
        (r = cc__http_put_pairs(&c->wbuf, &c->wcap, &l2, q->query, q->nquery)) < 0)
      return r < 0 ? r : -ENOMEM;
    len = l2;
  }
  if ((r = wput(c, &len, " HTTP/1.1\r\n", 11)) < 0)
    return r;
  /* The prefix's Host line has the host as the record's first URL spelt
   * it; libcurl sends it as this URL spells it. */
  bool spelt = memcmp(u->host, host->spelt, u->host_len) == 0;
  if (!q->nheaders && spelt) {
    if ((r = wput(c, &len, host->prefix, host->prefix_len)) < 0)
      return r;
  } else {
    static const char *const names[4] = {"Host", "User-Agent", "Accept",
                                         "Accept-Encoding"};
    for (int i = 0; i < 4; i++) {
      if (has_header(q, names[i]))
        continue;
      if (i == 0 && !spelt) {
        char port[16];
        int pl = u->port == 80 ? 0 : snprintf(port, sizeof port, ":%d", u->port);
        bool v6 = memchr(u->host, ':', u->host_len) != NULL;
        if ((r = wput(c, &len, v6 ? "Host: [" : "Host: ", v6 ? 7 : 6)) < 0 ||
            (r = wput(c, &len, u->host, u->host_len)) < 0 ||
            (v6 && (r = wput(c, &len, "]", 1)) < 0) ||
            (r = wput(c, &len, port, (size_t)pl)) < 0 ||
            (r = wput(c, &len, "\r\n", 2)) < 0)
          return r;
      } else if ((r = wput(c, &len, host->prefix + host->line_off[i],
                           host->line_off[i + 1] - host->line_off[i])) < 0) {
        return r;
      }
    }
    for (size_t i = 0; i < q->nheaders; i++) {
      const cc_http_header_t *h = &q->headers[i];
      if ((r = wput(c, &len, h->name, h->name_len)) < 0 ||
          (r = wput(c, &len, ":", 1)) < 0 ||
          (h->value_len && ((r = wput(c, &len, " ", 1)) < 0 ||
                            (r = wput(c, &len, h->value, h->value_len)) < 0)) ||
          (r = wput(c, &len, "\r\n", 2)) < 0)
        return r;
    }
  }
  /* The order libcurl sends them in: client.c gives libcurl the type of a
   * JSON or raw body as a custom header (after the caller's), then libcurl
   * adds Content-Length, then its default type for a form body. */
  const void *body = NULL;
  size_t blen = 0;
  const char *ct = NULL;
  bool has_body = true, ct_custom = false;
  if (q->json) {
    body = q->json;
    blen = strlen(q->json);
    ct = "application/json";
    ct_custom = true;
  } else if (q->body) {
    body = q->body;
    blen = q->body_len;
    ct = q->content_type ? q->content_type : "application/octet-stream";
    ct_custom = true;
  } else if (q->nform) {
    size_t fl = 0;
    if ((r = cc__http_grow(form, form_cap, 1)) < 0 ||
        (r = cc__http_put_pairs(form, form_cap, &fl, q->form, q->nform)) < 0)
      return r;
    body = *form;
    blen = fl;
    ct = "application/x-www-form-urlencoded";
  } else if (q->method == CC_HTTP_POST) {
    body = "";
    ct = "application/x-www-form-urlencoded"; /* libcurl's empty POST */
  } else {
    has_body = false;
  }
  if (has_body) {
    char cl[48];
    int n = snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", blen);
    bool ct_default = !ct_custom && !has_header(q, "Content-Type");
    if (ct_custom && (r = put_ct(c, &len, ct)) < 0)
      return r;
    /* A Content-Length of the caller's replaces libcurl's own. */
    if (!(q->nheaders && has_header(q, "Content-Length")) &&
        (r = wput(c, &len, cl, (size_t)n)) < 0)
      return r;
    if (ct_default && (r = put_ct(c, &len, ct)) < 0)
      return r;
  }
  if ((r = wput(c, &len, "\r\n", 2)) < 0)
    return r;
  iov[0] = (struct iovec){c->wbuf, len};
  *niov = 1;
  if (blen) {
    iov[1] = (struct iovec){(void *)body, blen};
    *niov = 2;
  }
  return 0;
}

/* Netscape lines for each Set-Cookie of r, into the session's jar. */
static void take_cookies(cc_http_session_t *s, const h1_url_t *u, cc__http_resp_t *r) {
  enum { LINE = 8192 };
  char host[256];
  char *line; /* on the heap: coroutine stacks may be small */
  if (u->host_len >= sizeof host || !(line = malloc(LINE)))
    return;
  for (size_t i = 0; i < u->host_len; i++)
    host[i] =
        (char)(u->host[i] >= 'A' && u->host[i] <= 'Z' ? u->host[i] + 32 : u->host[i]);
  host[u->host_len] = '\0';
  const char *path = u->target_len ? u->target : "/";
  size_t pl = u->target_len ? u->path_len : 1;
  int64_t now = (int64_t)time(NULL);
  for (size_t i = 0; i < r->pub.nheaders; i++) {
    const cc_http_header_t *h = &r->pub.headers[i];
    if (h->name_len != 10 || strncasecmp(h->name, "Set-Cookie", 10) != 0)
      continue;
    if (cc__h1c_cookie_line(host, path, pl, h->value, h->value_len, now, line, LINE) > 0)
      cc__http_cookie_add(s, line);
  }
  free(line);
}

/* One request on one URL (no redirect): a connection, the exchange, the
 * stale-connection retry. */
static int one_hop(cc_http_session_t *s, const cc_http_request_t *q, const h1_url_t *u,
                   int64_t deadline, cc__http_resp_t *r, size_t max_body, char **form,
                   size_t *form_cap, const cc_http_header_t **loc) {
  struct cc__h1 *h = s->h1;
  h1_host_t *host = host_get(h, u);
  if (!host)
    return -ENOMEM;
  bool idem = q->method == CC_HTTP_GET || q->method == CC_HTTP_HEAD ||
              q->method == CC_HTTP_PUT || q->method == CC_HTTP_DELETE ||
              q->method == CC_HTTP_OPTIONS || q->method == CC_HTTP_TRACE;
  for (int tries = 0;; tries++) {
    h1_conn_t *c;
    int rc = acquire(h, host, deadline, &c);
    if (rc < 0)
      return rc;
    if (!c && (rc = conn_open(h, host, deadline, &c)) < 0) {
      unreserve(h, host);
      return rc;
    }
    c->busy = true;
    struct iovec iov[2];
    int niov;
    if ((rc = build(c, q, u, iov, &niov, form, form_cap)) < 0) {
      release(c, true);
      return rc;
    }
    h1_req_t rq = {.decode = !s->o.no_decompress,
                   .r = r,
                   .max_body = max_body,
                   .head = q->method == CC_HTTP_HEAD};
    r->body_len = 0;
    r->hlen = 0;
    bool keep;
    rc = exchange(c, &rq, iov, niov, deadline, &keep);
    req_end(&rq);
    if (rc == 0) {
      release(c, keep);
      if (rq.cookies && !s->o.no_cookies)
        take_cookies(s, u, r);
      *loc = rq.loc;
      return 0;
    }
    conn_close(c);
    if (rc == STALE) {
      if (idem && tries == 0) {
        /* Its idle siblings are suspect too: the retry opens a new one. */
        h1_conn_t *o;
        while ((o = host->idle)) {
          host->idle = o->next;
          conn_destroy(o);
        }
        continue;
      }
      rc = -ECONNRESET;
    }
    return rc;
  }
}

/* Fills the public fields of r after a hop: the URL as libcurl reports it
 * (CURLINFO_EFFECTIVE_URL: the URL as given, fragment and all, with a '/'
 * for an empty path; with query pairs, what client.c gave libcurl: the URL
 * up to '#', then the pairs). */
static int finish(cc__http_resp_t *r, const cc_http_request_t *q, const h1_url_t *u,
                  int redirects, int64_t t0) {
  size_t ul = q->nquery ? u->url_len : strlen(q->url), len = 0;
  size_t pre = (size_t)(u->target - q->url);
  bool slash = u->target_len == 0 || u->target[0] != '/';
  if (cc__http_grow(&r->body, &r->body_cap, r->body_len + 1) < 0 ||
      cc__http_grow(&r->url, &r->url_cap, ul + 3) < 0)
    return -ENOMEM;
  r->body[r->body_len] = '\0';
  memcpy(r->url, q->url, pre);
  len = pre;
  if (slash)
    r->url[len++] = '/';
  memcpy(r->url + len, q->url + pre, ul - pre);
  len += ul - pre;
  r->url[len] = '\0';
  if (q->nquery) {
    r->url[len++] = memchr(q->url, '?', ul) ? '&' : '?';
    int rc = cc__http_put_pairs(&r->url, &r->url_cap, &len, q->query, q->nquery);
    if (rc < 0)
      return rc;
  }
  r->pub.url = r->url;
  r->pub.body = r->body;
  r->pub.body_len = r->body_len;
  r->pub.redirects = redirects;
  r->pub.total_s = (double)(cc_now_ns() - t0) * 1e-9;
  return 0;
}

int cc__h1c_request(cc_http_session_t *s, const cc_http_request_t *q0,
                    cc__http_resp_t **out) {
  *out = NULL;
  h1_url_t u;
  if (!eligible(s, q0, &u))
    return CC__H1C_NOT_MINE;
  cc__http_resp_t *r = cc__http_resp_get(s);
  if (!r)
    return -ENOMEM;
  int64_t t0 = cc_now_ns();
  int64_t tmo = q0->timeout_ms > 0 ? q0->timeout_ms : s->o.timeout_ms;
  int64_t deadline = tmo > 0 ? cc_now() + tmo : CC_FOREVER;
  size_t max_body = q0->max_body ? q0->max_body : s->o.max_body;
  cc_http_request_t q = *q0;
  char *owned = NULL; /* the URL of a redirect hop (curl_free) */
  char *form = NULL;
  size_t form_cap = 0;
  cc_http_header_t *hdrs = NULL; /* headers kept across a host change */
  int hops = 0, rc;
  s->st.in_flight++;
  for (;;) {
    const cc_http_header_t *loc = NULL;
    rc = one_hop(s, &q, &u, deadline, r, max_body, &form, &form_cap, &loc);
    if (rc < 0 || (rc = finish(r, &q, &u, hops, t0)) < 0)
      break;
    int st = r->pub.status;
    if (!(st >= 300 && st < 400 && st != 304 && loc && loc->value_len &&
          !q.no_redirects && s->o.max_redirects > 0))
      break;
    if (hops >= s->o.max_redirects) {
      rc = -CC_EHTTP_REDIRECTS;
      break;
    }
    /* The next URL, resolved against this one with libcurl's URL API. */
    CURLU *cu = curl_url();
    char *lv = malloc(loc->value_len + 1);
    char *next = NULL;
    rc = -ENOMEM;
    if (cu && lv) {
      memcpy(lv, loc->value, loc->value_len);
      lv[loc->value_len] = '\0';
      rc = -CC_EPROTO_HTTP;
      if (curl_url_set(cu, CURLUPART_URL, r->url, 0) == CURLUE_OK &&
          curl_url_set(cu, CURLUPART_URL, lv, CURLU_URLENCODE | CURLU_ALLOW_SPACE) ==
              CURLUE_OK &&
          curl_url_get(cu, CURLUPART_URL, &next, 0) == CURLUE_OK) {
        rc = 0;
      }
    }
    free(lv);
    curl_url_cleanup(cu);
    if (rc < 0)
      break;
    if (strncasecmp(next, "http://", 7) != 0 && strncasecmp(next, "https://", 8) != 0) {
      curl_free(next);
      rc = -EPROTONOSUPPORT; /* CURLOPT_REDIR_PROTOCOLS_STR "http,https" */
      break;
    }
    hops++;
    /* The method rules of libcurl's defaults as client.c sets a request
     * up: a request with a body is a POST to libcurl (other methods only
     * rename it with CURLOPT_CUSTOMREQUEST), and a 301, 302 or 303 turns
     * such a POST into a GET without its body; the custom name, if any,
     * stays. So a POST becomes a GET, a PUT with a body stays a PUT
     * without it, a DELETE without a body is left alone (and HEAD). */
    bool has_body = q.json || q.body || q.nform || q.method == CC_HTTP_POST;
    bool to_get = (st == 301 || st == 302 || st == 303) && has_body;
    const char *keep_ct = NULL;
    if (to_get) {
      /* libcurl had the type of a JSON or raw body as a custom header
       * (client.c), which it goes on sending without the body. */
      if (q.json)
        keep_ct = "application/json";
      else if (q.body)
        keep_ct = q.content_type ? q.content_type : "application/octet-stream";
      if (q.method == CC_HTTP_POST)
        q.method = CC_HTTP_GET;
      q.body = NULL;
      q.body_len = 0;
      q.json = NULL;
      q.form = NULL;
      q.nform = 0;
      q.content_type = NULL;
    }
    /* libcurl drops Authorization and Cookie headers of the caller on a
     * redirect to another host or port. */
    h1_url_t nu;
    bool same = parse_url(next, &nu) && nu.port == u.port && nu.host_len == u.host_len &&
                strncasecmp(nu.host, u.host, u.host_len) == 0;
    if ((!same && q.nheaders) || keep_ct) {
      cc_http_header_t *nh = malloc((q.nheaders + 1) * sizeof *nh);
      if (!nh) {
        curl_free(next);
        rc = -ENOMEM;
        break;
      }
      size_t k = 0;
      for (size_t i = 0; i < q.nheaders; i++) {
        const cc_http_header_t *hh = &q.headers[i];
        if (!same &&
            ((hh->name_len == 13 && strncasecmp(hh->name, "Authorization", 13) == 0) ||
             (hh->name_len == 6 && strncasecmp(hh->name, "Cookie", 6) == 0)))
          continue;
        nh[k++] = *hh;
      }
      if (keep_ct)
        nh[k++] = (cc_http_header_t){"Content-Type", 12, keep_ct, strlen(keep_ct)};
      free(hdrs);
      hdrs = nh;
      q.headers = nh;
      q.nheaders = k;
    }
    if (owned)
      curl_free(owned);
    owned = next;
    q.url = next;
    q.nquery = 0;   /* merged into the new URL by the server's Location */
    q.query = NULL; /* (libcurl does not re-append them either) */
    if (!eligible(s, &q, &u)) {
      /* https, a proxy, cookies now in the jar: libcurl takes the rest of
       * the chain with the rest of the budget. */
      cc__http_resp_put(r);
      r = NULL;
      s->st.in_flight--;
      cc__http_resp_t *cr = NULL;
      if (tmo > 0) {
        int64_t left = deadline - cc_now();
        q.timeout_ms = left > 0 ? left : 1;
      }
      rc = cc__http_curl_attempt(s, &q, s->o.max_redirects - hops, &cr);
      if (rc == 0) {
        cr->pub.redirects += hops;
        *out = cr;
      }
      curl_free(owned);
      free(form);
      free(hdrs);
      return rc;
    }
  }
  s->st.in_flight--;
  s->st.requests++;
  s->st.native++;
  if (owned)
    curl_free(owned);
  free(form);
  free(hdrs);
  if (rc < 0) {
    cc__http_resp_put(r);
    return rc;
  }
  *out = r;
  return 0;
}

/* ---- Set-Cookie into a cookie-file line ------------------------------------------ */

static bool is_ip(const char *h) {
  cc_addr_t a;
  return cc_addr_ip(&a, h, 0) == 0;
}

static const char *trim(const char *p, const char *e, const char **end) {
  while (p < e && (*p == ' ' || *p == '\t'))
    p++;
  while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
    e--;
  *end = e;
  return p;
}

static bool clean(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
      return false; /* tab, CR, LF, NUL: the line format cannot carry them */
  return true;
}

ssize_t cc__h1c_cookie_line(const char *host, const char *path, size_t path_len,
                            const char *sc, size_t sc_len, int64_t now, char *out,
                            size_t cap) {
  const char *e = sc + sc_len;
  const char *semi = memchr(sc, ';', sc_len);
  const char *pe = semi ? semi : e;
  const char *eq = memchr(sc, '=', (size_t)(pe - sc));
  if (!eq)
    return -EINVAL;
  const char *ne, *ve;
  const char *name = trim(sc, eq, &ne), *val = trim(eq + 1, pe, &ve);
  size_t nl = (size_t)(ne - name), vl = (size_t)(ve - val);
  if (!nl || !clean(name, nl) || !clean(val, vl) || memchr(name, ' ', nl))
    return -EINVAL;
  char domain[256] = "";
  size_t dl = 0;
  const char *cpath = NULL;
  size_t cpl = 0;
  bool secure = false, httponly = false, have_maxage = false;
  int64_t expires = 0, maxage = 0;
  const char *a = pe;
  while (a < e) {
    a++; /* the ';' */
    const char *ae = memchr(a, ';', (size_t)(e - a));
    if (!ae)
      ae = e;
    const char *aeq = memchr(a, '=', (size_t)(ae - a));
    const char *kn_e, *kv = NULL, *kv_e = NULL;
    const char *kn = trim(a, aeq ? aeq : ae, &kn_e);
    if (aeq)
      kv = trim(aeq + 1, ae, &kv_e);
    size_t kl = (size_t)(kn_e - kn), kvl = kv ? (size_t)(kv_e - kv) : 0;
    if (kl == 6 && strncasecmp(kn, "Domain", 6) == 0 && kv) {
      if (kvl && *kv == '.') {
        kv++;
        kvl--;
      }
      if (kvl >= sizeof domain || !clean(kv, kvl))
        return -EINVAL;
      for (size_t i = 0; i < kvl; i++)
        domain[i] = (char)(kv[i] >= 'A' && kv[i] <= 'Z' ? kv[i] + 32 : kv[i]);
      domain[kvl] = '\0';
      dl = kvl;
    } else if (kl == 4 && strncasecmp(kn, "Path", 4) == 0 && kv) {
      if (kvl && *kv == '/' && clean(kv, kvl)) {
        cpath = kv;
        cpl = kvl;
      }
    } else if (kl == 6 && strncasecmp(kn, "Secure", 6) == 0) {
      secure = true;
    } else if (kl == 8 && strncasecmp(kn, "HttpOnly", 8) == 0) {
      httponly = true;
    } else if (kl == 7 && strncasecmp(kn, "Max-Age", 7) == 0 && kv && kvl && kvl < 24) {
      char b[24];
      memcpy(b, kv, kvl);
      b[kvl] = '\0';
      char *end;
      long long v = strtoll(b, &end, 10);
      if (*end == '\0') {
        have_maxage = true;
        maxage = v;
      }
    } else if (kl == 7 && strncasecmp(kn, "Expires", 7) == 0 && kv && kvl && kvl < 64) {
      char b[64];
      memcpy(b, kv, kvl);
      b[kvl] = '\0';
      time_t t = curl_getdate(b, NULL);
      if (t > 0)
        expires = (int64_t)t;
    }
    a = ae;
  }
  if (have_maxage)
    expires = maxage <= 0 ? 1 : (maxage > INT64_MAX - now ? INT64_MAX : now + maxage);
  /* Secure cookies only from a secure origin: over plain http that is
   * the loopback host (libcurl's rule). */
  if (secure && strcmp(host, "localhost") != 0 && strcmp(host, "127.0.0.1") != 0 &&
      strcmp(host, "::1") != 0)
    return -EINVAL;
  bool tail = false;
  size_t hl = strlen(host);
  if (dl) {
    if (dl == hl && strcmp(domain, host) == 0) {
      tail = !is_ip(host);
    } else if (hl > dl && host[hl - dl - 1] == '.' &&
               strcmp(host + hl - dl, domain) == 0 && !is_ip(host) &&
               memchr(domain, '.', dl)) {
      tail = true;
    } else {
      return -EINVAL; /* a Domain that does not cover the host */
    }
  }
  char dpath[1024];
  if (!cpath) {
    /* The default path: the request path up to its last '/' (RFC 6265
     * 5.1.4). */
    size_t k = path_len;
    while (k > 0 && path[k - 1] != '/')
      k--;
    if (k <= 1 || path[0] != '/') {
      cpath = "/";
      cpl = 1;
    } else {
      if (k - 1 >= sizeof dpath || !clean(path, k - 1))
        return -EINVAL;
      memcpy(dpath, path, k - 1);
      cpath = dpath;
      cpl = k - 1;
    }
  }
  int n = snprintf(out, cap, "%s%s%.*s\t%s\t%.*s\t%s\t%lld\t%.*s\t%.*s",
                   httponly ? "#HttpOnly_" : "", tail ? "." : "", (int)(dl ? dl : hl),
                   dl ? domain : host, tail ? "TRUE" : "FALSE", (int)cpl, cpath,
                   secure ? "TRUE" : "FALSE", (long long)expires, (int)nl, name, (int)vl,
                   val);
  if (n < 0 || (size_t)n >= cap)
    return -ENOSPC;
  return n;
}
