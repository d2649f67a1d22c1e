/* concur: the HTTP vocabulary that the client and the server share —
 * methods, status codes, case-insensitive headers — and, below it, the
 * HTTP client (aiohttp's ClientSession, requests).
 *
 *   http.HTTPStatus(404).phrase         cc_http_reason(404)
 *   headers["content-type"]              cc_http_header_find(h, n, "Content-Type")
 *
 * Everything here is plain data and pure functions: thread-safe, never
 * suspends. The server's own API is in server.h.
 */
#ifndef CONCUR_HTTP_H
#define CONCUR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common.h"

CC_BEGIN_DECLS

/* ==== shared vocabulary ================================================== */

/** Request methods. CC_HTTP_OTHER stands for any method not listed (its
 *  name is then carried as text). */
typedef enum cc_http_method {
  CC_HTTP_GET = 0,
  CC_HTTP_HEAD,
  CC_HTTP_POST,
  CC_HTTP_PUT,
  CC_HTTP_DELETE,
  CC_HTTP_PATCH,
  CC_HTTP_OPTIONS,
  CC_HTTP_CONNECT,
  CC_HTTP_TRACE,
  CC_HTTP_OTHER,
  CC_HTTP_METHOD_COUNT
} cc_http_method_t;

/** One header field. The strings are not NUL-terminated in general: use the
 *  lengths. Who owns them is said by the call that produced the array (a
 *  request's headers live as long as the request; a response's as long as
 *  the response). */
typedef struct cc_http_header {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} cc_http_header_t;

/** "GET", "HEAD", ... for a method; "OTHER" for CC_HTTP_OTHER and NULL for
 *  a value out of range. Static string. */
CC_EXTERN const char *cc_http_method_name(cc_http_method_t m);

/** The method named by the `len` bytes at `name` (case-sensitive, as
 *  RFC 9110 says), or CC_HTTP_OTHER. */
CC_EXTERN cc_http_method_t cc_http_method_parse(const char *name, size_t len);

/** The reason phrase of a status code ("Not Found" for 404), or "Unknown"
 *  for a code it does not know. Static string. */
CC_EXTERN const char *cc_http_reason(int status);

/** The first header of `hdrs[0..n)` whose name equals `name` ignoring ASCII
 *  case, or NULL. */
CC_EXTERN const cc_http_header_t *cc_http_header_find(const cc_http_header_t *hdrs,
                                                      size_t n, const char *name);

/** True when the `len` bytes at `a` equal the NUL-terminated `b` ignoring
 *  ASCII case (header names, tokens such as "chunked" or "keep-alive"). */
CC_EXTERN bool cc_http_token_eq(const char *a, size_t len, const char *b);

