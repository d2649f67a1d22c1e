/* concur: the HTTP/1.1 server — Tornado, FastAPI and aiohttp.web for C.
 *
 * A handler is a plain C function that runs as a coroutine, one request at a
 * time per connection: it may suspend (cc_sleep, the HTTP client,
 * cc_to_thread, the process pool) without holding up other connections.
 * Requests are parsed by llhttp; keep-alive, pipelining (every request one
 * read delivered is answered with one write), chunked request bodies,
 * Expect: 100-continue, HTTP/1.0 and Connection: close are handled here.
 * The server runs N loops on N threads (one per core by default), each with
 * its own SO_REUSEPORT listener; the request path takes no lock and, once
 * warm, allocates nothing.
 *
 *   Python                                      concur
 *   app = web.Application()                     cc_server_new(&srv, &opts)
 *   app.router.add_get("/u/{id}", h)            cc_server_route(srv, "GET", "/u/{id}", h,
 * arg)
 *   @app.get("/items/{id}") (FastAPI)           (the same)
 *   web.run_app(app, port=8080)                 cc_server_listen(srv, "127.0.0.1", 8080);
 *                                               cc_server_run(srv)
 *   request.match_info["id"]                    cc_req_param(req, "id", &len)
 *   request.query["q"]                          cc_req_query(req, "q", &len)
 *   request.headers["User-Agent"]               cc_req_header(req, "User-Agent", &len)
 *   await request.read()                        cc_req_body(req, &len)
 *   web.Response(text="hi", status=201)         cc_resp_send(req, 201, "text/plain",
 * "hi", 2) resp.headers["X-A"] = "b"                   cc_resp_header(req, "X-A", "b")
 *   web.StreamResponse / write / write_eof      cc_resp_start / cc_resp_write /
 * cc_resp_end web.FileResponse(path)                      cc_resp_file(req, path)
 *   app.router.add_static("/s", dir)            cc_server_static(srv, "/s", dir)
 *   @web.middleware                             opts.before / opts.after
 *   app.shutdown() / SIGINT                     cc_server_shutdown(srv)
 *
 * Handlers' return value: 0 (or more) when the response was sent or may be
 * completed by the server (a handler that sent nothing gets an empty 200),
 * negative to fail: the server answers 500 (if nothing was sent yet) and
 * logs the error. A client that disconnects while its response is being
 * written makes the write fail, and the handler is then cancelled: every
 * later suspending call it makes returns -ECANCELED.
 *
 * Threads: build the server (routes, listeners) on one thread before
 * cc_server_run; after that it is read-only except for cc_server_shutdown,
 * which any thread or signal-free context may call. A request and every
 * pointer it hands out belong to the connection's loop and live until the
 * handler returns.
 */
#ifndef CONCUR_SERVER_H
#define CONCUR_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common.h"
#include "http.h"
#include "net.h"
#include "tls.h"

CC_BEGIN_DECLS

typedef struct cc_server cc_server_t;
/** One request and its response (aiohttp's Request + Response). Opaque; it
 *  belongs to the connection and lives until the handler returns. */
typedef struct cc_req cc_req_t;

/** A request handler: runs in the connection's coroutine; may suspend.
 *  Returns >= 0, or a negative code to answer 500. */
typedef int (*cc_handler_fn)(cc_req_t *req, void *arg);

/** Server options; zero-fill (or NULL) for the defaults, which are nginx's. */
typedef struct cc_server_opts {
  int loops;                    /**< loops (threads); 0: one per online CPU */
  size_t max_header_line;       /**< one header line; 0: 8 KiB (431 past it) */
  size_t max_header_size;       /**< request line + headers; 0: 64 KiB (431) */
  size_t max_headers;           /**< header fields; 0: 100 (431) */
  size_t max_uri;               /**< request target; 0: 8 KiB (414) */
  size_t max_body;              /**< buffered body; 0: 1 MiB (413); routes may
                                     raise it (cc_server_route_opts) */
  int64_t header_timeout_ms;    /**< whole header block; 0: 10 s (408) */
  int64_t body_timeout_ms;      /**< between two reads of a body; 0: 60 s (408) */
  int64_t send_timeout_ms;      /**< between two writes; 0: 60 s (close) */
  int64_t keepalive_timeout_ms; /**< idle keep-alive; 0: 75 s (close) */
  unsigned max_requests;        /**< per connection; 0: 1000 (then close) */
  size_t max_conns;             /**< connections at once over all loops;
                                     0: 65536. Past it a new connection is
                                     answered 503 and closed */
  int64_t shutdown_grace_ms;    /**< in-flight requests' grace; 0: 10 s */
  const char *server_name;      /**< the Server header; NULL: "concur" */
  bool handle_signals;          /**< cc_server_run on a plain thread: SIGINT and
                                     SIGTERM start a graceful shutdown */
  size_t stack_size;            /**< connection coroutine stack; 0: 64 KiB */
  /** Middleware, run around every routed handler in the connection's
   *  coroutine. `before` returns 0 to go on, > 0 when it answered the
   *  request itself (the handler is skipped), < 0 to fail with 500.
   *  `after` sees the status sent (cc_resp_status_sent); it may suspend. */
  int (*before)(cc_req_t *req, void *arg);
  void (*after)(cc_req_t *req, void *arg);
  void *hook_arg;
  /** Access log in the common log format, one line per request; NULL: off. */
  const char *access_log;
  /** Errors (handler failures, accept errors): NULL logs them to stderr,
   *  at most a few a second. Runs on the loop; must not suspend. */
  void (*on_error)(int err, const char *what, void *arg);
  void *error_arg;
} cc_server_opts_t;

