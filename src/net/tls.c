/* TLS streams on OpenSSL, driven by the coroutine model.
 *
 * OpenSSL runs over the non-blocking socket itself (a socket BIO): every
 * SSL_* call that cannot finish returns SSL_ERROR_WANT_READ or
 * SSL_ERROR_WANT_WRITE only after the socket said EAGAIN, which is exactly
 * the edge cc__fd_wait() needs; the coroutine waits for that direction and
 * repeats the same call with the same arguments, as OpenSSL requires.
 *
 * Failures fill a per-thread description (cc_tls_last_error) from OpenSSL's
 * error queue, which is cleared before each call so that stale entries from
 * other connections of the thread never leak into a result.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "concur/net.h"
#include "concur/tls.h"
#include "loop/sched.h"
#include "net/net_int.h"
#include "net/stream_int.h"

struct cc_tls_ctx {
  SSL_CTX *ssl;
  atomic_int refs; /* the creator + one per live stream */
  bool server;
  unsigned char *alpn; /* ALPN wire format: length-prefixed names */
  size_t alpn_len;
};

typedef struct tls_conn {
  SSL *ssl;
  cc_tls_ctx_t *ctx;
  bool failed;    /* a fatal error happened: no close_notify may be sent */
  bool shut;      /* close_notify already sent */
  char alpn[256]; /* the protocol ALPN selected, "" if none */
} tls_conn_t;

static _Thread_local char last_err[512];

const char *cc_tls_last_error(void) {
  return last_err;
}

/* Records OpenSSL's most recent error (plus `what`) as the thread's last
 * TLS error and empties the queue. */
static void note_err(const char *what, SSL *ssl) {
  unsigned long e = ERR_peek_last_error();
  char buf[256] = "";
  if (e)
    ERR_error_string_n(e, buf, sizeof buf);
  long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (vr != X509_V_OK)
    snprintf(last_err, sizeof last_err, "%s: certificate verify failed: %s (%s)", what,
             X509_verify_cert_error_string(vr), buf);
  else
    snprintf(last_err, sizeof last_err, "%s: %s", what, e ? buf : "unknown error");
  ERR_clear_error();
}

/* ---- contexts -------------------------------------------------------------- */

