/* concur: TLS client and server streams on OpenSSL.
 *
 * A TLS connection is a cc_stream_t (stream.h): once the handshake is
 * done, every stream call works on it exactly as on a plain socket, and
 * the handshake itself runs inside the calling coroutine — when OpenSSL
 * wants to read or write, the coroutine waits for the socket and the loop
 * runs everything else.
 *
 *   Python (ssl + asyncio)                          concur
 *   ctx = ssl.create_default_context()              cc_tls_ctx_new(&ctx, NULL)
 *   ctx.load_verify_locations(cafile)               opts.ca_file
 *   ctx.load_cert_chain(cert, key)                  opts.cert_file, opts.key_file
 *   ctx.set_alpn_protocols(["h2", "http/1.1"])      opts.alpn = "h2,http/1.1"
 *   open_connection(host, port, ssl=ctx)            cc_tls_open_connection(...)
 *   ctx.wrap_socket(sock, server_side=True)         cc_tls_accept(&s, fd, ctx, NULL, dl)
 *
 * Clients verify the server's certificate chain against the system's CA
 * store (plus opts.ca_file) and check that it names the host given to
 * cc_tls_connect — unless verification is explicitly turned off. A
 * handshake or record-layer failure is -CC_ETLS; cc_tls_last_error()
 * describes it.
 *
 * A context is immutable after creation and may be shared by every
 * connection and every loop thread; a stream belongs to one loop.
 */
#ifndef CONCUR_TLS_H
#define CONCUR_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "stream.h"

CC_BEGIN_DECLS

/** Options for a TLS context; zero-fill (or NULL) for a verifying client. */
typedef struct cc_tls_opts {
  bool server;           /**< a server context (needs cert_file + key_file) */
  const char *cert_file; /**< PEM certificate chain (server, or client cert) */
  const char *key_file;  /**< PEM private key for cert_file */
  const char *ca_file;   /**< extra PEM CA certificates to trust */
  bool no_system_ca;     /**< clients: trust only ca_file, not the system store */
  bool insecure;         /**< clients: skip certificate verification entirely
                              (tests only; never for real peers) */
  /** ALPN protocols in preference order, comma-separated, e.g.
   *  "h2,http/1.1". A client offers them; a server picks the first of its
   *  list that the client offered (none in common: no ALPN, not an error).
   *  NULL: no ALPN. */
  const char *alpn;
} cc_tls_opts_t;

typedef struct cc_tls_ctx cc_tls_ctx_t;

/** Creates a context (TLS 1.2 minimum). Files are read now. Errors:
 *  -EINVAL (server without cert/key, bad ALPN list), -CC_ETLS (a file
 *  could not be loaded or the key does not match; see cc_tls_last_error),
 *  -ENOMEM. Never suspends. Thread-safe. */
CC_EXTERN int cc_tls_ctx_new(cc_tls_ctx_t **out, const cc_tls_opts_t *opts);

/** Frees a context. Streams made from it keep their own reference, so it
 *  may be freed while they live. NULL is a no-op. */
CC_EXTERN void cc_tls_ctx_free(cc_tls_ctx_t *ctx);

/** The OpenSSL SSL_CTX behind the context, for settings this API does not
 *  cover (ciphers, session cache, a custom ALPN select callback for
 *  HTTP/2...). Change it only before the first connection. */
CC_EXTERN void *cc_tls_ctx_native(cc_tls_ctx_t *ctx);

/** Runs a client handshake over the connected socket `fd` and, on
 *  success, stores a stream that owns `fd` in *out. `server_name` is sent
 *  as SNI and is the name the certificate must match (an IP literal is
 *  matched against the certificate's IP addresses); NULL sends no SNI and
 *  skips the name check (the chain is still verified).
 *  On failure *out is untouched and `fd` stays open and owned by the
 *  caller. Errors: -CC_ETLS (handshake failed, including a certificate that
 *  does not verify), -ECONNRESET, -ETIMEDOUT, -ECANCELED, -ENOMEM.
 *  May suspend. */
CC_EXTERN int cc_tls_connect(cc_stream_t **out, int fd, cc_tls_ctx_t *ctx,
                             const char *server_name, const cc_stream_opts_t *sopts,
                             int64_t deadline);

/** Runs a server handshake over the accepted socket `fd`; as
 *  cc_tls_connect() otherwise. May suspend. */
CC_EXTERN int cc_tls_accept(cc_stream_t **out, int fd, cc_tls_ctx_t *ctx,
                            const cc_stream_opts_t *sopts, int64_t deadline);

/** cc_tcp_connect() + cc_tls_connect() with `host` as the server name; the
 *  socket is closed on failure. May suspend. */
CC_EXTERN int cc_tls_open_connection(cc_stream_t **out, const char *host, int port,
                                     cc_tls_ctx_t *ctx, int64_t deadline);

/** The protocol ALPN selected for a TLS stream ("h2"), or NULL (no ALPN or
 *  not a TLS stream). Valid while the stream lives. */
CC_EXTERN const char *cc_tls_alpn(const cc_stream_t *s);

/** True for a stream made by cc_tls_connect/cc_tls_accept. */
CC_EXTERN bool cc_stream_is_tls(const cc_stream_t *s);

/** A description of the calling thread's last TLS failure (OpenSSL's error
 *  queue and, for certificate failures, the verification result), or "".
 *  Valid until the thread's next TLS call. */
CC_EXTERN const char *cc_tls_last_error(void);

CC_END_DECLS
#endif
