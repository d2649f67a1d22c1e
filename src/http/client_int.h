/* Internal: the structures of the HTTP client, shared by client.c (the
 * public calls, run by the requesting coroutine or thread) and curl_loop.c
 * (libcurl's socket and timer callbacks, run by the loop in its own
 * context).
 *
 * Ownership: a session owns its CURLM handle, its share handle (cookies,
 * DNS cache, TLS sessions), its free list of transfers (each one reused
 * easy handle with its buffers) and a free list of responses (each keeps
 * the capacity of its body, header and URL buffers). A request takes one of
 * each from the free lists, so a steady stream of requests allocates
 * nothing once the lists are warm.
 *
 * Threads: a loop session is touched only by its loop's thread (no lock).
 * A thread session (made outside any loop) is guarded by `mu`, held for the
 * whole of a request.
 */
#ifndef CC_HTTP_CLIENT_INT_H
#define CC_HTTP_CLIENT_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>

#include "concur/http.h"
#include "loop/sched.h"
#include "loop/io.h"

typedef struct cc__http_resp cc__http_resp_t;
typedef struct cc__http_xfer cc__http_xfer_t;
typedef struct cc__http_sock cc__http_sock_t;

struct cc__http_resp {
  cc_http_response_t pub; /* first: a cc_http_response_t * is a cc__http_resp_t * */
  cc__http_resp_t *next_free;
  cc_http_session_t *s;
  char *body;
  size_t body_len, body_cap;
  char *hbuf; /* raw header lines of the latest response */
  size_t hlen, hcap;
  cc_http_header_t *hdrs;
  size_t nhdrs_cap;
  char *url;
  size_t url_cap;
};

/* One transfer: an easy handle reused across requests. */
struct cc__http_xfer {
  cc__http_xfer_t *next_free;
  cc_http_session_t *s;
  CURL *easy;
  cc__http_resp_t *resp; /* being filled */
  /* the waiting coroutine (loop session) */
  cc_task_t *task;
  uint64_t token;
  CURLcode result;
  bool done;
  bool in_multi;
  bool dirty; /* options beyond the URL were set: reset before reuse */
  bool too_big;
  size_t max_body;
  size_t total; /* body bytes received */
  struct curl_slist *hdrs;
  curl_mime *mime;
  FILE *upload;
  char *scratch; /* URL with query, form body: alive during the transfer */
  size_t scratch_cap;
  /* streaming (cc_http_stream_*): the body is staged in resp->body */
  bool stream;
  bool paused;
  size_t stage_off; /* bytes of resp->body already handed to the reader */
};

/* A socket libcurl uses, with its watcher (loop sessions only). */
struct cc__http_sock {
  cc__io_t io;
  cc_http_session_t *s;
  curl_socket_t fd;
  bool conn;  /* opened by cc__http_open_socket and not yet closed */
  bool known; /* announced by libcurl and not yet removed (assigned to k) */
  cc__http_sock_t *next, *prev; /* the session's records */
};

struct cc_http_session {
  CURLM *multi;
  CURLSH *share;
  cc_loop_t *loop; /* NULL: a thread session */
  pthread_mutex_t mu;
  cc_http_session_opts_t o;
  char *ua, *ca_file, *ca_path, *proxy; /* owned copies of the option strings */
  cc__http_xfer_t *xfree;
  cc__http_resp_t *rfree;
  size_t nrfree;
  size_t resp_out; /* responses handed out and not yet freed */
  bool dead;       /* freed while responses were still out */
  cc_http_session_stats_t st;
  uint64_t rng;
  cc__cbtimer_t timer;
  cc__http_sock_t *socks; /* every record */
  cc__http_sock_t **byfd; /* open connection sockets by fd (see curl_loop.c) */
  size_t nbyfd;
  struct cc__h1 *h1; /* the native HTTP/1.1 transport (h1_client.c); NULL: libcurl only */
  bool jar_used;     /* the cookie jar may hold cookies: libcurl only from now on */
};

/* Splits r->hbuf[0..hlen) (a status line, then header lines, up to the
 * first empty line) into r->hdrs / r->pub.headers. 0 or -ENOMEM. */
int cc__http_parse_headers(cc__http_resp_t *r);
/* The delay a Retry-After header among hdrs asks for, in ms (delta seconds
 * or an HTTP date, capped at 60 s), or -1 without a usable one. */
int64_t cc__http_retry_after_ms(const cc_http_header_t *hdrs, size_t n);

/* ---- client.c, for the native transport (h1_client.c) ---------------- */

/* A response from the session's pool (empty) / back to it (see client.c).
 * resp_put returns true when the session must now be destroyed. */
cc__http_resp_t *cc__http_resp_get(cc_http_session_t *s);
void cc__http_resp_put(cc__http_resp_t *r);
/* Grows *buf to at least `need` bytes (doubling). 0 or -ENOMEM. */
int cc__http_grow(char **buf, size_t *cap, size_t need);
/* Appends name=value&name=value (percent-encoded) to *buf at *len. */
int cc__http_put_pairs(char **buf, size_t *cap, size_t *len, const cc_http_header_t *p,
                       size_t n);
/* One attempt of `q` on libcurl, following at most `max_redirects`
 * redirects (negative: the session's setting). 0 and *out, or an error. */
int cc__http_curl_attempt(cc_http_session_t *s, const cc_http_request_t *q,
                          int max_redirects, cc__http_resp_t **out);
/* Stores one cookie (a Netscape cookie-file line) in the session's jar. */
int cc__http_cookie_add(cc_http_session_t *s, const char *line);

/* ---- curl_loop.c: the loop driver ------------------------------------- */

/* Installs the socket and timer callbacks on s->multi for s->loop. */
int cc__http_loop_attach(cc_http_session_t *s);
/* Stops every watcher and the timer (before curl_multi_cleanup). */
void cc__http_loop_detach(cc_http_session_t *s);
/* CURLOPT_OPENSOCKETFUNCTION / CLOSESOCKETFUNCTION (data: the session). */
curl_socket_t cc__http_open_socket(void *ud, curlsocktype purpose,
                                   struct curl_sockaddr *a);
int cc__http_close_socket(void *ud, curl_socket_t fd);
/* Reaps finished transfers: marks them done, removes them from the multi
 * handle and wakes their coroutine. */
void cc__http_reap(cc_http_session_t *s);

#endif
