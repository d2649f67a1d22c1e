/* W6's limit reference: the smallest plausible C plaintext server. One
 * thread, epoll, non-blocking sockets, TCP_NODELAY; every request that one
 * read delivered is answered with one write; a Date header formatted once a
 * second; no allocation after start-up. It parses nothing but the request
 * ends ("\r\n\r\n"), so it is a ceiling, not a server.
 *   w6_ref_server PORT          (serves until SIGTERM) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 65536
static char resp[256];
static size_t resp_len;
static time_t resp_sec;
static char out[256 * 64];

static void fmt_resp(void) {
  time_t now = time(NULL);
  if (now == resp_sec)
    return;
  resp_sec = now;
  char date[64];
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  resp_len = (size_t)snprintf(resp, sizeof resp,
                              "HTTP/1.1 200 OK\r\nServer: ref\r\nDate: %s\r\n"
                              "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
                              "Hello, World!",
                              date);
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8080;
  signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4096)) {
    perror("bind");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  static unsigned partial[MAXC]; /* bytes of "\r\n\r\n" matched so far */
  char buf[65536];
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    fmt_resp();
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        int c;
        while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          if (c >= MAXC) {
            close(c);
            continue;
          }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          partial[c] = 0;
          struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        }
        continue;
      }
      ssize_t k = read(fd, buf, sizeof buf);
      if (k <= 0) {
        close(fd);
        continue;
      }
      static const char end[] = "\r\n\r\n";
      unsigned m = partial[fd], reqs = 0;
      for (ssize_t j = 0; j < k; j++) {
        if (buf[j] == end[m]) {
          if (++m == 4) {
            reqs++;
            m = 0;
          }
        } else {
          m = buf[j] == '\r' ? 1 : 0;
        }
      }
      partial[fd] = m;
      size_t o = 0;
      for (unsigned r = 0; r < reqs; r++) {
        if (o + resp_len > sizeof out) {
          if (write(fd, out, o) < 0)
            break;
          o = 0;
        }
        memcpy(out + o, resp, resp_len);
        o += resp_len;
      }
      if (o && write(fd, out, o) < 0)
        close(fd);
    }
  }
}
