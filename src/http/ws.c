/* WebSockets over a server connection (Tornado's WebSocketHandler,
 * aiohttp's WebSocketResponse), framing by libwslay.
 *
 * wslay's event API is non-blocking: its recv/send callbacks do one
 * non-blocking read/write and report WSLAY_ERR_WOULDBLOCK on EAGAIN. The
 * coroutine calls wrap it: when wslay can make no progress, the calling
 * coroutine waits for the socket (cc_fd_wait) and the loop runs everything
 * else. Bytes the client sent right after its handshake are already in the
 * connection's read buffer; the recv callback hands those out first.
 * Over TLS the callbacks go through the connection's cc_tls stream instead:
 * recv takes what the stream has decrypted (WOULDBLOCK when nothing is),
 * the coroutine waits with cc_stream_peek, and send queues on the stream
 * (which may suspend the coroutine inside the callback, a stackful
 * coroutine's privilege), flushed after each wslay_event_send.
 * wslay answers pings with pongs and a close with a close by itself.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "concur/net.h"
#include "concur/stream.h"
#include "http/server_int.h"

typedef struct wmsg {
  struct wmsg *next;
  int opcode;
  uint16_t code;
  size_t len;
  unsigned char data[];
} wmsg_t;

struct cc_ws {
  conn_t *c;
  wslay_event_context_ptr ctx;
  wmsg_t *head, *tail; /* received, not yet handed out */
  wmsg_t *current;     /* handed out by the last cc_ws_recv */
  int err;
};

static int64_t send_deadline(cc_ws_t *ws) {
  return cc_deadline_in(ws->c->w->srv->o.send_timeout_ms);
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *ud) {
  cc_ws_t *ws = ud;
  conn_t *c = ws->c;
  if (c->rpos < c->rlen) {
    size_t k = c->rlen - c->rpos < len ? c->rlen - c->rpos : len;
    memcpy(buf, c->rbuf + c->rpos, k);
    c->rpos += k;
    return (ssize_t)k;
  }
  if (c->st) { /* TLS: what the stream has decrypted, never waiting */
    if (cc_stream_buffered(c->st) == 0) {
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
      return -1;
    }
    ssize_t k = cc_stream_read(c->st, buf, len, 0);
    if (k > 0)
      return k;
    ws->err = k == 0 ? -ECONNRESET : (int)k;
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  ssize_t n = recv(c->fd, buf, len, 0);
  if (n > 0)
    return n;
  if (n == 0) {
    ws->err = -ECONNRESET;
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
  } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
  } else {
    ws->err = -errno;
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
  }
  return -1;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                       int flags, void *ud) {
  cc_ws_t *ws = ud;
  if (ws->c->st) { /* TLS: queued on the stream (which may suspend), flushed after */
    ssize_t k = cc_stream_write(ws->c->st, data, len, send_deadline(ws));
    if (k >= 0)
      return (ssize_t)len;
    ws->err = (int)k;
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  ssize_t n = send(ws->c->fd, data, len, MSG_NOSIGNAL);
  if (n >= 0)
    return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
  else {
    ws->err = -errno;
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
  }
  return -1;
}

static void msg_cb(wslay_event_context_ptr ctx,
                   const struct wslay_event_on_msg_recv_arg *a, void *ud) {
  cc_ws_t *ws = ud;
  if (a->opcode == WSLAY_PONG)
    return;
  wmsg_t *m = malloc(sizeof *m + a->msg_length + 1);
  if (!m) {
    ws->err = -ENOMEM;
    return;
  }
  m->next = NULL;
  m->opcode = a->opcode;
  m->code = a->status_code;
  m->len = a->msg_length;
  memcpy(m->data, a->msg, a->msg_length);
  m->data[a->msg_length] = 0;
  if (ws->tail)
    ws->tail->next = m;
  else
    ws->head = m;
  ws->tail = m;
}

/* Sends what wslay has queued, waiting for the socket as needed. */
static int flush(cc_ws_t *ws) {
  while (wslay_event_want_write(ws->ctx)) {
    if (wslay_event_send(ws->ctx) != 0)
      return ws->err ? ws->err : -EPIPE;
    if (ws->c->st) { /* everything was queued on the TLS stream */
      int e = cc_stream_flush(ws->c->st, send_deadline(ws));
      if (e < 0)
        return ws->err = e;
      continue;
    }
    if (!wslay_event_want_write(ws->ctx))
      break;
    int e = cc_fd_wait(ws->c->fd, CC_WRITABLE,
                       cc_deadline_in(ws->c->w->srv->o.send_timeout_ms));
    if (e < 0)
      return e;
  }
  return ws->err;
}

static int b64(const unsigned char *in, size_t n, char *out) {
  return EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

int cc_ws_upgrade(cc_req_t *r, cc_ws_t **out) {
  conn_t *c = r->c;
  size_t kl = 0, vl = 0, ul = 0;
  const char *key = cc_req_header(r, "Sec-WebSocket-Key", &kl);
  const char *ver = cc_req_header(r, "Sec-WebSocket-Version", &vl);
  const char *up = cc_req_header(r, "Upgrade", &ul);
  if (r->started)
    return -EALREADY;
  if (!up || !cc_http_token_eq(up, ul, "websocket") || !key || kl == 0 || kl > 64 ||
      r->cmethod != CC_HTTP_GET) {
    cc_resp_header(r, "Upgrade", "websocket");
    cc_resp_text(r, 426, "426 Upgrade Required: this is a WebSocket endpoint\n");
    return -EPROTO;
  }
  if (!ver || !cc_http_token_eq(ver, vl, "13")) {
    cc_resp_header(r, "Sec-WebSocket-Version", "13");
    cc_resp_text(r, 400, "400 Bad Request: WebSocket version 13 only\n");
    return -EPROTO;
  }
  if (c->fd < 0) { /* driven from a buffer (the fuzz target) */
    cc_resp_text(r, 501, "501 Not Implemented: no socket\n");
    return -ENOTSUP;
  }
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  char kbuf[64 + sizeof guid];
  memcpy(kbuf, key, kl);
  memcpy(kbuf + kl, guid, sizeof guid - 1);
  unsigned char sha[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)kbuf, kl + sizeof guid - 1, sha);
  char accept[64];
  b64(sha, sizeof sha, accept);
  cc_ws_t *ws = calloc(1, sizeof *ws);
  if (!ws)
    return -ENOMEM;
  ws->c = c;
  struct wslay_event_callbacks cb = {
      .recv_callback = recv_cb, .send_callback = send_cb, .on_msg_recv_callback = msg_cb};
  if (wslay_event_context_server_init(&ws->ctx, &cb, ws) != 0) {
    free(ws);
    return -ENOMEM;
  }
  wslay_event_config_set_max_recv_msg_length(ws->ctx, c->w->srv->o.max_body);
  /* The 101 goes out after any pipelined answers before it, at once. */
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                   accept);
  int e = cc__wbuf_put(c, head, (size_t)n);
  if (e == 0)
    e = cc__h1_flush(c);
  r->started = r->finished = true;
  r->status = 101;
  c->close = true; /* the connection ends with the WebSocket */
  if (e < 0) {
    wslay_event_context_free(ws->ctx);
    free(ws);
    return e;
  }
  *out = ws;
  return 0;
}