/* ==== client ============================================================= */
/* The HTTP client: aiohttp's ClientSession, httpx, requests.
 *
 *   aiohttp / requests                     concur
 *   ------------------------------------   ------------------------------------------
 *   async with ClientSession() as s:       cc_http_session_new(&s, NULL); ...
 *                                          cc_http_session_free(s);
 *   r = await s.get(url); await r.text()   cc_http_get(s, url, &r); r->body, r->body_len
 *   r.status, r.url                        r->status, r->url (after redirects)
 *   r.headers["ETag"]                      cc_http_header_find(r->headers, r->nheaders,
 *                                            "ETag") (any case)
 *   (end of async with r)                  cc_http_response_free(r)
 *   await s.post(url, json=...)            cc_http_request(s, &(cc_http_request_t){
 *                                            .method = CC_HTTP_POST, .url = url,
 *                                            .json = "{...}"}, &r)
 *   params=, headers=, data=, files=       req.query, req.headers, req.body / req.form /
 *                                            req.body_file, req.parts
 *   requests.get(url) on a thread          the same calls outside any loop: they block
 *   TCPConnector(limit, limit_per_host)    opts.max_conns, opts.max_conns_per_host
 *   ClientTimeout(total, connect)          opts.timeout_ms, opts.connect_timeout_ms,
 *                                            and the task's cc_timeout_begin() scope
 *   task.cancel() during a request         the transfer leaves libcurl at once
 *   session.cookie_jar                     a cookie jar per session (on by default)
 *   trust_env=True (http_proxy, no_proxy)  always (libcurl reads the environment)
 *   ssl=False / cafile=...                 opts.insecure / opts.ca_file, opts.ca_path
 *   max_redirects / allow_redirects=False  opts.max_redirects / req.no_redirects
 *   urllib3 Retry(total, backoff_factor,   opts.retries, opts.retry_base_ms
 *     respect_retry_after_header=True)       (idempotent methods; 429, 503, failures)
 *   r.content.iter_chunked(n)              cc_http_stream_open / _read / _close
 *
 * Built on libcurl's multi-socket interface: a session made inside a loop
 * owns one CURLM handle that the loop drives through I/O callback watchers
 * (no polling thread); requests of every coroutine of that loop share its
 * connections (keep-alive, HTTP/2 multiplexing over TLS with ALPN). Plain
 * http:// requests of a loop session go, where nothing but HTTP/1.1 is
 * needed, through concur's own HTTP/1.1 transport on the same loop (the
 * `transport` option below says exactly when), which gives the same
 * responses and errors for a fraction of libcurl's cost per request.
 * Gzip, deflate, br and zstd bodies are decoded. Certificates are verified
 * against the system CAs unless told otherwise.
 *
 * Threads: a session belongs to the loop (or, made outside any loop, to the
 * thread) that created it. A plain thread (one running no loop) may also
 * call cc_http_request/cc_http_get on a loop session: the request runs on
 * that loop (which must be running or run later) and the thread blocks until
 * it is done; the response is then the thread's, freed on any thread.
 * Other loops get -EXDEV, and so does a coroutine calling a thread session
 * (it would block its whole loop). A thread session may be shared by plain
 * threads: it serves one request at a time (a second thread blocks until the
 * first request is done). A loop session's own responses are freed on its
 * loop's thread; a thread session's on any thread. A loop session must be
 * freed before its loop's run ends, and after every plain thread's request
 * on it has returned. Streams (cc_http_stream_*) are used on the session's
 * own loop or thread only.
 *
 * Errors of a request (negative returns), besides -ENOMEM and -EINVAL:
 *   -CC_ERESOLVE        the host name did not resolve
 *   -ECONNREFUSED       connection refused (or -ENETUNREACH, -EHOSTUNREACH)
 *   -ECONNRESET         the connection was reset (also mid-body) or closed
 *                       before any response
 *   -CC_EHTTP_PARTIAL   the body ended early (short Content-Length body,
 *                       chunked body without its last chunk)
 *   -CC_EHTTP_CERT      the server's certificate failed verification
 *   -CC_ETLS            another TLS failure (handshake, protocol)
 *   -CC_EHTTP_REDIRECTS more redirects than opts.max_redirects
 *   -ETIMEDOUT          the connect or total time-out, or the task's deadline
 *   -ECANCELED          the calling task was cancelled
 *   -CC_ETOOBIG         the body exceeds opts.max_body / req.max_body
 *   -CC_EPROTO_HTTP     a malformed response, or one with a bad encoding
 *   -EPROTONOSUPPORT    a URL scheme other than http and https, or a reply
 *                       that is not HTTP/1.x at all (HTTP/0.9, refused)
 *   -CC_EHTTP_CURL      any other libcurl failure
 * A status of 4xx or 5xx is not an error: the call succeeds and the status
 * is in the response (aiohttp without raise_for_status).
 */

typedef struct cc_http_session cc_http_session_t;

/** Which transport a loop session's requests take (cc_http_session_opts). */
typedef enum cc_http_transport {
  /** concur's own HTTP/1.1 transport wherever it can serve the request
   *  exactly as libcurl would (below), libcurl for everything else. */
  CC_HTTP_TRANSPORT_AUTO = 0,
  /** libcurl for every request. */
  CC_HTTP_TRANSPORT_CURL = 1,
} cc_http_transport_t;