/* "h2,http/1.1" -> "\x02h2\x08http/1.1". */
static int alpn_wire(const char *list, unsigned char **out, size_t *len) {
  size_t n = strlen(list);
  unsigned char *w = malloc(n + 1);
  if (!w)
    return -ENOMEM;
  size_t o = 0;
  const char *p = list;
  while (*p) {
    const char *c = strchr(p, ',');
    size_t l = c ? (size_t)(c - p) : strlen(p);
    if (l == 0 || l > 255) {
      free(w);
      return -EINVAL;
    }
    w[o++] = (unsigned char)l;
    memcpy(w + o, p, l);
    o += l;
    p += l + (c ? 1 : 0);
    if (c && !*p) {
      free(w);
      return -EINVAL;
    }
  }
  if (o == 0) {
    free(w);
    return -EINVAL;
  }
  *out = w;
  *len = o;
  return 0;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  (void)ssl;
  cc_tls_ctx_t *c = arg;
  unsigned char *sel = NULL;
  if (SSL_select_next_proto(&sel, outlen, c->alpn, (unsigned)c->alpn_len, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

static void ctx_unref(cc_tls_ctx_t *c) {
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
    return;
  SSL_CTX_free(c->ssl);
  free(c->alpn);
  free(c);
}

int cc_tls_ctx_new(cc_tls_ctx_t **out, const cc_tls_opts_t *opts) {
  static const cc_tls_opts_t dflt;
  if (!out)
    return -EINVAL;
  if (!opts)
    opts = &dflt;
  if (opts->server && (!opts->cert_file || !opts->key_file))
    return -EINVAL;
  if (!opts->cert_file != !opts->key_file)
    return -EINVAL;
  last_err[0] = '\0';
  ERR_clear_error();
  cc_tls_ctx_t *c = calloc(1, sizeof *c);
  if (!c)
    return -ENOMEM;
  atomic_init(&c->refs, 1);
  c->server = opts->server;
  int r = -CC_ETLS;
  if (opts->alpn && (r = alpn_wire(opts->alpn, &c->alpn, &c->alpn_len)) < 0)
    goto fail;
  r = -CC_ETLS;
  c->ssl = SSL_CTX_new(opts->server ? TLS_server_method() : TLS_client_method());
  if (!c->ssl) {
    note_err("SSL_CTX_new", NULL);
    goto fail;
  }
  SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
  /* Writes are retried with the same bytes but maybe from a moved buffer
   * (the stream's write buffer is compacted); idle connections give their
   * record buffers back. */
  SSL_CTX_set_mode(c->ssl,
                   SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (opts->cert_file) {
    if (SSL_CTX_use_certificate_chain_file(c->ssl, opts->cert_file) != 1) {
      note_err("loading certificate", NULL);
      goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(c->ssl, opts->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c->ssl) != 1) {
      note_err("loading private key", NULL);
      goto fail;
    }
  }
  if (opts->ca_file && SSL_CTX_load_verify_locations(c->ssl, opts->ca_file, NULL) != 1) {
    note_err("loading CA file", NULL);
    goto fail;
  }
  if (!opts->server) {
    if (!opts->no_system_ca && !opts->insecure &&
        SSL_CTX_set_default_verify_paths(c->ssl) != 1) {
      note_err("loading the system CA store", NULL);
      goto fail;
    }
    SSL_CTX_set_verify(c->ssl, opts->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    if (c->alpn && SSL_CTX_set_alpn_protos(c->ssl, c->alpn, (unsigned)c->alpn_len) != 0) {
      note_err("setting ALPN", NULL);
      goto fail;
    }
  } else if (c->alpn) {
    SSL_CTX_set_alpn_select_cb(c->ssl, alpn_select, c);
  }
  *out = c;
  return 0;
fail:
  if (c->ssl)
    SSL_CTX_free(c->ssl);
  free(c->alpn);
  free(c);
  return r;
}

void cc_tls_ctx_free(cc_tls_ctx_t *ctx) {
  if (ctx)
    ctx_unref(ctx);
}

void *cc_tls_ctx_native(cc_tls_ctx_t *ctx) {
  return ctx->ssl;
}

/* ---- driving OpenSSL ------------------------------------------------------- */

/* Turns the outcome of an SSL call that returned `ret` into: 1 (waited,
 * call again), or a negative code (the connection is marked failed). */
static int ssl_step(cc_stream_t *s, int ret, const char *what, int64_t dl) {
  tls_conn_t *t = s->tls;
  int e = SSL_get_error(t->ssl, ret);
  int w;
  switch (e) {
  case SSL_ERROR_WANT_READ:
    w = cc__net_wait(s->fd, CC__READ, dl);
    return w < 0 ? w : 1;
  case SSL_ERROR_WANT_WRITE:
    w = cc__net_wait(s->fd, CC__WRITE, dl);
    return w < 0 ? w : 1;
  case SSL_ERROR_SYSCALL: {
    int err = errno;
    unsigned long queued = ERR_peek_error();
    t->failed = true;
    note_err(what, t->ssl);
    if (queued == 0 && err != 0 && err != EAGAIN)
      return -err;
    return -ECONNRESET; /* the peer closed without a close_notify */
  }
  case SSL_ERROR_ZERO_RETURN:
    return 0;
  default: {
    t->failed = true;
    int vr_fail = SSL_get_verify_result(t->ssl) != X509_V_OK;
    unsigned long le = ERR_peek_last_error();
    note_err(what, t->ssl);
    if (!vr_fail && ERR_GET_REASON(le) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
      return -ECONNRESET;
    return -CC_ETLS;
  }
  }
}

static ssize_t tls_read(cc_stream_t *s, void *buf, size_t n, int64_t dl) {
  tls_conn_t *t = s->tls;
  int f = cc__net_fair();
  if (CC_UNLIKELY(f < 0))
    return f;
  if (t->failed)
    return -CC_ETLS;
  int len = n > INT_MAX ? INT_MAX : (int)n;
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(t->ssl, buf, len);
    if (r > 0)
      return r;
    int st = ssl_step(s, r, "SSL_read", dl);
    if (st <= 0)
      return st;
  }
}

static ssize_t tls_write(cc_stream_t *s, const void *buf, size_t n, int64_t dl) {
  tls_conn_t *t = s->tls;
  int f = cc__net_fair();
  if (CC_UNLIKELY(f < 0))
    return f;
  if (t->failed)
    return -CC_ETLS;
  size_t done = 0;
  while (done < n) {
    size_t chunk = n - done;
    int len = chunk > INT_MAX ? INT_MAX : (int)chunk;
    ERR_clear_error();
    errno = 0;
    int r = SSL_write(t->ssl, (const char *)buf + done, len);
    if (r > 0) {
      done += (size_t)r;
      continue;
    }
    int st = ssl_step(s, r, "SSL_write", dl);
    if (st == 0)
      st = -EPIPE; /* the peer's close_notify arrived during a write */
    if (st < 0)
      return st;
  }
  return (ssize_t)n;
}

static ssize_t tls_writev(cc_stream_t *s, const struct iovec *iov, int cnt, int64_t dl) {
  size_t total = 0;
  for (int i = 0; i < cnt; i++) {
    if (iov[i].iov_len == 0)
      continue;
    ssize_t r = tls_write(s, iov[i].iov_base, iov[i].iov_len, dl);
    if (r < 0)
      return r;
    total += (size_t)r;
  }
  return (ssize_t)total;
}

static int tls_shutdown(cc_stream_t *s, int64_t dl) {
  tls_conn_t *t = s->tls;
  if (t->failed)
    return -CC_ETLS;
  while (!t->shut) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_shutdown(t->ssl);
    if (r >= 0) { /* 0: our close_notify is sent; the peer's may follow */
      t->shut = true;
      break;
    }
    int st = ssl_step(s, r, "SSL_shutdown", dl);
    if (st <= 0)
      return st < 0 ? st : 0;
  }
  return cc_shutdown(s->fd, SHUT_WR);
}

static void tls_free(cc_stream_t *s) {
  tls_conn_t *t = s->tls;
  if (!t)
    return;
  if (!t->failed && !t->shut && SSL_is_init_finished(t->ssl)) {
    /* Best effort, never waits: if the socket is full the peer simply
     * sees the connection close without a close_notify. */
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl);
  }
  ERR_clear_error();
  SSL_free(t->ssl);
  ctx_unref(t->ctx);
  free(t);
  s->tls = NULL;
}

static const cc__transport_t tls_tp = {tls_read, tls_write, tls_writev, tls_shutdown,
                                       tls_free};

/* ---- the socket BIO --------------------------------------------------------- */

/* OpenSSL's socket BIO writes with write(2), which raises SIGPIPE when the
 * peer has reset the connection and would kill a server that does not
 * ignore the signal. Our BIO is the socket BIO with its write replaced by
 * send(MSG_NOSIGNAL): the write fails with EPIPE and the stream reports it. */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_write(BIO *b, const char *buf, int len) {
  int fd = -1;
  BIO_get_fd(b, &fd);
  errno = 0;
  ssize_t r = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
  BIO_clear_retry_flags(b);
  if (r < 0 && (errno == EAGAIN || errno == EINTR))
    BIO_set_retry_write(b);
  return (int)r;
}

static int nosig_puts(BIO *b, const char *str) {
  return nosig_write(b, str, (int)strlen(str));
}

static void nosig_init(void) {
  const BIO_METHOD *sock = BIO_s_socket();
  BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOCKET, "concur socket");
  if (!m)
    return;
  if (!BIO_meth_set_write(m, nosig_write) || !BIO_meth_set_puts(m, nosig_puts) ||
      !BIO_meth_set_read(m, BIO_meth_get_read(sock)) ||
      !BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) ||
      !BIO_meth_set_create(m, BIO_meth_get_create(sock)) ||
      !BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock))) {
    BIO_meth_free(m);
    return;
  }
  nosig_method = m; /* lives as long as the process */
}

