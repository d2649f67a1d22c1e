/* Internal: the server's structures, shared by server.c (object, loops,
 * listeners, shutdown), h1.c (the connection: llhttp, dispatch, responses),
 * router.c and static.c.
 *
 * Threading: a cc_server_t is read-only once cc_server_run has started,
 * except for the atomics below. Everything else belongs to one loop: a
 * worker_t per loop, and the connections that loop accepted (each the
 * coroutine of one connection, with its request and buffers in conn_t).
 */
#ifndef CC_HTTP_SERVER_INT_H
#define CC_HTTP_SERVER_INT_H

#include <llhttp.h>
#include <stdatomic.h>
#include <pthread.h>

#include "concur/server.h"
#include "concur/stream.h"
#include "concur/task.h"
#include "loop/io.h"

#define CC__MAX_LOOPS  64
#define CC__MAX_PARAMS 8

/* ---- routes (router.c) ---------------------------------------------------- */
enum { SEG_LIT, SEG_PARAM, SEG_REST };
typedef struct seg {
  const char *s; /* literal text or parameter name (inside route->pattern) */
  size_t len;
  int kind;
} seg_t;

typedef struct route {
  int method;  /* cc_http_method_t, or -1 for any */
  char *mname; /* method text for CC_HTTP_OTHER */
  char *pattern;
  seg_t *segs;
  size_t nseg;
  cc_handler_fn fn;
  void *arg;
  size_t max_body;
  bool stream_body;
} route_t;

/* A route match: the route, or why none (404/405) and the Allow value. */
typedef struct match {
  const route_t *route;
  int status; /* 0 when matched, 404, 405 */
  size_t nparam;
  struct {
    const char *name;
    size_t nlen;
    uint32_t off, len; /* raw bytes in the request target */
  } params[CC__MAX_PARAMS];
} match_t;

void cc__route_match(const cc_server_t *srv, const char *path, size_t len,
                     cc_http_method_t m, const char *mname, size_t mlen, match_t *out);
/* Writes the Allow header value for `path` into buf; returns its length. */
size_t cc__route_allow(const cc_server_t *srv, const char *path, size_t len, char *buf,
                       size_t cap);
int cc__route_add(cc_server_t *srv, const char *method, const char *pattern,
                  cc_handler_fn fn, void *arg, const cc_route_opts_t *ro);
void cc__routes_free(cc_server_t *srv);

/* Percent-decodes src into dst (which may be src); '+' becomes ' ' when
 * `plus`. Returns the decoded length; *bad set for a malformed escape. */
size_t cc__pct_decode(char *dst, const char *src, size_t n, bool plus, bool *bad);

/* ---- listeners, loops ------------------------------------------------------ */
enum { LSN_TCP, LSN_UNIX };
typedef struct listener {
  int kind;
  int fds[CC__MAX_LOOPS]; /* one per loop (Unix: fds[0] only) */
  cc_tls_ctx_t *tls;
  int port;
  char path[108];
} listener_t;

typedef struct conn conn_t;

typedef struct worker {
  cc_server_t *srv;
  int index;
  cc_loop_t *loop;
  cc_task_t *main;
  pthread_t thread;
  bool has_thread;
  bool own_loop;
  conn_t *conns; /* live connections of this loop */
  size_t live;
  conn_t *free_conns; /* records to reuse (server.c) */
  struct conn_block *blocks;
  bool stopping;
  cc_task_t *drain_waiter; /* worker main, waiting for live == 0 */
  uint64_t drain_token;
  cc_task_t *accepts[16];
  size_t naccepts;
  /* The Date header and the access log's time, formatted once a second. */
  int64_t date_sec;
  char date_line[48]; /* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" */
  size_t date_len;
  char clf_time[40]; /* "[06/Nov/1994:08:49:37 +0000]" */
  /* Access log lines waiting for the end of the batch. */
  char *log;
  size_t log_len, log_cap;
  int64_t last_err_report;
  unsigned trims_pending; /* idle connections that freed memory since the
                             worker's last malloc_trim */
  unsigned errs_this_sec;
  unsigned tick; /* cc__h1_sweep's count (every SWEEP_MS) */
  /* Counters, read by cc_server_stats from any thread. */
  _Atomic uint64_t n_requests, n_conns, n_refused, n_errors;
} worker_t;

struct cc_server {
  cc_server_opts_t o;
  route_t *routes;
  size_t nroutes, routes_cap;
  listener_t lsn[8];
  size_t nlsn;
  int nloops;
  worker_t *workers;
  char server_line[96]; /* "Server: concur\r\n" */
  size_t server_line_len;
  int log_fd;
  _Atomic size_t live_total;
  atomic_bool running;
  atomic_bool stopping;
  pthread_mutex_t mu; /* guards workers' loop handles during start/stop */
  void *statics;      /* static roots (static.c) */
};

/* ---- the connection (h1.c) ----------------------------------------------- */
typedef struct hspan {
  uint32_t no, nl, vo, vl; /* offsets from msg start */
} hspan_t;

