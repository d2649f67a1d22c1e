/* Internal: the HTTP client's native HTTP/1.1 transport (h1_client.c), used
 * by loop sessions for the requests it can serve exactly as libcurl would
 * (the eligibility rules are in concur/http.h, cc_http_session_opts_t
 * .transport). Everything here runs in the requesting coroutine, or in the
 * loop's own context for the connection watchers' callbacks; nothing is
 * touched by another thread.
 */
#ifndef CC_HTTP_H1_CLIENT_H
#define CC_HTTP_H1_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/client_int.h"

/* Sets up s->h1 (loop sessions with transport AUTO). 0 or -ENOMEM. */
int cc__h1c_new(cc_http_session_t *s);
/* Closes every native connection and frees s->h1 (no request in flight).
 * NULL s->h1 is a no-op. */
void cc__h1c_free(cc_http_session_t *s);
/* One attempt of `q` with its redirects, as cc__http_curl_attempt(): 0 and
 * *out, or an error code of the table in concur/http.h; CC__H1C_NOT_MINE
 * (at once, nothing done) when q is not eligible. May suspend. */
#define CC__H1C_NOT_MINE 1
int cc__h1c_request(cc_http_session_t *s, const cc_http_request_t *q,
                    cc__http_resp_t **out);

/* The response parser alone, for the fuzz target (fuzz/http_h1_response.c):
 * parses the response bytes p[0..n), fed to llhttp `piece` bytes at a time,
 * into r (headers, decoded body, status) as a request would, with end of
 * input taken as the server's close. Returns 0 (*keep: the connection could
 * serve another request) or the error a request would get. Never
 * suspends. */
int cc__h1c_parse(cc__http_resp_t *r, const char *p, size_t n, size_t piece, bool head,
                  bool decode, size_t max_body, bool *keep);

/* Turns one Set-Cookie header value received from `host` (lower case) for
 * a request to `path` (the URL path, without the query) into a line of
 * libcurl's cookie file format (Netscape: domain, tailmatch, path, secure,
 * expires, name, value, tab-separated; "#HttpOnly_" before the domain of an
 * HttpOnly cookie), NUL-terminated in out[0..cap). `now` is the time in
 * seconds (for Max-Age). Returns the line's length, or -EINVAL for a cookie
 * that must be ignored (no name, a Domain that does not cover the host, a
 * Secure cookie from an insecure origin, bytes the format cannot carry),
 * -ENOSPC if it does not fit. Reads outside input: fuzz/http_setcookie.c.
 * Never suspends. */
ssize_t cc__h1c_cookie_line(const char *host, const char *path, size_t path_len,
                            const char *sc, size_t sc_len, int64_t now, char *out,
                            size_t cap);

#endif
