/* Helpers for the server tests: a server on its own thread, blocking raw
 * sockets with time-outs, and external clients (curl, python3) run through
 * popen. Everything is on 127.0.0.1 with an ephemeral port. */
#ifndef CC_HTTP_TEST_H
#define CC_HTTP_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

typedef struct tsrv {
  cc_server_t *srv;
  pthread_t th;
  int port;
  int rc;
} tsrv_t;

static void *tsrv_thread(void *arg) {
  tsrv_t *t = arg;
  t->rc = cc_server_run(t->srv);
  return NULL;
}

/* Listens on 127.0.0.1:0 and runs the server on a thread. */
static inline void tsrv_start(tsrv_t *t, cc_server_t *srv) {
  t->srv = srv;
  ASSERT_OK(cc_server_listen(srv, "127.0.0.1", 0));
  t->port = cc_server_port(srv);
  ASSERT_GT(t->port, 0);
  ASSERT_EQ(pthread_create(&t->th, NULL, tsrv_thread, t), 0);
}

static inline void tsrv_stop(tsrv_t *t) {
  cc_server_shutdown(t->srv);
  pthread_join(t->th, NULL);
  ASSERT_OK(t->rc);
  cc_server_free(t->srv);
}

/* A blocking client socket with 10 s send/receive time-outs. */
static inline int tconnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
    CC_TEST_FAIL("connect to port %d: %s", port, strerror(errno));
  return fd;
}

static inline void tsend(int fd, const char *s) {
  size_t n = strlen(s);
  ASSERT_EQ(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads one response (headers, then Content-Length bytes or chunks, or to
 * EOF) into buf (NUL-terminated). Returns its status, 0 at EOF before
 * anything, -1 on error. *total gets the bytes of the response. */
static bool tresp_head; /* the next response answers a HEAD: no body */
static inline int tread_resp(int fd, char *buf, size_t cap, size_t *total) {
  size_t n = 0;
  char *eoh = NULL;
  for (;;) {
    buf[n] = 0;
    if ((eoh = strstr(buf, "\r\n\r\n")))
      break;
    if (n + 1 >= cap)
      return -1;
    ssize_t k = recv(fd, buf + n, 1, 0); /* byte by byte: no overread into the next */
    if (k <= 0)
      return n ? -1 : 0;
    n += (size_t)k;
  }
  size_t hl = (size_t)(eoh + 4 - buf);
  int status = atoi(buf + 9);
  long clen = -1;
  const char *cl = strcasestr(buf, "\r\nContent-Length:");
  if (cl && cl < eoh)
    clen = atol(cl + 17);
  bool chunked = strcasestr(buf, "Transfer-Encoding: chunked") != NULL;
  bool head_like =
      tresp_head || status == 304 || status == 204 || (status >= 100 && status < 200);
  if (head_like || (clen < 0 && !chunked && strcasestr(buf, "Content-Length") == NULL &&
                    status != 200 && status != 206))
    clen = head_like ? 0 : clen;
  if (clen >= 0) {
    while (n < hl + (size_t)clen) {
      if (n + 1 >= cap)
        return -1;
      ssize_t k = recv(fd, buf + n, hl + (size_t)clen - n, 0);
      if (k <= 0)
        return -1;
      n += (size_t)k;
    }
  } else if (chunked) {
    /* Read until the terminating "0\r\n\r\n". */
    while (!(n >= 5 && memcmp(buf + n - 5, "0\r\n\r\n", 5) == 0)) {
      if (n + 1 >= cap)
        return -1;
      ssize_t k = recv(fd, buf + n, 1, 0);
      if (k <= 0)
        return -1;
      n += (size_t)k;
    }
  } else {
    for (;;) {
      if (n + 1 >= cap)
        return -1;
      ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
      if (k <= 0)
        break;
      n += (size_t)k;
    }
  }
  buf[n] = 0;
  tresp_head = false;
  if (total)
    *total = n;
  return status;
}

/* True when the peer closed the connection (EOF) within 10 s. */
static inline bool tclosed(int fd) {
  char c;
  ssize_t k = recv(fd, &c, 1, 0);
  return k == 0 || (k < 0 && errno == ECONNRESET);
}

/* Runs a shell command, capturing stdout into out; returns the exit code. */
static inline int trun(const char *cmd, char *out, size_t cap) {
  FILE *f = popen(cmd, "r");
  ASSERT_NOT_NULL(f);
  size_t n = 0, k;
  while (n + 1 < cap && (k = fread(out + n, 1, cap - 1 - n, f)) > 0)
    n += k;
  out[n] = 0;
  while (fread((char[256]){0}, 1, 256, f) > 0) {
  }
  int st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline bool thave(const char *prog) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
  return system(cmd) == 0;
}

/* A simple GET on a new connection; returns the status. */
static inline int tget(int port, const char *path, char *buf, size_t cap) {
  int fd = tconnect(port);
  char req[1024];
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           path);
  tsend(fd, req);
  int st = tread_resp(fd, buf, cap, NULL);
  close(fd);
  return st;
}

#endif
