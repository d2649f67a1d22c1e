/* Test helper: a one-thread raw TCP server on loopback that misbehaves on
 * purpose (resets mid-body, truncates a chunked body) or echoes the request
 * it received, for the cases nginx will not produce. It serves `conns`
 * connections one after the other, then its thread ends. */
#ifndef CC_TEST_RAW_SERVER_H
#define CC_TEST_RAW_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

enum raw_mode {
  RAW_ECHO,          /* 200 whose body is the request received (head + body) */
  RAW_RESET,         /* Content-Length: 100000, 1,000 bytes, then an RST */
  RAW_TRUNC_CHUNKED, /* chunked, one chunk, then a clean close (no last chunk) */
  RAW_SHORT_CL,      /* Content-Length: 100000, 1,000 bytes, then a clean close */
  RAW_CANNED,        /* the bytes given to raw_server_start_canned(), then a close */
};

typedef struct raw_server {
  int fd;
  int port;
  int conns;
  enum raw_mode mode;
  const char *canned; /* RAW_CANNED: the reply to a connection's first request */
  size_t canned_len;
  bool drop_second; /* RAW_CANNED: then read a second request and close unanswered */
  pthread_t thread;
} raw_server_t;

int raw_server_start(raw_server_t *s, enum raw_mode mode, int conns);
/* RAW_CANNED: each of `conns` connections gets `reply` (len bytes) to its
 * first request; with drop_second the server then reads the next request
 * and closes without answering it (a keep-alive connection closed by the
 * server just as the client reused it), else closes at once. */
int raw_server_start_canned(raw_server_t *s, const char *reply, size_t len,
                            bool drop_second, int conns);
/* Joins the thread (after the expected connections) and closes the socket. */
void raw_server_stop(raw_server_t *s);

#endif
