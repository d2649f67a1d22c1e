/* The echo benchmark's limit reference: the smallest plausible C echo with
 * the same two-process layout as bench/echo_bench.c. A forked child serves
 * (one thread, plain epoll, level-triggered, non-blocking sockets,
 * TCP_NODELAY; every read is answered with one write of what it delivered,
 * no buffering layer), and this process runs the clients on one thread
 * with its own epoll: `conns` connections each write a message, read until
 * the whole echo is back, compare it, and repeat until the time is up.
 * No allocation after start-up. It is a ceiling, not an application.
 *
 *   echo_ref SECONDS CONNS MSG_BYTES [uring]
 *
 * With `uring` (built with liburing only, ECHO_REF_URING) the server is an
 * io_uring one instead: a recv per connection, a send of what it got when
 * it completes, then the next recv, accepts re-armed, one
 * io_uring_submit_and_wait per iteration: the ceiling of an io_uring
 * design, against the epoll ceiling above (the clients stay the same).
 *
 * Prints: E echo impl=ref-c conns=64 msg_bytes=64 msgs_per_s=... wall_s=...
 * Exits non-zero on any error or a wrong echo. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* One write; should the socket's send buffer not take it all (rare on
 * loopback: the echo that was just read fits where it came from), the
 * rest is written with the socket blocking, so the reference stays correct
 * without a buffering layer. */
static int write_all(int fd, const char *p, size_t n) {
  ssize_t w = write(fd, p, n);
  if (w == (ssize_t)n)
    return 0;
  if (w < 0 && errno != EAGAIN)
    return -1;
  size_t off = w > 0 ? (size_t)w : 0;
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  while (off < n) {
    w = write(fd, p + off, n - off);
    if (w <= 0) {
      fcntl(fd, F_SETFL, fl);
      return -1;
    }
    off += (size_t)w;
  }
  fcntl(fd, F_SETFL, fl);
  return 0;
}

/* ---- server (child) ---- */

static void serve(int lfd) {
  static char buf[64 * 1024];
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      _exit(1);
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        int c;
        while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          nodelay(c);
          struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN)
          continue;
        close(fd);
        continue;
      }
      if (write_all(fd, buf, (size_t)r) < 0)
        close(fd);
    }
  }
}

#ifdef ECHO_REF_URING
#include <liburing.h>

#define URING_MAXC 4096
enum { OP_ACCEPT, OP_RECV, OP_SEND };
#define UD(op, fd) ((uint64_t)(op) << 32 | (uint32_t)(fd))

static void serve_uring(int lfd) {
  struct io_uring ring;
  if (io_uring_queue_init(512, &ring, 0) < 0)
    _exit(3);
  static char *bufs[URING_MAXC];
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  io_uring_prep_accept(sqe, lfd, NULL, NULL, 0);
  io_uring_sqe_set_data64(sqe, UD(OP_ACCEPT, lfd));
  for (;;) {
    if (io_uring_submit_and_wait(&ring, 1) < 0 && errno != EINTR)
      _exit(1);
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      n++;
      uint64_t ud = io_uring_cqe_get_data64(cqe);
      int op = (int)(ud >> 32), fd = (int)(uint32_t)ud, res = cqe->res;
      if (op == OP_ACCEPT) {
        if (res >= 0 && res < URING_MAXC) {
          nodelay(res);
          if (!bufs[res])
            bufs[res] = malloc(64 * 1024);
          sqe = io_uring_get_sqe(&ring);
          io_uring_prep_recv(sqe, res, bufs[res], 64 * 1024, 0);
          io_uring_sqe_set_data64(sqe, UD(OP_RECV, res));
        }
        sqe = io_uring_get_sqe(&ring);
        io_uring_prep_accept(sqe, lfd, NULL, NULL, 0);
        io_uring_sqe_set_data64(sqe, UD(OP_ACCEPT, lfd));
      } else if (op == OP_RECV) {
        if (res <= 0) {
          close(fd);
          continue;
        }
        sqe = io_uring_get_sqe(&ring);
        io_uring_prep_send(sqe, fd, bufs[fd], (size_t)res, MSG_WAITALL);
        io_uring_sqe_set_data64(sqe, UD(OP_SEND, fd));
      } else {
        if (res < 0) {
          close(fd);
          continue;
        }
        sqe = io_uring_get_sqe(&ring);
        io_uring_prep_recv(sqe, fd, bufs[fd], 64 * 1024, 0);
        io_uring_sqe_set_data64(sqe, UD(OP_RECV, fd));
      }
    }
    io_uring_cq_advance(&ring, n);
  }
}
#endif