ssize_t cc_ws_recv(cc_ws_t *ws, int *opcode, const void **data, int64_t deadline) {
  free(ws->current);
  ws->current = NULL;
  for (;;) {
    if (ws->head) {
      wmsg_t *m = ws->head;
      ws->head = m->next;
      if (!ws->head)
        ws->tail = NULL;
      ws->current = m;
      *opcode = m->opcode;
      *data = m->data;
      if (m->opcode == WSLAY_CONNECTION_CLOSE) {
        flush(ws); /* wslay queued our close reply */
        *data = NULL;
        return m->code;
      }
      return (ssize_t)m->len;
    }
    if (ws->err)
      return ws->err;
    if (!wslay_event_want_read(ws->ctx))
      return -ECONNRESET; /* closed */
    if (wslay_event_recv(ws->ctx) != 0)
      return ws->err ? ws->err : -EBADMSG;
    int e = flush(ws); /* pongs, close replies */
    if (e < 0)
      return e;
    if (ws->head)
      continue;
    if (ws->err)
      return ws->err;
    if (ws->c->st) { /* TLS: wait until the stream has decrypted bytes */
      const void *p;
      ssize_t k = cc_stream_peek(ws->c->st, &p, deadline);
      if (k <= 0)
        return k == 0 ? -ECONNRESET : (int)k;
      continue;
    }
    e = cc_fd_wait(ws->c->fd, CC_READABLE, deadline);
    if (e < 0)
      return e;
  }
}

int cc_ws_send(cc_ws_t *ws, int opcode, const void *data, size_t n) {
  struct wslay_event_msg m = {(uint8_t)opcode, data, n};
  if (wslay_event_queue_msg(ws->ctx, &m) != 0)
    return -EINVAL;
  return flush(ws);
}

int cc_ws_close(cc_ws_t *ws, int code, const char *reason) {
  size_t rl = reason ? strlen(reason) : 0;
  if (wslay_event_queue_close(ws->ctx, (uint16_t)code, (const uint8_t *)reason, rl) != 0)
    return 0; /* already closing */
  return flush(ws);
}

void cc_ws_free(cc_ws_t *ws) {
  if (!ws)
    return;
  while (ws->head) {
    wmsg_t *m = ws->head;
    ws->head = m->next;
    free(m);
  }
  free(ws->current);
  wslay_event_context_free(ws->ctx);
  free(ws);
}