/** Options of a session; zero-fill (or pass NULL) for the defaults. */
typedef struct cc_http_session_opts {
  /** Connections open at once, over all hosts (aiohttp's limit); 0: 100,
   *  negative: no limit. Requests beyond it wait in libcurl's queue, or in
   *  the native transport's FIFO (each transport counts its own
   *  connections). */
  long max_conns;
  /** Connections open at once to one host:port (limit_per_host); 0: no
   *  limit beyond max_conns. */
  long max_conns_per_host;
  /** Time allowed to connect (TCP and TLS), in ms; 0: 30,000. */
  int64_t connect_timeout_ms;
  /** Time allowed for a whole request (all redirects and the body), in ms;
   *  0: none (only the task's deadline scope, if any). */
  int64_t timeout_ms;
  /** Redirects followed per request; 0: 10; negative: none followed (the
   *  3xx response itself is returned). More than this: -CC_EHTTP_REDIRECTS. */
  int max_redirects;
  /** Largest body accepted (decoded bytes); 0: 1 GiB. More: -CC_ETOOBIG. */
  size_t max_body;
  /** Retries of an idempotent request (GET, HEAD, PUT, DELETE, OPTIONS,
   *  TRACE) after a connection failure (refused, unreachable, reset,
   *  partial body, malformed response) or a 429/503 response; 0: none.
   *  Time-outs are not retried (the deadline is the caller's). */
  int retries;
  /** First back-off before a retry, in ms (then doubled each time, at
   *  most 30 s, plus random jitter of up to half of it); 0: 100. A
   *  Retry-After header of a 429/503 (seconds or an HTTP date, capped at
   *  60 s) takes precedence. */
  int64_t retry_base_ms;
  /** PEM file / directory of CA certificates instead of the system's. */
  const char *ca_file;
  const char *ca_path;
  /** Skips certificate and host-name verification (ssl=False). */
  bool insecure;
  /** No cookie jar: Set-Cookie is ignored, no Cookie header is sent. */
  bool no_cookies;
  /** Asks for identity bodies (no Accept-Encoding, nothing decoded). */
  bool no_decompress;
  /** HTTP/1.1 only, even over TLS (no ALPN h2). */
  bool http1_only;
  /** User-Agent header; NULL: "concur/<version>". */
  const char *user_agent;
  /** Proxy URL for every request; NULL: from the environment
   *  (http_proxy, https_proxy, all_proxy, no_proxy), as requests does. */
  const char *proxy;
  /** AUTO (default): a loop session sends a request through concur's own
   *  HTTP/1.1 transport (keep-alive connections on the loop, llhttp) when
   *  all of these hold, and through libcurl otherwise:
   *    - the URL is http:// with a plain host (name, IPv4 or [IPv6]) and
   *      port, no user:password, only printable ASCII;
   *    - no proxy applies: opts.proxy is NULL, and neither http_proxy nor
   *      all_proxy/ALL_PROXY is set in the environment, or no_proxy
   *      (NO_PROXY) lists the host ("*", the name, or a domain it ends in);
   *    - the body is none, bytes, form fields or JSON (not body_file, not
   *      multipart parts), and it is not a stream (cc_http_stream_*);
   *    - cookies are off (no_cookies) or the session's jar is still empty.
   *      A Set-Cookie received natively is stored in libcurl's jar, and
   *      from then on every request of the session goes through libcurl,
   *      which sends the cookies back.
   *  A redirect to a URL that is not eligible continues on libcurl with the
   *  remaining redirect budget. Both transports give the same responses and
   *  errors; thread sessions always use libcurl. CURL: libcurl always.
   *  The environment variable CONCUR_HTTP_TRANSPORT=curl (or auto) read
   *  when the session is made overrides this for a whole run. */
  cc_http_transport_t transport;
} cc_http_session_opts_t;

/** Creates a session. Made on a loop's thread (in a coroutine or a loop
 *  callback), it belongs to that loop and its requests suspend only their
 *  coroutine; made outside any loop, it belongs to that thread and its
 *  requests block it. The caller frees it
 *  with cc_http_session_free(). Never suspends. Errors: -ENOMEM,
 *  -CC_EHTTP_CURL (libcurl could not be initialised). */
CC_EXTERN int cc_http_session_new(cc_http_session_t **out,
                                  const cc_http_session_opts_t *opts);

/** Closes every connection of the session and frees it. No request may be
 *  in flight (a task still inside cc_http_request on this session is a
 *  caller bug). Responses still held stay valid and are freed as usual.
 *  The session's thread only; never suspends. NULL is a no-op. */
CC_EXTERN void cc_http_session_free(cc_http_session_t *s);

/** Counters of a session, for tests and monitoring. */
typedef struct cc_http_session_stats {
  uint64_t requests;    /**< transfers completed (a redirect chain counts once) */
  uint64_t retries;     /**< retries made */
  uint64_t sockets;     /**< connection sockets opened */
  uint64_t easy_made;   /**< easy handles created (the rest were reused) */
  size_t in_flight;     /**< requests now in the multi handle */
  size_t watched;       /**< sockets with a watcher record (loop sessions) */
  uint64_t idle_events; /**< events on idle connections (closed by the server) */
  uint64_t native;      /**< of `requests`, those served by the native HTTP/1.1
                             transport (a chain that moved to libcurl counts
                             there) */
} cc_http_session_stats_t;
CC_EXTERN void cc_http_session_stats(const cc_http_session_t *s,
                                     cc_http_session_stats_t *st);

/** A response. Everything it points to is owned by it and lives until
 *  cc_http_response_free(). Read the fields; do not write them. */