/* Attaches `fd` to `ssl` through the no-SIGPIPE BIO. 1 on success. */
static int attach_fd(SSL *ssl, int fd) {
  pthread_once(&nosig_once, nosig_init);
  if (!nosig_method)
    return 0;
  BIO *b = BIO_new(nosig_method);
  if (!b)
    return 0;
  BIO_set_fd(b, fd, BIO_NOCLOSE);
  SSL_set_bio(ssl, b, b);
  return 1;
}

/* ---- handshakes ------------------------------------------------------------ */

static int handshake(cc_stream_t **out, int fd, cc_tls_ctx_t *ctx, const char *name,
                     const cc_stream_opts_t *sopts, bool server, int64_t dl) {
  if (!out || !ctx || fd < 0)
    return -EINVAL;
  if (ctx->server != server)
    return -EINVAL;
  last_err[0] = '\0';
  ERR_clear_error();
  cc_stream_opts_t so = sopts ? *sopts : (cc_stream_opts_t){0};
  bool own = !so.borrow_fd;
  so.borrow_fd = true; /* until the handshake succeeds, the fd is the caller's */
  cc_stream_t *s;
  int r = cc__stream_make(&s, fd, &tls_tp, &so);
  if (r < 0)
    return r;
  tls_conn_t *t = calloc(1, sizeof *t);
  if (!t) {
    cc_stream_free(s);
    return -ENOMEM;
  }
  s->tls = t;
  t->ctx = ctx;
  atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
  t->ssl = SSL_new(ctx->ssl);
  if (!t->ssl || attach_fd(t->ssl, fd) != 1) {
    note_err("SSL_new", NULL);
    t->failed = true;
    cc_stream_free(s);
    return -ENOMEM;
  }
  if (server) {
    SSL_set_accept_state(t->ssl);
  } else {
    SSL_set_connect_state(t->ssl);
    if (name && *name) {
      cc_addr_t tmp;
      char bare[INET6_ADDRSTRLEN + 1];
      size_t nl = strlen(name);
      if (name[0] == '[' && nl >= 2 && name[nl - 1] == ']' && nl - 2 < sizeof bare) {
        memcpy(bare, name + 1, nl - 2); /* "[::1]" -> "::1" */
        bare[nl - 2] = '\0';
        name = bare;
      }
      bool is_ip = cc_addr_ip(&tmp, name, 0) == 0;
      int ok;
      if (is_ip) {
        /* No SNI for addresses (RFC 6066); match the certificate's IPs. */
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name);
      } else {
        SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = SSL_set_tlsext_host_name(t->ssl, name) == 1 &&
             SSL_set1_host(t->ssl, name) == 1;
      }
      if (!ok) {
        note_err("setting the server name", NULL);
        t->failed = true;
        cc_stream_free(s);
        return -EINVAL;
      }
    }
  }
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int hr = SSL_do_handshake(t->ssl);
    if (hr == 1)
      break;
    int st = ssl_step(s, hr, server ? "TLS accept" : "TLS connect", dl);
    if (st <= 0) {
      if (st == 0)
        st = -ECONNRESET;
      t->failed = true;
      cc_stream_free(s); /* borrowed: the fd stays open */
      return st;
    }
  }
  const unsigned char *p = NULL;
  unsigned int plen = 0;
  SSL_get0_alpn_selected(t->ssl, &p, &plen);
  if (p && plen > 0 && plen < sizeof t->alpn) {
    memcpy(t->alpn, p, plen);
    t->alpn[plen] = '\0';
  }
  s->own_fd = own;
  *out = s;
  return 0;
}

