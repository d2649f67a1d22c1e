/* Test helper: a private nginx on loopback for the HTTP client tests (and
 * the W7 benchmark). It runs in the foreground as one process (no master,
 * no daemon) from its own temporary prefix, on free ports, and is stopped by
 * its pid. The site it serves:
 *
 *   /index.html          "hello from nginx\n"
 *   /page4k.html         4096 bytes
 *   /big.bin             2 MiB (rate-limited copy under /slow/)
 *   /gz/text.txt         16 KiB of text, gzip-compressed on the fly
 *   /br/text.txt         the same text stored brotli-compressed, sent with
 *                        Content-Encoding: br
 *   /r<N> (N = 1..20)    302 to /r<N-1>; /r1 redirects to /index.html
 *   /setcookie           Set-Cookie: sess=abc123
 *   /echocookie          "cookie=<the Cookie header>\n"
 *   /echo                "<method> <uri> x-test=<X-Test>\n"
 *   /busy                429 with Retry-After: 1
 *   /unavail             503 without Retry-After
 *   /shortka             "short\n", then the connection is closed after 1 s idle
 *
 * The access log holds "<connection> <connection_requests> <protocol>
 * <uri> <status>" per request, so tests can count connections server-side.
 * With tls, the same site is also served over TLS + HTTP/2 on tls_port with
 * a self-signed certificate for localhost / 127.0.0.1 made at start-up
 * (cert path in `cert`).
 */
#ifndef CC_TEST_NGINX_HELPER_H
#define CC_TEST_NGINX_HELPER_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct test_nginx {
  pid_t pid;
  int port;
  int tls_port;
  char dir[128];
  char cert[160];
  char log[160];
} test_nginx_t;

/* Starts nginx; returns 0, or -1 when nginx is not installed or did not come
 * up (the caller skips). */
int test_nginx_start(test_nginx_t *n, bool tls);

/* The same for benchmarks: no access log, no TLS, no brotli file. */
int test_nginx_start_quiet(test_nginx_t *n);

/* "http://127.0.0.1:<port><path>" for the plain-text listener of n, in one
 * of eight rotating static buffers (so a few can be alive at once). */
char *test_nginx_url(const test_nginx_t *n, const char *path);

/* Stops it (SIGTERM, then waits), removes the prefix. */
void test_nginx_stop(test_nginx_t *n);

/* Counts the access-log lines whose URI starts with `uri_prefix`, and the
 * distinct connection numbers among them (*conns, if not NULL); with
 * `proto` non-NULL, only lines of that protocol ("HTTP/2.0"). */
int test_nginx_count(test_nginx_t *n, const char *uri_prefix, const char *proto,
                     int *conns);

/* test_nginx_count() once it reaches `expect` lines (nginx writes a log
 * line just after the response, so the client may see the answer first);
 * gives up after 5 s and returns the last count. */
int test_nginx_count_wait(test_nginx_t *n, const char *uri_prefix, const char *proto,
                          int *conns, int expect);

/* A free TCP port on 127.0.0.1. */
int test_free_port(void);

#endif
