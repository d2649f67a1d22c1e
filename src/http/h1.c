/* HTTP/1.1 connections: llhttp parsing, limits, dispatch, responses.
 *
 * One coroutine per connection (cc__conn_main) reads into c->rbuf and hands
 * the bytes to cc__h1_process, the parse/dispatch core, which can also be
 * driven from a plain buffer (fuzz/http_request.c). llhttp is paused at
 * the end of every message, so the handler runs outside llhttp's callbacks
 * and may suspend; the parser resumes after it. Every response to the
 * requests of one read is appended to c->wbuf, which leaves in one write.
 *
 * Buffer layout: the current message's bytes start at c->mstart; every span
 * (URL, header names and values) is an offset from there, so compacting the
 * buffer (moving the message to offset 0) only resets mstart. Body bytes are
 * copied out to req.body as llhttp delivers them, and the parsed ones are
 * dropped from rbuf while the body is still arriving, so rbuf holds at most
 * one header block plus one read.
 *
 * Steady state allocates nothing: the buffers, the header array and the
 * scratch space belong to the connection and are reused for every request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "concur/net.h"
#include "core/trace.h"
#include "concur/tls.h"
#include "loop/sched.h"
#include "loop/loop_int.h"
#include "http/server_int.h"

#define RBUF_MIN 4096
#define HDR_MIN  16

/* A deadline `ms` from the loop's cached clock (refreshed at every poll):
 * no clock read per request. Outside a loop (the fuzz target), the clock. */
static inline int64_t dl_in(int64_t ms) {
  cc_loop_t *l = cc__tl_loop;
  return (l ? l->now : cc_now()) + ms;
}

/* ---- buffers --------------------------------------------------------------- */

static int grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap)
    return 0;
  size_t n = *cap ? *cap : 256;
  while (n < need)
    n *= 2;
  char *p = realloc(*buf, n);
  if (!p)
    return -ENOMEM;
  *buf = p;
  *cap = n;
  return 0;
}

int cc__wbuf_put(conn_t *c, const void *p, size_t n) {
  if (c->wlen + n > c->wcap && grow(&c->wbuf, &c->wcap, c->wlen + n) < 0)
    return -ENOMEM;
  memcpy(c->wbuf + c->wlen, p, n);
  c->wlen += n;
  return 0;
}

/* Scratch space for decoded strings: reset per request. Returns an offset
 * (the buffer may move while more is added). */
static ssize_t scratch_reserve(cc_req_t *r, size_t n) {
  if (grow(&r->scratch, &r->scap, r->slen + n + 1) < 0)
    return -ENOMEM;
  size_t off = r->slen;
  r->slen += n + 1;
  return (ssize_t)off;
}

/* ---- the Date header ------------------------------------------------------- */

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void cc__worker_date(worker_t *w) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  if (ts.tv_sec == w->date_sec)
    return;
  w->date_sec = ts.tv_sec;
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  w->date_len = (size_t)snprintf(w->date_line, sizeof w->date_line,
                                 "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                                 wdays[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  snprintf(w->clf_time, sizeof w->clf_time, "[%02d/%s/%04d:%02d:%02d:%02d +0000]",
           tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
           tm.tm_sec);
}

/* ---- llhttp callbacks -------------------------------------------------------- */

static inline conn_t *CONN(llhttp_t *p) {
  return p->data;
}

static int fail(conn_t *c, int status) {
  if (!c->err_status)
    c->err_status = status;
  return -1;
}

static int on_message_begin(llhttp_t *p) {
  conn_t *c = CONN(p);
  c->in_msg = true;
  if (c->nreq > 0)
    c->hdr_deadline = dl_in(c->w->srv->o.header_timeout_ms);
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  conn_t *c = CONN(p);
  cc_req_t *r = &c->req;
  uint32_t off = (uint32_t)(at - (c->rbuf + c->mstart));
  if (r->url_len == 0)
    r->url_off = off;
  r->url_len = off + (uint32_t)len - r->url_off;
  if (r->url_len > c->w->srv->o.max_uri)
    return fail(c, 414);
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  conn_t *c = CONN(p);
  cc_req_t *r = &c->req;
  uint32_t off = (uint32_t)(at - (c->rbuf + c->mstart));
  const cc_server_opts_t *o = &c->w->srv->o;
  if (r->nhdr == 0 || r->hdr_in_value) {
    if (r->nhdr >= o->max_headers)
      return fail(c, 431);
    if (r->nhdr == r->hcap) {
      size_t n = r->hcap ? r->hcap * 2 : HDR_MIN;
      hspan_t *hs = realloc(r->hs, n * sizeof *hs);
      if (!hs)
        return fail(c, 500);
      r->hs = hs;
      cc_http_header_t *h = realloc(r->hdrs, n * sizeof *h);
      if (!h)
        return fail(c, 500);
      r->hdrs = h;
      r->hcap = n;
    }
    r->hs[r->nhdr++] = (hspan_t){.no = off, .nl = 0, .vo = 0, .vl = 0};
    r->hdr_in_value = false;
  }
  hspan_t *h = &r->hs[r->nhdr - 1];
  h->nl = off + (uint32_t)len - h->no;
  if (h->nl > o->max_header_line)
    return fail(c, 431);
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  conn_t *c = CONN(p);
  cc_req_t *r = &c->req;
  uint32_t off = (uint32_t)(at - (c->rbuf + c->mstart));
  hspan_t *h = &r->hs[r->nhdr - 1];
  if (!r->hdr_in_value) {
    h->vo = off;
    r->hdr_in_value = true;
  }
  h->vl = off + (uint32_t)len - h->vo;
  if ((size_t)h->nl + h->vl > c->w->srv->o.max_header_line)
    return fail(c, 431);
  return 0;
}

