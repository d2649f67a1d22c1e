/* A misbehaving raw HTTP server for the client tests (see raw_server.h). */
#include "raw_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void send_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
    if (k <= 0)
      return;
    c += k;
    n -= (size_t)k;
  }
}

/* Reads one request (head and a Content-Length body) into buf. */
static size_t read_request(int fd, char *buf, size_t cap) {
  size_t n = 0;
  size_t need = 0;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0)
      return n;
    ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
    if (k <= 0)
      return n;
    n += (size_t)k;
    buf[n] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (end && !need) {
      size_t head = (size_t)(end + 4 - buf);
      size_t cl = 0;
      for (char *h = buf; h && h < end; h = strstr(h, "\r\n"), h = h ? h + 2 : NULL)
        if (strncasecmp(h, "Content-Length:", 15) == 0)
          cl = strtoul(h + 15, NULL, 10);
      need = head + cl;
    }
    if (need && n >= need)
      return n;
    if (n + 1 >= cap)
      return n;
  }
}

static void *serve(void *arg) {
  raw_server_t *s = arg;
  char *buf = malloc(1 << 20);
  char filler[1000];
  memset(filler, 'x', sizeof filler);
  for (int i = 0; i < s->conns; i++) {
    struct pollfd p = {s->fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0)
      break;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
      break;
    size_t n = read_request(c, buf, 1 << 20);
    char head[256];
    switch (s->mode) {
    case RAW_ECHO: {
      int hl = snprintf(
          head, sizeof head,
          "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
      send_all(c, head, (size_t)hl);
      send_all(c, buf, n);
      break;
    }
    case RAW_RESET:
    case RAW_SHORT_CL: {
      const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
      send_all(c, h, strlen(h));
      send_all(c, filler, sizeof filler);
      if (s->mode == RAW_RESET) {
        usleep(50000); /* let the client read what was sent first */
        struct linger lg = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      }
      break;
    }
    case RAW_TRUNC_CHUNKED: {
      const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n";
      send_all(c, h, strlen(h));
      send_all(c, filler, sizeof filler);
      send_all(c, "\r\n", 2);
      break;
    }
    case RAW_CANNED:
      send_all(c, s->canned, s->canned_len);
      if (s->drop_second)
        read_request(c, buf, 1 << 20);
      break;
    }
    close(c);
  }
  free(buf);
  return NULL;
}

int raw_server_start(raw_server_t *s, enum raw_mode mode, int conns) {
  s->mode = mode;
  s->conns = conns;
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(s->fd, 16) != 0 || getsockname(s->fd, (struct sockaddr *)&a, &len) != 0)
    return -1;
  s->port = ntohs(a.sin_port);
  return pthread_create(&s->thread, NULL, serve, s) == 0 ? 0 : -1;
}

int raw_server_start_canned(raw_server_t *s, const char *reply, size_t len,
                            bool drop_second, int conns) {
  s->canned = reply;
  s->canned_len = len;
  s->drop_second = drop_second;
  return raw_server_start(s, RAW_CANNED, conns);
}

void raw_server_stop(raw_server_t *s) {
  pthread_join(s->thread, NULL);
  close(s->fd);
}