struct cc_req {
  conn_t *c;
  int method; /* llhttp method */
  cc_http_method_t cmethod;
  uint32_t url_off, url_len; /* from msg start */
  uint32_t meth_len;
  size_t nhdr, hcap;
  const char *hbase; /* where hdrs[] points at, for fix_headers */
  size_t hfixed;
  hspan_t *hs;
  cc_http_header_t *hdrs;
  bool hdr_in_value;
  bool headers_done;
  bool expect_continue, continue_sent;
  bool head;
  bool keep_alive;
  int minor;
  char *body;
  size_t blen, bcap, body_limit;
  size_t body_rd; /* cc_req_read's position in a buffered body */
  bool in_stream; /* the handler reads the body (cc_req_read) */
  char *sdst;     /* cc_req_read's destination while llhttp runs */
  size_t sroom, sgot;
  struct json_t *json; /* cc_req_json's result, owned by the request */
  char *scratch;       /* decoded path, query values, params */
  size_t slen, scap;
  const char *path; /* decoded, in scratch */
  size_t path_len;
  match_t m;
  /* response */
  int status;
  bool started, chunked, finished, close_delim;
  char *rh; /* added headers, "Name: value\r\n"... */
  size_t rhlen, rhcap;
  uint64_t sent_bytes;
};

struct conn {
  worker_t *w;
  conn_t *next, *prev;
  cc_task_t *task;
  int fd;          /* < 0: driven from a buffer (fuzzing), output discarded */
  cc_stream_t *st; /* TLS */
  cc_tls_ctx_t *tls;
  cc_addr_t peer;
  llhttp_t p;
  char *rbuf;
  size_t rlen, rcap, rpos, mstart;
  char *wbuf;
  size_t wlen, wcap;
  bool in_msg;
  bool msg_done;   /* on_message_complete ran (the parser is paused) */
  bool idle;       /* parked waiting for a new request */
  bool short_read; /* the last read did not fill the buffer (read_more) */
  bool started;
  bool dead;      /* a write failed: the client is gone */
  bool close;     /* close after what is queued */
  bool linger;    /* an error answer: lingering close */
  int err_status; /* set by a callback that failed a limit */
  unsigned nreq;
  int64_t hdr_deadline;
  /* While a handler runs without touching the connection, a watcher on the
   * fd notices the client leaving (h1.c: cc__h1_sweep arms it once the
   * handler has run for a sweep tick). */
  bool in_handler;
  unsigned htick; /* w->tick when the handler started */
  cc__io_t hup;   /* also the dormant connection's readability watcher */
  /* Dormant: idle past IDLE_TRIM_MS with its buffers freed, the connection
   * has no coroutine at all (server.c): `hup` watches for the next request
   * and `kat` for the keep-alive deadline; either spawns or closes. */
  bool dormant;
  int64_t ka_deadline;
  cc__cbtimer_t kat;
  cc_req_t req;
};

/* The parse/dispatch core: parses [rpos, rlen) of c->rbuf, runs the handler
 * of every complete request (which may suspend) and appends the responses
 * to c->wbuf. Returns 0 to go on reading, 1 when the connection must close
 * after c->wbuf is written. */
int cc__h1_process(conn_t *c);
void cc__h1_init(conn_t *c, worker_t *w, int fd);
/* Appends bytes to the connection as one read would, then processes them
 * (the fuzz target drives a connection this way, with fd -1). */
int cc__h1_feed(conn_t *c, const void *data, size_t n);
void cc__h1_free(conn_t *c);
/* Writes c->wbuf out (or discards it when fd < 0). 0 or a negative code. */
int cc__h1_flush(conn_t *c);
/* The connection coroutine's body. Returns CC__CONN_DORMANT when the
 * connection went idle and may wait without a coroutine (c->ka_deadline
 * set; server.c parks it), 0 when it must be closed. */
#define CC__CONN_DORMANT 1
intptr_t cc__conn_main(void *arg);
/* Every SWEEP_MS, from the worker's main task: arms the disconnect watcher
 * of every connection whose handler has been running since the last sweep
 * without touching the connection, and re-checks paused ones. */
#define SWEEP_MS 250
void cc__h1_sweep(worker_t *w);
/* Refreshes the worker's cached Date header. */
void cc__worker_date(worker_t *w);
/* Appends to the connection's output buffer. */
int cc__wbuf_put(conn_t *c, const void *p, size_t n);
/* Starts a response: status line and headers into c->wbuf; `len` < 0
 * means unknown (chunked or close-delimited). */
int cc__resp_head(cc_req_t *req, int status, const char *ctype, int64_t len,
                  const char *extra, size_t extra_len);
void cc__server_error(worker_t *w, int err, const char *what);
/* Releases what a request owns beyond its buffers (json.c). */
void cc__req_json_free(cc_req_t *r);

/* ---- static files (static.c) ---------------------------------------------- */
void cc__statics_free(cc_server_t *srv);

#endif