typedef struct cc_http_response {
  int status;                      /**< final status code (after redirects) */
  int http_version;                /**< 10, 11, 20 or 30 */
  const char *url;                 /**< final URL after redirects, NUL-terminated */
  const cc_http_header_t *headers; /**< the final response's headers, in order */
  size_t nheaders;                 /**< names compare with cc_http_header_find() */
  const char *body;                /**< decoded body, NUL-terminated (never NULL) */
  size_t body_len;                 /**< its length without the NUL */
  int redirects;                   /**< redirects followed */
  int retries;                     /**< retries made before this answer */
  double total_s;                  /**< time of the last attempt, in seconds */
  struct cc__http_resp *priv_;     /**< private */
} cc_http_response_t;

/** A body part for multipart/form-data uploads (aiohttp's FormData). */
typedef struct cc_http_part {
  const char *name; /**< field name */
  const void *data; /**< contents (or NULL with `file`) */
  size_t len;
  const char *file;     /**< path of a file to send instead of data */
  const char *filename; /**< file name shown to the server, or NULL */
  const char *type;     /**< Content-Type of the part, or NULL */
} cc_http_part_t;

/** A request: zero-fill, then set what you need (method GET by default). */
typedef struct cc_http_request {
  cc_http_method_t method;
  const char *method_name; /**< the method's text when method is CC_HTTP_OTHER */
  const char *url;         /**< absolute http:// or https:// URL, NUL-terminated */
  /** Query parameters appended to the URL, percent-encoded by the library
   *  (params={...}); names and values by length. */
  const cc_http_header_t *query;
  size_t nquery;
  /** Extra request headers (they replace the session's of the same name). */
  const cc_http_header_t *headers;
  size_t nheaders;
  /** At most one body source: raw bytes (with content_type, or
   *  application/octet-stream), a file streamed from disk, form fields
   *  sent application/x-www-form-urlencoded, multipart parts, or a JSON
   *  text sent as application/json. */
  const void *body;
  size_t body_len;
  const char *content_type;
  const char *body_file;
  const cc_http_header_t *form;
  size_t nform;
  const cc_http_part_t *parts;
  size_t nparts;
  const char *json;
  /** Per-request overrides (0: the session's value). */
  int64_t timeout_ms;
  size_t max_body;
  int retries;       /**< negative: no retries for this request */
  bool no_redirects; /**< return a 3xx as it is */
} cc_http_request_t;

/** Sends `req` and waits for the whole response, following redirects and
 *  retrying as configured. On success returns 0 and stores a response in
 *  *out, which the caller frees with cc_http_response_free(). On failure
 *  *out is NULL and nothing is left behind (the easy handle and the
 *  connection are recycled or closed). In a coroutine: may suspend (only the
 *  caller; honours its cancellation and deadline scope). On a plain thread:
 *  blocks. Errors: see the table above; -EXDEV from another loop/thread. */
CC_EXTERN int cc_http_request(cc_http_session_t *s, const cc_http_request_t *req,
                              cc_http_response_t **out);

/** GET `url` (requests.get / session.get). As cc_http_request(). */
CC_EXTERN int cc_http_get(cc_http_session_t *s, const char *url,
                          cc_http_response_t **out);

/** Frees a response (its body, headers and URL). NULL is a no-op. On the
 *  session's thread (the session may already be freed). */
CC_EXTERN void cc_http_response_free(cc_http_response_t *r);

/* ---- streaming bodies ----------------------------------------------------- */

/** A response whose body is read piece by piece (large downloads:
 *  aiohttp's resp.content.read(n), requests' stream=True). */
typedef struct cc_http_stream cc_http_stream_t;

/** Sends `req` and waits for the response's headers. On success *out holds
 *  the stream and *head (if not NULL) points to a response whose status,
 *  headers and url are set and whose body is empty; it belongs to the
 *  stream. No retries; max_body still applies. May suspend / blocks.
 *  Errors as cc_http_request(). */
CC_EXTERN int cc_http_stream_open(cc_http_session_t *s, const cc_http_request_t *req,
                                  cc_http_stream_t **out,
                                  const cc_http_response_t **head);

/** Reads up to `len` bytes of the body into `buf`. Returns how many (> 0),
 *  0 at the end of the body, or a negative error (as cc_http_request()).
 *  The connection is read only as fast as the caller consumes (libcurl's
 *  transfer is paused in between). May suspend / blocks. */
CC_EXTERN ssize_t cc_http_stream_read(cc_http_stream_t *st, void *buf, size_t len);

/** Ends the transfer (whether or not the body was read to its end) and
 *  frees the stream and its head. Never suspends. NULL is a no-op. */
CC_EXTERN void cc_http_stream_close(cc_http_stream_t *st);

CC_END_DECLS
#endif