/* Points the request's header array at the buffer (after it stopped moving). */
static void fix_headers(conn_t *c) {
  cc_req_t *r = &c->req;
  const char *base = c->rbuf + c->mstart;
  if (r->hbase == base && r->hfixed == r->nhdr)
    return;
  r->hbase = base;
  r->hfixed = r->nhdr;
  for (size_t i = 0; i < r->nhdr; i++) {
    hspan_t *h = &r->hs[i];
    r->hdrs[i] = (cc_http_header_t){base + h->no, h->nl, base + h->vo, h->vl};
  }
}

static int on_headers_complete(llhttp_t *p) {
  conn_t *c = CONN(p);
  cc_req_t *r = &c->req;
  cc_server_t *srv = c->w->srv;
  r->headers_done = true;
  if (r->nhdr &&
      (size_t)r->hs[r->nhdr - 1].vo + r->hs[r->nhdr - 1].vl > srv->o.max_header_size)
    return fail(c, 431);
  r->method = p->method;
  r->minor = p->http_minor;
  r->head = p->method == HTTP_HEAD;
  const char *mname = llhttp_method_name(p->method);
  switch (p->method) { /* the common ones without a string compare */
  case HTTP_GET:
    r->cmethod = CC_HTTP_GET, r->meth_len = 3;
    break;
  case HTTP_HEAD:
    r->cmethod = CC_HTTP_HEAD, r->meth_len = 4;
    break;
  case HTTP_POST:
    r->cmethod = CC_HTTP_POST, r->meth_len = 4;
    break;
  case HTTP_PUT:
    r->cmethod = CC_HTTP_PUT, r->meth_len = 3;
    break;
  default:
    r->meth_len = (uint32_t)strlen(mname);
    r->cmethod = cc_http_method_parse(mname, r->meth_len);
  }
  fix_headers(c);
  /* Route now, so that the route's body limit applies to this body. */
  const char *url = c->rbuf + c->mstart + r->url_off;
  size_t plen = r->url_len;
  const char *q = memchr(url, '?', plen);
  if (q)
    plen = (size_t)(q - url);
  cc__route_match(srv, url, plen, r->cmethod, mname, r->meth_len, &r->m);
  r->body_limit =
      r->m.route && r->m.route->max_body ? r->m.route->max_body : srv->o.max_body;
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > r->body_limit)
    return fail(c, 413);
  bool has_body =
      (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
  if (has_body && r->minor >= 1) {
    const cc_http_header_t *e = cc_http_header_find(r->hdrs, r->nhdr, "Expect");
    if (e) {
      if (!cc_http_token_eq(e->value, e->value_len, "100-continue"))
        return fail(c, 417);
      r->expect_continue = true;
    }
  }
  /* A streaming route gets its handler now; it pulls the body itself. */
  if (has_body && r->m.route && r->m.route->stream_body) {
    r->in_stream = true;
    return HPE_PAUSED;
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  conn_t *c = CONN(p);
  cc_req_t *r = &c->req;
  if (r->blen + r->sgot + len > r->body_limit)
    return fail(c, 413);
  if (r->in_stream) { /* cc_req_read fed at most sroom raw bytes */
    if (r->sdst && r->sgot + len <= r->sroom) {
      memcpy(r->sdst + r->sgot, at, len);
      r->sgot += len;
      return 0;
    }
    return fail(c, 500);
  }
  if (grow(&r->body, &r->bcap, r->blen + len + 1) < 0)
    return fail(c, 500);
  memcpy(r->body + r->blen, at, len);
  r->blen += len;
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  CONN(p)->msg_done = true;
  return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- connection set-up ------------------------------------------------------- */

void cc__h1_init(conn_t *c, worker_t *w, int fd) {
  c->w = w;
  c->fd = fd;
  llhttp_init(&c->p, HTTP_REQUEST, &settings);
  c->p.data = c;
  c->req.c = c;
  c->hdr_deadline = dl_in(w->srv->o.header_timeout_ms);
}

void cc__h1_free(conn_t *c) {
  free(c->rbuf);
  free(c->wbuf);
  free(c->req.hs);
  free(c->req.hdrs);
  free(c->req.body);
  free(c->req.scratch);
  free(c->req.rh);
}

static void req_reset(conn_t *c) {
  cc_req_t *r = &c->req;
  cc__req_json_free(r);
  cc_req_t keep = *r;
  *r = (cc_req_t){.c = c,
                  .hs = keep.hs,
                  .hdrs = keep.hdrs,
                  .hcap = keep.hcap,
                  .body = keep.body,
                  .bcap = keep.bcap,
                  .scratch = keep.scratch,
                  .scap = keep.scap,
                  .rh = keep.rh,
                  .rhcap = keep.rhcap};
  /* Big one-off buffers are not kept for the connection's lifetime. */
  if (r->bcap > 256 * 1024) {
    free(r->body);
    r->body = NULL;
    r->bcap = 0;
  }
}

/* ---- a client leaving while its handler is suspended --------------------------------
 *
 * A handler that sleeps (or waits for anything but this connection) would
 * learn that its client left only at its next write. So once it has run
 * for a sweep tick (SWEEP_MS, so the fast path never pays a poller call), a
 * callback watcher on the connection's fd looks for the client's EOF or
 * reset: a readable socket is peeked at (MSG_PEEK consumes nothing), EOF or
 * an error means gone; data means a pipelined request, left in the socket
 * for after the handler, and then the watcher pauses (a level-triggered
 * watch would spin) while the sweep checks the TCP state for a FIN behind
 * that data. Gone: the connection is marked dead and its task cancelled, so
 * the handler gets -ECANCELED at its current or next suspension point. The
 * watcher is stopped before any I/O on the connection (one owner per fd)
 * and then stays off for the rest of the handler: its writes see the
 * disconnect themselves. As Go's net/http, a half-close (the client shut
 * its write side) counts as leaving. */

static bool peer_gone(conn_t *c) {
  char b;
  ssize_t k = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (k == 0)
    return true;
  if (k < 0)
    return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  struct tcp_info ti;
  socklen_t tl = sizeof ti;
  if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0)
    return ti.tcpi_state == TCP_CLOSE_WAIT || ti.tcpi_state == TCP_CLOSE ||
           ti.tcpi_state == TCP_LAST_ACK;
  return false;
}

static void hup_stop(conn_t *c) {
  c->in_handler = false;
  if (CC_UNLIKELY(c->hup.active))
    cc__io_stop(&c->hup);
}

static void hup_fire(conn_t *c) {
  hup_stop(c);
  c->dead = true;
  c->close = true;
  if (c->task)
    cc_cancel(c->task);
}

static void hup_cb(cc__io_t *io, unsigned events) {
  (void)events;
  conn_t *c = io->data;
  if (peer_gone(c))
    hup_fire(c);
  else if (cc__io_start(io->loop, io, 0) < 0) /* pipelined bytes: pause */
    hup_stop(c);
}

void cc__h1_sweep(worker_t *w) {
  for (conn_t *c = w->conns; c; c = c->next) {
    if (!c->in_handler || c->fd < 0)
      continue;
    if (c->hup.active) {
      if (c->hup.events == 0 && peer_gone(c))
        hup_fire(c);
    } else if (c->htick != w->tick) {
      cc__io_init(&c->hup, c->fd, hup_cb, c);
      if (cc__io_start(w->loop, &c->hup, CC__READ) < 0)
        c->in_handler = false; /* e.g. the handler waits on this fd itself */
    }
  }
  w->tick++;
}

/* ---- output -------------------------------------------------------------------- */

int cc__h1_flush(conn_t *c) {
  hup_stop(c);
  if (c->wlen == 0)
    return 0;
  if (c->dead)
    return -EPIPE;
  size_t n = c->wlen;
  c->wlen = 0;
  if (c->fd < 0)
    return 0;
  int64_t dl = dl_in(c->w->srv->o.send_timeout_ms);
  ssize_t r;
  if (c->st) {
    r = cc_stream_write(c->st, c->wbuf, n, dl);
    if (r >= 0)
      r = cc_stream_flush(c->st, dl);
  } else {
    r = cc_write(c->fd, c->wbuf, n, dl);
  }
  if (r < 0) {
    c->dead = true;
    return (int)r;
  }
  return 0;
}

static char *put_u64(char *p, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n)
    *p++ = tmp[--n];
  return p;
}