/* ---- clients ---- */

typedef struct {
  int fd;
  size_t sent, got; /* bytes of the current message */
  unsigned k;
} conn_t;

int main(int argc, char **argv) {
  bool uring = argc == 5 && strcmp(argv[4], "uring") == 0;
#ifndef ECHO_REF_URING
  if (uring) {
    fprintf(stderr, "echo_ref: built without liburing\n");
    return 2;
  }
#endif
  if (argc != 4 && !uring) {
    fprintf(stderr, "usage: echo_ref SECONDS CONNS MSG_BYTES [uring]\n");
    return 2;
  }
  double secs = atof(argv[1]);
  int conns = atoi(argv[2]);
  size_t msg = (size_t)atol(argv[3]);
  if (secs <= 0 || conns <= 0 || msg == 0 || msg > 1 << 20)
    return 2;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
      listen(lfd, 1024) < 0 || getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
    perror("echo_ref: listen");
    return 1;
  }
  pid_t pid = fork();
  if (pid < 0)
    return 1;
  if (pid == 0) {
#ifdef ECHO_REF_URING
    if (uring)
      serve_uring(lfd);
#endif
    serve(lfd);
    _exit(0);
  }
  close(lfd);

  char *out = malloc(msg), *in = malloc(msg);
  conn_t *cs = calloc((size_t)conns, sizeof *cs);
  int ep = epoll_create1(0);
  int fail = 0;
  for (size_t i = 0; i < msg; i++)
    out[i] = (char)('a' + i % 26);
  for (int i = 0; i < conns && !fail; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* blocking connect, then non-blocking */
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
      perror("echo_ref: connect");
      fail = 1;
      break;
    }
    nodelay(fd);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    cs[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  long long msgs = 0;
  double t0 = now_s(), end = t0 + secs;
  /* Every connection sends its first message; then each echo completed
   * sends the next, until the time is up. */
  for (int i = 0; i < conns && !fail; i++) {
    out[0] = (char)cs[i].k;
    if (write_all(cs[i].fd, out, msg) < 0)
      fail = 1;
  }
  int open = conns;
  struct epoll_event evs[256];
  while (open > 0 && !fail) {
    int n = epoll_wait(ep, evs, 256, 5000);
    if (n == 0 || (n < 0 && errno != EINTR)) {
      fprintf(stderr, "echo_ref: no echo for 5 s\n");
      fail = 1;
    }
    double t = n > 0 ? now_s() : 0;
    for (int i = 0; i < n && !fail; i++) {
      conn_t *c = evs[i].data.ptr;
      ssize_t r = read(c->fd, in + c->got, msg - c->got);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN)
          continue;
        fail = 1;
        break;
      }
      c->got += (size_t)r;
      if (c->got < msg)
        continue;
      out[0] = (char)c->k;
      if (memcmp(in, out, msg) != 0) {
        fprintf(stderr, "echo_ref: wrong echo\n");
        fail = 1;
        break;
      }
      msgs++;
      c->got = 0;
      c->k++;
      if (t >= end) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        open--;
        continue;
      }
      out[0] = (char)c->k;
      if (write_all(c->fd, out, msg) < 0) {
        fail = 1;
        break;
      }
    }
  }
  double wall = now_s() - t0;
  for (int i = 0; i < conns; i++)
    if (cs[i].fd > 0)
      close(cs[i].fd);
  close(ep);
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
  if (fail) {
    fprintf(stderr, "echo_ref: msg=%zu failed\n", msg);
    return 1;
  }
  printf("E echo impl=%s conns=%d msg_bytes=%zu msgs_per_s=%.0f wall_s=%.2f\n",
         uring ? "ref-c-uring" : "ref-c", conns, msg, (double)msgs / wall, wall);
  return 0;
}