/** Per-route options; zero-fill for the defaults. */
typedef struct cc_route_opts {
  size_t max_body;  /**< this route's body limit; 0: the server's */
  bool stream_body; /**< the handler runs as soon as the headers are in and
                         reads the body itself with cc_req_read (large
                         uploads: nothing is buffered). A handler that leaves
                         part of the body unread closes the connection */
} cc_route_opts_t;

/** Creates a server (not yet listening). Errors: -ENOMEM, -EINVAL. The
 *  caller owns it; free with cc_server_free(). Never suspends. */
CC_EXTERN int cc_server_new(cc_server_t **out, const cc_server_opts_t *opts);

/** Frees a server that is not running; closes its listeners. NULL is a
 *  no-op. */
CC_EXTERN void cc_server_free(cc_server_t *srv);

/** Adds a route. `method` is "GET", "POST", ... or NULL / "*" for any
 *  method (GET routes answer HEAD too). `pattern` is a path of segments;
 *  "{name}" matches one non-empty segment, a last segment "{name...}" or
 *  "*" matches the rest of the path (possibly empty). Routes are tried in
 *  the order added; a path that some route matches with another method
 *  gets 405 with Allow, no match 404. The strings are copied. Errors:
 *  -EINVAL (bad pattern), -ENOMEM, -EBUSY (server running). Never suspends. */
CC_EXTERN int cc_server_route(cc_server_t *srv, const char *method, const char *pattern,
                              cc_handler_fn fn, void *arg);
CC_EXTERN int cc_server_route_opts(cc_server_t *srv, const char *method,
                                   const char *pattern, cc_handler_fn fn, void *arg,
                                   const cc_route_opts_t *ropts);

/** Serves the files under directory `root` at URL prefix `prefix` (nginx
 *  `root`, aiohttp add_static): GET and HEAD, sendfile, Content-Type by
 *  extension, ETag/Last-Modified with 304, Range with 206 (at most 16
 *  ranges, else the whole file), index.html for directories. Paths that
 *  leave the root (`..`, `%2e%2e`, encoded slashes, NUL, symlinks pointing
 *  outside) are refused with 404/400. Errors as cc_server_route, or
 *  -ENOENT / -ENOTDIR for `root`. Never suspends. */
CC_EXTERN int cc_server_static(cc_server_t *srv, const char *prefix, const char *root);

/** Listens on TCP `host`:`port` (NULL host: every address; port 0: an
 *  ephemeral one, see cc_server_port). One socket per loop with
 *  SO_REUSEPORT. May be called several times (IPv4, IPv6 "::1", ...).
 *  Returns 0 or a negative code (-EADDRINUSE, ...). Must be called before
 *  cc_server_run; blocks (only to resolve a name). */
CC_EXTERN int cc_server_listen(cc_server_t *srv, const char *host, int port);

/** As cc_server_listen with TLS (the cc_tls server context `tls`, which the
 *  caller keeps alive while the server runs; give it ALPN "http/1.1"). */
CC_EXTERN int cc_server_listen_tls(cc_server_t *srv, const char *host, int port,
                                   cc_tls_ctx_t *tls);

/** Listens on a Unix-domain socket at `path` (served by the first loop). */
CC_EXTERN int cc_server_listen_unix(cc_server_t *srv, const char *path);

/** The port of the first TCP listener (after cc_server_listen), or
 *  -ENOTCONN. */
CC_EXTERN int cc_server_port(const cc_server_t *srv);

/** Runs the server until cc_server_shutdown() (or a signal, see
 *  opts.handle_signals). Called from a plain thread it blocks that thread
 *  and runs one loop on it; called from a coroutine it serves on the
 *  current loop (as loop 0) and suspends the caller. The other loops run
 *  on threads it starts and joins. Shutdown follows aiohttp's order: stop
 *  accepting, close idle keep-alive connections, let in-flight requests
 *  finish within shutdown_grace_ms, cancel what is left. Returns 0 after a
 *  shutdown, or a negative code (-EINVAL: no listener; -EBUSY). */