static const char *status_line(int status, size_t *len) {
  switch (status) {
#define S(code, text)                                                                    \
  case code:                                                                             \
    *len = sizeof("HTTP/1.1 " #code " " text "\r\n") - 1;                                \
    return "HTTP/1.1 " #code " " text "\r\n";
    S(200, "OK")
    S(204, "No Content")
    S(206, "Partial Content")
    S(304, "Not Modified")
    S(400, "Bad Request")
    S(404, "Not Found")
    S(405, "Method Not Allowed")
    S(413, "Content Too Large")
    S(500, "Internal Server Error")
#undef S
  default:
    return NULL;
  }
}

static bool body_allowed(int status) {
  return status >= 200 && status != 204 && status != 304;
}

/* Decides keep-alive for the response being started. */
static void decide_close(cc_req_t *r) {
  conn_t *c = r->c;
  if (!r->keep_alive || c->w->stopping || c->nreq + 1 >= c->w->srv->o.max_requests)
    c->close = true;
}

int cc__resp_head(cc_req_t *r, int status, const char *ctype, int64_t len,
                  const char *extra, size_t extra_len) {
  conn_t *c = r->c;
  worker_t *w = c->w;
  cc_server_t *srv = w->srv;
  decide_close(r);
  size_t ctl = ctype ? strlen(ctype) : 0;
  size_t need = 64 + srv->server_line_len + w->date_len + r->rhlen + extra_len + ctl + 96;
  if (c->wlen + need > c->wcap && grow(&c->wbuf, &c->wcap, c->wlen + need) < 0)
    return -ENOMEM;
  char *p = c->wbuf + c->wlen;
  size_t sl;
  const char *line = status_line(status, &sl);
  if (line) {
    memcpy(p, line, sl);
    p += sl;
  } else {
    p += sprintf(p, "HTTP/1.1 %03d %s\r\n", status, cc_http_reason(status));
  }
  memcpy(p, srv->server_line, srv->server_line_len);
  p += srv->server_line_len;
  memcpy(p, w->date_line, w->date_len);
  p += w->date_len;
  if (ctl) {
    memcpy(p, "Content-Type: ", 14);
    p += 14;
    memcpy(p, ctype, ctl);
    p += ctl;
    *p++ = '\r';
    *p++ = '\n';
  }
  if (len >= 0) {
    if (status >= 200 && status != 204 && status != 304) {
      memcpy(p, "Content-Length: ", 16);
      p = put_u64(p + 16, (uint64_t)len);
      *p++ = '\r';
      *p++ = '\n';
    }
  } else if (r->minor >= 1) {
    memcpy(p, "Transfer-Encoding: chunked\r\n", 28);
    p += 28;
    r->chunked = true;
  } else {
    r->close_delim = true;
    c->close = true;
  }
  if (r->rhlen) {
    memcpy(p, r->rh, r->rhlen);
    p += r->rhlen;
  }
  if (extra_len) {
    memcpy(p, extra, extra_len);
    p += extra_len;
  }
  if (c->close) {
    memcpy(p, "Connection: close\r\n", 19);
    p += 19;
  } else if (r->minor == 0) {
    memcpy(p, "Connection: keep-alive\r\n", 24);
    p += 24;
  }
  *p++ = '\r';
  *p++ = '\n';
  c->wlen = (size_t)(p - c->wbuf);
  r->status = status;
  r->started = true;
  return 0;
}

/* ---- the response API ----------------------------------------------------------- */

int cc_resp_header(cc_req_t *r, const char *name, const char *value) {
  if (r->started)
    return -EALREADY;
  size_t nl = strlen(name), vl = strlen(value);
  if (r->rhlen + nl + vl + 4 > 8192)
    return -ENOSPC;
  for (size_t i = 0; i < vl; i++)
    if (value[i] == '\r' || value[i] == '\n')
      return -EINVAL;
  if (grow(&r->rh, &r->rhcap, r->rhlen + nl + vl + 4) < 0)
    return -ENOMEM;
  char *p = r->rh + r->rhlen;
  memcpy(p, name, nl);
  p[nl] = ':';
  p[nl + 1] = ' ';
  memcpy(p + nl + 2, value, vl);
  p[nl + 2 + vl] = '\r';
  p[nl + 3 + vl] = '\n';
  r->rhlen += nl + vl + 4;
  return 0;
}

int cc_resp_send(cc_req_t *r, int status, const char *ctype, const void *body,
                 size_t len) {
  if (r->started)
    return -EALREADY;
  int e = cc__resp_head(r, status, ctype, (int64_t)len, NULL, 0);
  if (e < 0)
    return e;
  if (len && !r->head && body_allowed(status) && (e = cc__wbuf_put(r->c, body, len)) < 0)
    return e;
  r->sent_bytes = len;
  r->finished = true;
  return 0;
}

int cc_resp_text(cc_req_t *r, int status, const char *text) {
  return cc_resp_send(r, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* A write to a client that is gone cancels the handler. */
static int write_failed(cc_req_t *r, int e) {
  if (cc_self())
    cc_cancel(cc_self());
  return e;
}

int cc_resp_start(cc_req_t *r, int status, const char *ctype) {
  if (r->started)
    return -EALREADY;
  int e = cc__resp_head(r, status, ctype, -1, NULL, 0);
  if (e < 0)
    return e;
  if (r->head || !body_allowed(status)) {
    r->chunked = false;
    r->finished = true;
  }
  if ((e = cc__h1_flush(r->c)) < 0)
    return write_failed(r, e);
  return 0;
}

int cc_resp_write(cc_req_t *r, const void *data, size_t len) {
  if (!r->started)
    return -EINVAL;
  if (r->finished)
    return r->head ? 0 : -EALREADY;
  if (len == 0)
    return 0;
  conn_t *c = r->c;
  int e;
  if (r->chunked) {
    char hdr[24];
    int n = snprintf(hdr, sizeof hdr, "%zx\r\n", len);
    if ((e = cc__wbuf_put(c, hdr, (size_t)n)) < 0)
      return e;
  }
  if (c->wlen + len <= 16384) {
    if ((e = cc__wbuf_put(c, data, len)) < 0)
      return e;
    if (r->chunked && (e = cc__wbuf_put(c, "\r\n", 2)) < 0)
      return e;
    e = cc__h1_flush(c);
  } else {
    if ((e = cc__h1_flush(c)) < 0)
      return write_failed(r, e);
    if (c->fd >= 0) {
      int64_t dl = dl_in(c->w->srv->o.send_timeout_ms);
      ssize_t k =
          c->st ? cc_stream_write(c->st, data, len, dl) : cc_write(c->fd, data, len, dl);
      if (k < 0) {
        c->dead = true;
        return write_failed(r, (int)k);
      }
    }
    if (r->chunked && (e = cc__wbuf_put(c, "\r\n", 2)) < 0)
      return e;
    e = cc__h1_flush(c);
  }
  if (e < 0)
    return write_failed(r, e);
  r->sent_bytes += len;
  return 0;
}

int cc_resp_end(cc_req_t *r) {
  if (!r->started)
    return -EINVAL;
  if (r->finished)
    return 0;
  r->finished = true;
  if (r->chunked) {
    int e = cc__wbuf_put(r->c, "0\r\n\r\n", 5);
    if (e < 0)
      return e;
  }
  /* Left for the batch's write unless it is the connection's last word. */
  return 0;
}

int cc_resp_status_sent(const cc_req_t *r) {
  return r->started ? r->status : 0;
}

/* ---- the request API --------------------------------------------------------------- */

cc_http_method_t cc_req_method(const cc_req_t *r) {
  return r->cmethod;
}

const char *cc_req_method_name(const cc_req_t *r, size_t *len) {
  if (len)
    *len = r->meth_len;
  return llhttp_method_name((llhttp_method_t)r->method);
}

const char *cc_req_target(const cc_req_t *r, size_t *len) {
  if (len)
    *len = r->url_len;
  return r->c->rbuf + r->c->mstart + r->url_off;
}

const char *cc_req_query_string(const cc_req_t *r, size_t *len) {
  size_t n;
  const char *u = cc_req_target(r, &n);
  const char *q = memchr(u, '?', n);
  if (!q)
    return NULL;
  if (len)
    *len = n - (size_t)(q + 1 - u);
  return q + 1;
}

const char *cc_req_path(cc_req_t *r, size_t *len) {
  if (!r->path) {
    size_t n;
    const char *u = cc_req_target(r, &n);
    const char *q = memchr(u, '?', n);
    if (q)
      n = (size_t)(q - u);
    ssize_t off = scratch_reserve(r, n);
    if (off < 0)
      return NULL;
    bool bad = false;
    size_t k = cc__pct_decode(r->scratch + off, u, n, false, &bad);
    r->scratch[off + (ssize_t)k] = 0;
    r->path = r->scratch + off; /* the scratch is not grown after this below */
    r->path_len = k;
    /* Reserve generously so that later decodes do not move the path. */
    if (grow(&r->scratch, &r->scap, r->slen + 4 * n + 256) < 0)
      return NULL;
    r->path = r->scratch + off;
  }
  if (len)
    *len = r->path_len;
  return r->path;
}

/* Decodes raw[0..n) into fresh scratch space. The returned pointer is valid
 * until the handler returns: the scratch buffer is sized up front in
 * dispatch() so that it never moves during a request. */
static const char *decode_scratch(cc_req_t *r, const char *raw, size_t n, bool plus,
                                  size_t *len) {
  if (r->slen + n + 1 > r->scap)
    return NULL; /* cannot happen: dispatch() reserved enough */
  ssize_t off = scratch_reserve(r, n);
  if (off < 0)
    return NULL;
  bool bad = false;
  size_t k = cc__pct_decode(r->scratch + off, raw, n, plus, &bad);
  r->scratch[off + (ssize_t)k] = 0;
  if (len)
    *len = k;
  return r->scratch + off;
}

const char *cc_req_query(cc_req_t *r, const char *name, size_t *len) {
  size_t qn;
  const char *q = cc_req_query_string(r, &qn);
  if (!q)
    return NULL;
  size_t nl = strlen(name);
  const char *end = q + qn;
  while (q < end) {
    const char *amp = memchr(q, '&', (size_t)(end - q));
    const char *pe = amp ? amp : end;
    const char *eq = memchr(q, '=', (size_t)(pe - q));
    const char *ke = eq ? eq : pe;
    /* Compare the decoded key with `name` (keys are short: decode on the
     * stack). */
    char kbuf[256];
    size_t kl = (size_t)(ke - q);
    if (kl < sizeof kbuf) {
      bool bad = false;
      size_t k = cc__pct_decode(kbuf, q, kl, true, &bad);
      if (k == nl && memcmp(kbuf, name, nl) == 0) {
        const char *v = eq ? eq + 1 : pe;
        return decode_scratch(r, v, (size_t)(pe - v), true, len);
      }
    }
    q = pe + 1;
  }
  return NULL;
}

const char *cc_req_param(cc_req_t *r, const char *name, size_t *len) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < r->m.nparam; i++)
    if (r->m.params[i].nlen == nl && memcmp(r->m.params[i].name, name, nl) == 0) {
      const char *u = r->c->rbuf + r->c->mstart + r->url_off;
      return decode_scratch(r, u + r->m.params[i].off, r->m.params[i].len, false, len);
    }
  return NULL;
}

const char *cc_req_header(const cc_req_t *r, const char *name, size_t *len) {
  const cc_http_header_t *h = cc_http_header_find(r->hdrs, r->nhdr, name);
  if (!h)
    return NULL;
  if (len)
    *len = h->value_len;
  return h->value;
}

const cc_http_header_t *cc_req_headers(const cc_req_t *r, size_t *n) {
  if (n)
    *n = r->nhdr;
  return r->hdrs;
}

int cc_req_version(const cc_req_t *r) {
  return r->minor;
}

const void *cc_req_body(const cc_req_t *r, size_t *len) {
  if (r->in_stream) {
    if (len)
      *len = 0;
    return NULL;
  }
  if (len)
    *len = r->blen;
  return r->blen ? r->body : NULL;
}

const cc_addr_t *cc_req_peer(const cc_req_t *r) {
  return &r->c->peer;
}

static int make_room(conn_t *c);
static ssize_t conn_read(conn_t *c, void *buf, size_t n, int64_t dl);

ssize_t cc_req_read(cc_req_t *r, void *buf, size_t n) {
  conn_t *c = r->c;
  if (n == 0)
    return 0;
  if (!r->in_stream) { /* a buffered body: hand it out piece by piece */
    size_t k = r->blen - r->body_rd < n ? r->blen - r->body_rd : n;
    if (k == 0)
      return 0;
    memcpy(buf, r->body + r->body_rd, k);
    r->body_rd += k;
    return (ssize_t)k;
  }
  if (c->msg_done)
    return 0;
  if (r->expect_continue && !r->continue_sent) {
    r->continue_sent = true;
    int e = cc__wbuf_put(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    if (e < 0 || (e = cc__h1_flush(c)) < 0)
      return e;
  }
  r->sdst = buf;
  r->sroom = n;
  r->sgot = 0;
  ssize_t ret = 0;
  size_t before = r->blen;
  for (;;) {
    if (c->rpos < c->rlen) {
      size_t k = c->rlen - c->rpos;
      if (k > n - r->sgot)
        k = n - r->sgot;
      llhttp_errno_t e = llhttp_execute(&c->p, c->rbuf + c->rpos, k);
      if (e == HPE_OK) {
        c->rpos += k;
      } else if (e == HPE_PAUSED) { /* the end of the message */
        c->rpos = (size_t)(llhttp_get_error_pos(&c->p) - c->rbuf);
        llhttp_resume(&c->p);
      } else {
        c->close = true;
        ret = c->err_status == 413 ? -CC_ETOOBIG : -EBADMSG;
        break;
      }
      if (r->sgot > 0 || c->msg_done) {
        ret = (ssize_t)r->sgot;
        break;
      }
      continue;
    }
    if (c->fd < 0) { /* driven from a buffer: nothing more will come */
      ret = -ENODATA;
      break;
    }
    int e = make_room(c);
    if (e < 0) {
      ret = e;
      break;
    }
    ssize_t got = conn_read(c, c->rbuf + c->rlen, c->rcap - c->rlen,
                            dl_in(c->w->srv->o.body_timeout_ms));
    if (got <= 0) {
      c->close = true;
      ret = got == 0 ? -ECONNRESET : got;
      break;
    }
    c->rlen += (size_t)got;
  }
  (void)before;
  r->blen += r->sgot; /* counts toward the body limit */
  r->sdst = NULL;
  r->sgot = 0;
  return ret;
}

/* ---- dispatch -----------------------------------------------------------------------
 */

static void access_log(conn_t *c) {
  worker_t *w = c->w;
  cc_req_t *r = &c->req;
  char host[64];
  if (c->peer.len == 0 || cc_addr_format(&c->peer, host, sizeof host) < 0)
    strcpy(host, "-");
  else if (c->peer.u.sa.sa_family == AF_INET || c->peer.u.sa.sa_family == AF_INET6) {
    char *colon = strrchr(host, ':'); /* drop the port */
    if (colon)
      *colon = 0;
    if (host[0] == '[') {
      memmove(host, host + 1, strlen(host));
      char *b = strchr(host, ']');
      if (b)
        *b = 0;
    }
  }
  size_t ml, ul;
  const char *m = cc_req_method_name(r, &ml);
  const char *u = cc_req_target(r, &ul);
  if (ul > 2048)
    ul = 2048;
  size_t need = 160 + ml + ul;
  if (grow(&w->log, &w->log_cap, w->log_len + need) < 0)
    return;
  char *p = w->log + w->log_len;
  int n = snprintf(p, need, "%s - - %s \"%.*s %.*s HTTP/1.%d\" %d %llu\n", host,
                   w->clf_time, (int)ml, m, (int)ul, u, r->minor, r->status,
                   (unsigned long long)r->sent_bytes);
  /* Control characters in the target are not written raw. */
  for (int i = 0; i < n - 1; i++)
    if ((unsigned char)p[i] < 0x20)
      p[i] = '?';
  w->log_len += (size_t)n;
}

static int send_error(conn_t *c, int status) {
  cc_req_t *r = &c->req;
  const char *reason = cc_http_reason(status);
  char body[64];
  int n = snprintf(body, sizeof body, "%d %s\n", status, reason);
  if (r->started)
    return 0;
  return cc_resp_send(r, status, "text/plain; charset=utf-8", body, (size_t)n);
}

static void dispatch(conn_t *c) {
  worker_t *w = c->w;
  cc_server_t *srv = w->srv;
  cc_req_t *r = &c->req;
  r->keep_alive = llhttp_should_keep_alive(&c->p);
  fix_headers(c); /* the buffer may have moved while the body arrived */
  int64_t t0 = CC__TRACING() ? cc__trace_now() : 0; /* docs/trace.md */
  char target[512] = ""; /* copied now: the read buffer may move under the handler */
  if (t0)
    snprintf(target, sizeof target, "%.*s", (int)r->url_len,
             c->rbuf + c->mstart + r->url_off);
  /* Room for every decode this request can ask for, so that the strings
   * handed out never move. */
  if (grow(&r->scratch, &r->scap, r->slen + 4 * (size_t)r->url_len + 512) < 0) {
    send_error(c, 500);
    return;
  }
  int rc = 0;
  if (r->m.route) {
    if (srv->o.before)
      rc = srv->o.before(r, srv->o.hook_arg);
    if (rc == 0) {
      c->in_handler = !r->in_stream && c->fd >= 0;
      c->htick = w->tick;
      rc = r->m.route->fn(r, r->m.route->arg);
      hup_stop(c);
    }
    if (rc < 0) {
      if (!(c->dead && rc == -ECANCELED)) /* not when the client left */
        cc__server_error(w, rc, "handler");
      if (!r->started)
        send_error(c, 500);
      else
        c->close = true; /* the response is cut short */
    }
  } else if (r->m.status == 405) {
    char allow[128];
    size_t n = cc__route_allow(srv, c->rbuf + c->mstart + r->url_off, r->url_len, allow,
                               sizeof allow - 1);
    allow[n] = 0;
    cc_resp_header(r, "Allow", allow);
    send_error(c, 405);
  } else {
    send_error(c, 404);
  }
  if (!r->started)
    cc_resp_send(r, 200, NULL, NULL, 0);
  else if (!r->finished) {
    if (r->chunked && !c->dead)
      cc_resp_end(r);
    else
      c->close = true;
    r->finished = true;
  }
  if (r->m.route && srv->o.after)
    srv->o.after(r, srv->o.hook_arg);
  if (r->status >= 400)
    atomic_fetch_add_explicit(&w->n_errors, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&w->n_requests, 1, memory_order_relaxed);
  if (srv->log_fd >= 0)
    access_log(c);
  if (t0)
    cc__trace_http(CC__TRACE_SERVER, cc_http_method_name(r->cmethod), target, r->status,
                   t0, (int64_t)r->sent_bytes);
  c->nreq++;
}

/* An error answer from the server itself (limits, bad requests): the
 * connection closes after it. */
static void error_close(conn_t *c, int status) {
  cc_req_t *r = &c->req;
  if (r->started)
    r = &c->req; /* a response already went out: just close */
  else {
    r->keep_alive = false;
    c->close = true;
    send_error(c, status);
    atomic_fetch_add_explicit(&c->w->n_errors, 1, memory_order_relaxed);
    if (c->w->srv->log_fd >= 0)
      access_log(c);
  }
  c->close = true;
  c->linger = true;
}

/* A streaming handler returned without reading all of its body: read the
 * rest and throw it away, so that the keep-alive connection survives, up to
 * DRAIN_MAX bytes (and the route's body limit) within body_timeout_ms in
 * all. The response goes out first (the client may wait for it). Returns
 * false when the connection must close instead: the client is gone, the
 * response closes it anyway, it was never told to send the body
 * (Expect: 100-continue unanswered), or the rest is too big or too slow. */
#define DRAIN_MAX (1024 * 1024)

static bool drain_body(conn_t *c) {
  cc_req_t *r = &c->req;
  if (c->dead || c->close || c->fd < 0 || (r->expect_continue && !r->continue_sent))
    return false;
  if (cc__h1_flush(c) < 0)
    return false;
  int64_t end = dl_in(c->w->srv->o.body_timeout_ms);
  size_t total = 0;
  char tmp[2048];
  while (!c->msg_done) {
    ssize_t k = cc_req_read(r, tmp, sizeof tmp);
    if (k < 0 || (k == 0 && !c->msg_done))
      return false;
    total += (size_t)k;
    if (total > DRAIN_MAX || (cc__tl_loop && cc__tl_loop->now > end))
      return false;
  }
  return true;
}

int cc__h1_process(conn_t *c) {
  cc__worker_date(c->w);
  while (c->rpos < c->rlen && !c->close) {
    const char *start = c->rbuf + c->rpos;
    llhttp_errno_t e = llhttp_execute(&c->p, start, c->rlen - c->rpos);
    if (e == HPE_OK) {
      c->rpos = c->rlen;
      break;
    }
    if (e == HPE_PAUSED) {
      const char *pos = llhttp_get_error_pos(&c->p);
      c->rpos = (size_t)(pos - c->rbuf);
      llhttp_resume(&c->p);
      dispatch(c); /* a streaming handler parses the rest of its body */
      if (!c->msg_done && !drain_body(c)) { /* it left part unread */
        c->close = true;
        c->linger = !c->dead; /* so that the client still reads the answer */
        return 1;
      }
      c->msg_done = false;
      c->in_msg = false;
      req_reset(c);
      c->mstart = c->rpos;
      if (c->dead)
        return 1;
      continue;
    }
    if (e == HPE_PAUSED_UPGRADE) {
      error_close(c, 400); /* upgrades are answered by their route (ws.c) */
      return 1;
    }
    /* A limit (err_status) or malformed input: answer and close. */
    error_close(c, c->err_status ? c->err_status : 400);
    return 1;
  }
  if (c->close)
    return 1;
  if (c->in_msg) {
    cc_req_t *r = &c->req;
    const cc_server_opts_t *o = &c->w->srv->o;
    if (!r->headers_done && c->rlen - c->mstart > o->max_header_size) {
      error_close(
          c, c->req.url_len && r->nhdr == 0 && c->req.url_len >= o->max_uri ? 414 : 431);
      return 1;
    }
    if (r->expect_continue && !r->continue_sent) {
      r->continue_sent = true;
      cc__wbuf_put(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
  }
  return 0;
}

/* Feeds bytes as if one read had delivered them (the fuzz target's entry):
 * parses, runs the handlers (which must not suspend when fd < 0) and
 * discards the output. Returns 1 once the connection would close. */
int cc__h1_feed(conn_t *c, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    if (make_room(c) < 0) {
      error_close(c, 431);
      cc__h1_flush(c);
      return 1;
    }
    size_t k = c->rcap - c->rlen < n ? c->rcap - c->rlen : n;
    memcpy(c->rbuf + c->rlen, p, k);
    c->rlen += k;
    p += k;
    n -= k;
    int rc = cc__h1_process(c);
    cc__h1_flush(c);
    if (rc)
      return 1;
  }
  return 0;
}

/* ---- the connection coroutine ---------------------------------------------------------
 */

static ssize_t conn_read(conn_t *c, void *buf, size_t n, int64_t dl) {
  hup_stop(c);
  if (c->st)
    return cc_stream_read(c->st, buf, n, dl);
  return cc_read(c->fd, buf, n, dl);
}

/* Makes room to read: compacts the current message to the front, drops a
 * body's parsed bytes, grows up to the header limit. */
static int make_room(conn_t *c) {
  const cc_server_opts_t *o = &c->w->srv->o;
  if (c->rpos == c->rlen && c->mstart == c->rlen) {
    c->rpos = c->rlen = c->mstart = 0;
  }
  if (c->rcap - c->rlen >= 1024)
    return 0;
  cc_req_t *r = &c->req;
  if (c->in_msg && r->headers_done) {
    /* Keep the header block; drop the body bytes llhttp has consumed. */
    size_t keep = r->url_off + r->url_len;
    for (size_t i = 0; i < r->nhdr; i++) {
      size_t e = (size_t)r->hs[i].vo + r->hs[i].vl;
      size_t e2 = (size_t)r->hs[i].no + r->hs[i].nl;
      if (e > keep)
        keep = e;
      if (e2 > keep)
        keep = e2;
    }
    keep += c->mstart;
    if (c->rpos > keep) {
      memmove(c->rbuf + keep, c->rbuf + c->rpos, c->rlen - c->rpos);
      c->rlen -= c->rpos - keep;
      c->rpos = keep;
    }
  }
  if (r->in_stream) /* the handler holds pointers into the header block */
    return c->rlen < c->rcap ? 0 : -CC_ETOOBIG;
  if (c->mstart > 0) {
    memmove(c->rbuf, c->rbuf + c->mstart, c->rlen - c->mstart);
    c->rlen -= c->mstart;
    c->rpos -= c->mstart;
    c->mstart = 0;
  }
  if (c->rcap - c->rlen >= 1024)
    return 0;
  size_t want = c->rcap ? c->rcap * 2 : RBUF_MIN;
  if (want > o->max_header_size + 64 * 1024)
    want = o->max_header_size + 64 * 1024;
  if (want <= c->rcap)
    return -CC_ETOOBIG;
  return grow(&c->rbuf, &c->rcap, want);
}

/* An idle keep-alive connection gives its memory back (nginx frees its
 * buffers on keep-alive too): the buffers, and the pages of its coroutine
 * stack below the current frame, which deeper calls (llhttp, handlers)
 * touched. Done only after IDLE_TRIM_MS without a request, so that the
 * busy path never pays for it. */
#define IDLE_TRIM_MS 1000

static void trim(conn_t *c) {
  cc_req_t *r = &c->req;
  free(c->rbuf);
  c->rbuf = NULL;
  c->rcap = c->rlen = c->rpos = c->mstart = 0;
  free(c->wbuf);
  c->wbuf = NULL;
  c->wcap = c->wlen = 0;
  free(r->hs);
  free(r->hdrs);
  r->hs = NULL;
  r->hdrs = NULL;
  r->hcap = 0;
  free(r->body);
  r->body = NULL;
  r->bcap = 0;
  free(r->scratch);
  r->scratch = NULL;
  r->scap = 0;
  free(r->rh);
  r->rh = NULL;
  r->rhcap = 0;
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  cc_task_t *t = cc__self();
  if (t && t->stack) {
    uintptr_t lo = ((uintptr_t)t->stack->lo + 4095) & ~(uintptr_t)4095;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t top = (sp - 1024) & ~(uintptr_t)4095; /* a margin below this frame */
    if (top > lo && sp < (uintptr_t)t->stack->lo + t->stack->size)
      madvise((void *)lo, top - lo, MADV_DONTNEED);
  }
#endif
  c->w->trims_pending++; /* the worker calls malloc_trim (server.c) */
}

/* An idle connection whose memory was trimmed may wait for its next
 * request without a coroutine (its stack page goes back too): plain TCP,
 * between requests, nothing buffered, not shutting down. */
#define DORMANT ((ssize_t)-1000000)

static bool dormant_ok(conn_t *c) {
  return !c->st && c->fd >= 0 && c->idle && !c->in_msg && c->rpos == c->rlen &&
         c->wlen == 0 && !c->w->stopping && !cc_cancelled();
}

/* Waits for the next request on an idle keep-alive connection: a read
 * bounded by IDLE_TRIM_MS, then (plain TCP only) the memory trim and a wait
 * for readability until the keep-alive deadline. Returns the bytes read, 0
 * at EOF, or a negative code. */
static ssize_t idle_read(conn_t *c, int64_t ka) {
  int64_t first = dl_in(IDLE_TRIM_MS);
  if (c->st || ka <= first)
    return conn_read(c, c->rbuf + c->rlen, c->rcap - c->rlen, ka);
  ssize_t n = conn_read(c, c->rbuf + c->rlen, c->rcap - c->rlen, first);
  if (n != -ETIMEDOUT || cc_cancelled() || cc_now() >= ka)
    return n;
  trim(c);
  if (dormant_ok(c)) {
    c->ka_deadline = ka;
    return DORMANT;
  }
  int e = cc_fd_wait(c->fd, CC_READABLE, ka);
  if (e < 0)
    return e;
  if ((e = make_room(c)) < 0)
    return e;
  return conn_read(c, c->rbuf + c->rlen, c->rcap - c->rlen, ka);
}

/* Reads the next bytes of the connection. After a short read (the kernel
 * had less than the buffer could take) the socket is most likely drained,
 * so it waits for readiness first instead of paying for a read(2) that
 * would only say EAGAIN: the loop's edge-triggered registration records
 * every arrival, so nothing can be missed, and a stale readiness costs
 * just the read it would have cost anyway. On an idle keep-alive
 * connection the first wait is bounded by IDLE_TRIM_MS, then memory is
 * trimmed. */
static ssize_t read_more(conn_t *c, int64_t dl) {
  if (!c->st && c->fd >= 0 && c->short_read) {
    c->short_read = false;
    int64_t first = c->idle ? dl_in(IDLE_TRIM_MS) : dl;
    if (first > dl)
      first = dl;
    int e = cc_fd_wait(c->fd, CC_READABLE, first);
    if (e == -ETIMEDOUT && first < dl && !cc_cancelled()) {
      trim(c);
      if (dormant_ok(c)) {
        c->ka_deadline = dl;
        return DORMANT;
      }
      e = cc_fd_wait(c->fd, CC_READABLE, dl);
      if (e == 0)
        e = make_room(c);
    }
    if (e < 0)
      return e;
  } else if (c->idle) {
    return idle_read(c, dl);
  }
  size_t room = c->rcap - c->rlen;
  ssize_t n = conn_read(c, c->rbuf + c->rlen, room, dl);
  c->short_read = n > 0 && (size_t)n < room;
  return n;
}

intptr_t cc__conn_main(void *arg) {
  conn_t *c = arg;
  worker_t *w = c->w;
  const cc_server_opts_t *o = &w->srv->o;
  c->started = true;
  if (c->tls && !w->stopping) {
    int e = cc_tls_accept(&c->st, c->fd, c->tls, NULL, c->hdr_deadline);
    if (e < 0)
      c->close = true;
  }
  while (!c->close && !w->stopping) {
    if (make_room(c) < 0) {
      error_close(c, 431);
      break;
    }
    int64_t dl;
    bool idle = !c->in_msg && c->rpos == c->rlen;
    if (idle)
      dl = c->nreq == 0 ? c->hdr_deadline : dl_in(o->keepalive_timeout_ms);
    else if (!c->req.headers_done)
      dl = c->hdr_deadline;
    else
      dl = dl_in(o->body_timeout_ms);
    c->idle = idle && c->nreq > 0;
    ssize_t n = read_more(c, dl);
    c->idle = false;
    if (n == DORMANT)
      return CC__CONN_DORMANT;
    if (n <= 0) {
      if (n == -ETIMEDOUT && !idle && !cc_cancelled())
        error_close(c, 408);
      else if (n == -ETIMEDOUT && c->nreq == 0 && !cc_cancelled())
        error_close(c, 408);
      break;
    }
    c->rlen += (size_t)n;
    int rc = cc__h1_process(c);
    if (cc__h1_flush(c) < 0 || rc)
      break;
    if (w->log_len && w->srv->log_fd >= 0) {
      ssize_t k = write(w->srv->log_fd, w->log, w->log_len);
      (void)k;
      w->log_len = 0;
    }
  }
  if (!c->dead)
    cc__h1_flush(c);
  if (w->log_len && w->srv->log_fd >= 0) {
    ssize_t k = write(w->srv->log_fd, w->log, w->log_len);
    (void)k;
    w->log_len = 0;
  }
  return 0;
}