int cc_tls_connect(cc_stream_t **out, int fd, cc_tls_ctx_t *ctx, const char *server_name,
                   const cc_stream_opts_t *sopts, int64_t deadline) {
  return handshake(out, fd, ctx, server_name, sopts, false, deadline);
}

int cc_tls_accept(cc_stream_t **out, int fd, cc_tls_ctx_t *ctx,
                  const cc_stream_opts_t *sopts, int64_t deadline) {
  return handshake(out, fd, ctx, NULL, sopts, true, deadline);
}

int cc_tls_open_connection(cc_stream_t **out, const char *host, int port,
                           cc_tls_ctx_t *ctx, int64_t deadline) {
  int fd = cc_tcp_connect(host, port, deadline);
  if (fd < 0)
    return fd;
  int r = cc_tls_connect(out, fd, ctx, host, NULL, deadline);
  if (r < 0)
    cc_close(fd);
  return r;
}

const char *cc_tls_alpn(const cc_stream_t *s) {
  if (!s || s->tp != &tls_tp || !s->tls)
    return NULL;
  const tls_conn_t *t = s->tls;
  return t->alpn[0] ? t->alpn : NULL;
}

bool cc_stream_is_tls(const cc_stream_t *s) {
  return s && s->tp == &tls_tp;
}
