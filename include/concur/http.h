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

CC_END_DECLS
#endif