CC_EXTERN int cc_server_run(cc_server_t *srv);

/** Starts a graceful shutdown. Any thread; never suspends; idempotent. */
CC_EXTERN void cc_server_shutdown(cc_server_t *srv);

/** Totals since the server started (approximate while running). */
typedef struct cc_server_stats {
  uint64_t requests; /**< responses sent */
  uint64_t conns;    /**< connections accepted */
  uint64_t refused;  /**< connections answered 503 at the cap */
  uint64_t errors;   /**< 4xx/5xx sent by the server itself */
  size_t live_conns; /**< connections open now */
} cc_server_stats_t;
CC_EXTERN void cc_server_stats(const cc_server_t *srv, cc_server_stats_t *out);

/* ---- the request ----------------------------------------------------------
 * Strings returned here are not NUL-terminated unless said; they live until
 * the handler returns. None of these suspend. */

CC_EXTERN cc_http_method_t cc_req_method(const cc_req_t *req);
/** The method as sent ("GET", "PROPFIND"). */
CC_EXTERN const char *cc_req_method_name(const cc_req_t *req, size_t *len);
/** The request target as sent ("/a%20b?x=1"). */
CC_EXTERN const char *cc_req_target(const cc_req_t *req, size_t *len);
/** The path, percent-decoded, NUL-terminated ("/a b"). */
CC_EXTERN const char *cc_req_path(cc_req_t *req, size_t *len);
/** The raw query string after '?' (not decoded), or NULL. */
CC_EXTERN const char *cc_req_query_string(const cc_req_t *req, size_t *len);
/** The first value of query parameter `name` ('+' and %XX decoded,
 *  NUL-terminated), or NULL. */
CC_EXTERN const char *cc_req_query(cc_req_t *req, const char *name, size_t *len);
/** The value of route parameter `name` ({name} in the pattern), decoded and
 *  NUL-terminated, or NULL. */
CC_EXTERN const char *cc_req_param(cc_req_t *req, const char *name, size_t *len);
/** The first header named `name` (any case), or NULL. */
CC_EXTERN const char *cc_req_header(const cc_req_t *req, const char *name, size_t *len);
/** All request headers, in order. */
CC_EXTERN const cc_http_header_t *cc_req_headers(const cc_req_t *req, size_t *n);
/** HTTP minor version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
CC_EXTERN int cc_req_version(const cc_req_t *req);
/** The buffered body (chunked bodies are de-chunked), or NULL when empty. */
CC_EXTERN const void *cc_req_body(const cc_req_t *req, size_t *len);
/** The peer's address. */
CC_EXTERN const cc_addr_t *cc_req_peer(const cc_req_t *req);

/** Reads up to `n` bytes of the body (aiohttp's request.content.read(n)):
 *  on a stream_body route straight from the connection (sending
 *  "100 Continue" first when the client asked for it), elsewhere from the
 *  buffered body. Returns the count (> 0), 0 at the end of the body, or a
 *  negative code: -CC_ETOOBIG past the route's body limit, -EBADMSG for a
 *  malformed body, -ECONNRESET when the client goes away, -ETIMEDOUT after
 *  body_timeout_ms without data, -ECANCELED. May suspend. */
CC_EXTERN ssize_t cc_req_read(cc_req_t *req, void *buf, size_t n);

/* ---- JSON (jansson) ---------------------------------------------------------
 * Values are jansson's json_t (include <jansson.h> and link -ljansson to
 * build or read them), as FastAPI's request bodies and dict responses. */
struct json_t;

/** The buffered body parsed as JSON (await request.json()). The value is
 *  owned by the request (freed when the handler returns; json_incref it to
 *  keep it). NULL on failure, with *err (if not NULL) set to -ENODATA (no
 *  body) or -EBADMSG (not JSON; answer 400). Never suspends. */
CC_EXTERN struct json_t *cc_req_json(cc_req_t *req, int *err);

/** Sends `value` as a compact application/json response (web.json_response)
 *  and releases the caller's reference to it (it steals the reference, as
 *  jansson's *_new functions do, so cc_resp_json(req, 200, json_pack(...))
 *  leaks nothing). A NULL value gives -EINVAL (json_pack failed). 0,
 *  -EALREADY, -ENOMEM. Never suspends. */
CC_EXTERN int cc_resp_json(cc_req_t *req, int status, struct json_t *value);

/* ---- the response ----------------------------------------------------------
 * A response is sent once. Headers added with cc_resp_header go out with the
 * next cc_resp_send / cc_resp_start / cc_resp_file. On HEAD the body is not
 * sent (Content-Length still is). Buffered responses are not written at
 * once: the answers to a batch of pipelined requests leave in one write. */

/** Adds a response header (copied). -EALREADY after the response started,
 *  -ENOSPC past 8 KiB of added headers. Never suspends. */
CC_EXTERN int cc_resp_header(cc_req_t *req, const char *name, const char *value);
/** Sends a complete response with `len` bytes of `body` (copied) and
 *  Content-Type `ctype` (NULL: none). 0, -EALREADY, -ENOMEM. Never
 *  suspends. */
CC_EXTERN int cc_resp_send(cc_req_t *req, int status, const char *ctype, const void *body,
                           size_t len);
/** cc_resp_send with a NUL-terminated text/plain body. */
CC_EXTERN int cc_resp_text(cc_req_t *req, int status, const char *text);
/** Starts a streamed response of unknown length (chunked transfer encoding
 *  on HTTP/1.1, close-delimited on HTTP/1.0); the headers are written now.
 *  May suspend. Errors: -EALREADY, a write error (then the handler is
 *  cancelled). */
CC_EXTERN int cc_resp_start(cc_req_t *req, int status, const char *ctype);
/** Writes one piece of a streamed response (one chunk). May suspend;
 *  a write error means the client is gone (the handler is then cancelled). */
CC_EXTERN int cc_resp_write(cc_req_t *req, const void *data, size_t len);
/** Ends a streamed response. May suspend. */
CC_EXTERN int cc_resp_end(cc_req_t *req);
/** Sends the file at `path` with sendfile (Content-Type by extension, ETag,
 *  Last-Modified, 304, Range/206) — the static handler's engine. Returns 0
 *  when a response was sent (possibly 304/404/416), or a write error. May
 *  suspend. */
CC_EXTERN int cc_resp_file(cc_req_t *req, const char *path);
/** The status of the response sent so far, 0 if none yet. */
CC_EXTERN int cc_resp_status_sent(const cc_req_t *req);

/* ---- WebSockets (libwslay) ---------------------------------------------------
 *
 *   Tornado / aiohttp                              concur
 *   ws = web.WebSocketResponse(); ws.prepare(req)   cc_ws_upgrade(req, &ws)
 *   msg = await ws.receive()                        n = cc_ws_recv(ws, &op, &data, dl)
 *   await ws.send_str(s) / send_bytes(b)            cc_ws_send(ws, CC_WS_TEXT, s, len)
 *   await ws.close()                                cc_ws_close(ws, 1000, "bye")
 * The handler that upgraded owns the WebSocket until it returns (after
 * cc_ws_free); the connection then closes. Pings are answered with pongs,
 * and a close from the client with a close, by the framing library. Works
 * on every listener: plain TCP, Unix sockets and TLS (wss://). */
typedef struct cc_ws cc_ws_t;
enum {
  CC_WS_TEXT = 1,
  CC_WS_BINARY = 2,
  CC_WS_CLOSE = 8,
  CC_WS_PING = 9,
  CC_WS_PONG = 10
};

/** Answers a WebSocket handshake (RFC 6455: GET with Upgrade: websocket,
 *  Sec-WebSocket-Key, version 13) with 101 and stores the WebSocket in
 *  *out. A request that is not a valid handshake is answered (426 or 400)
 *  and -EPROTO returned: the handler should then just return 0. May
 *  suspend (writing the 101). */
CC_EXTERN int cc_ws_upgrade(cc_req_t *req, cc_ws_t **out);
/** Receives the next whole message (fragments are joined): *opcode is
 *  CC_WS_TEXT, CC_WS_BINARY, CC_WS_PING (answered already) or CC_WS_CLOSE
 *  (the return value is then the close code; the reply was sent), *data
 *  points at the payload (NUL-terminated, valid until the next call).
 *  Returns the payload length, or -ECONNRESET (gone), -EBADMSG (protocol
 *  error), -ETIMEDOUT, -ECANCELED. May suspend. */
CC_EXTERN ssize_t cc_ws_recv(cc_ws_t *ws, int *opcode, const void **data,
                             int64_t deadline);
/** Sends one message (CC_WS_TEXT, CC_WS_BINARY, CC_WS_PING, CC_WS_PONG).
 *  0 or a write error. May suspend. */
CC_EXTERN int cc_ws_send(cc_ws_t *ws, int opcode, const void *data, size_t n);
/** Starts (or answers) the closing handshake with `code`. May suspend. */
CC_EXTERN int cc_ws_close(cc_ws_t *ws, int code, const char *reason);
/** Frees the WebSocket (the connection closes when the handler returns). */
CC_EXTERN void cc_ws_free(cc_ws_t *ws);

/** The Content-Type for a file name by its extension ("text/html" for
 *  ".html"), "application/octet-stream" when unknown. Static string. */
CC_EXTERN const char *cc_server_mime_type(const char *path);

CC_END_DECLS
#endif
