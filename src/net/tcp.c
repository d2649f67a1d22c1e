/* Stream sockets: listen, accept, connect, shutdown for TCP (IPv4 and
 * IPv6); the address-generic calls here serve Unix-domain sockets too
 * (unix.c). */
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "concur/net.h"
#include "concur/task.h"
#include "loop/sched.h"
#include "net/net_int.h"

/* ---- options --------------------------------------------------------------- */

int cc_tcp_nodelay(int fd, bool on) {
  int v = on;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0)
    return -errno;
  return 0;
}

int cc_shutdown(int fd, int how) {
  if (shutdown(fd, how) < 0)
    return -errno;
  return 0;
}

int cc__net_sleep(int64_t ms, int64_t deadline) {
  int64_t until = cc_now() + ms;
  bool by_deadline = deadline >= 0 && deadline <= until;
  if (by_deadline)
    until = deadline;
  int r;
  if (cc__self()) {
    r = cc_sleep_until(until);
  } else {
    int64_t left = until - cc_now();
    if (left > 0) {
      struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
      while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
      }
    }
    r = 0;
  }
  if (r == 0 && by_deadline)
    return -ETIMEDOUT;
  return r;
}

/* ---- listen ---------------------------------------------------------------- */

int cc_listen_addr(const cc_addr_t *addr, const cc_listen_opts_t *opts) {
  static const cc_listen_opts_t dflt;
  if (!addr)
    return -EINVAL;
  if (!opts)
    opts = &dflt;
  int fam = addr->u.sa.sa_family;
  int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  int one = 1;
  if (fam != AF_UNIX) {
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (opts->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
      goto fail;
    if (fam == AF_INET6) {
      int v6 = opts->v6only;
      (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6);
    }
  }
  if (bind(fd, &addr->u.sa, addr->len) < 0)
    goto fail;
  if (listen(fd, opts->backlog > 0 ? opts->backlog : 4096) < 0)
    goto fail;
  return fd;
fail:;
  int err = -errno;
  close(fd);
  return err;
}

int cc_tcp_listen(const char *host, int port, const cc_listen_opts_t *opts) {
  cc_addr_t a;
  if (port < 0 || port > 65535)
    return -EINVAL;
  if (!host || !*host || strcmp(host, "*") == 0) {
    cc_addr_ip(&a, "::", port);
    int fd = cc_listen_addr(&a, opts);
    if (fd != -EAFNOSUPPORT)
      return fd;
    cc_addr_ip(&a, "0.0.0.0", port);
    return cc_listen_addr(&a, opts);
  }
  int n = cc_resolve(host, port, AF_UNSPEC, &a, 1, CC_FOREVER);
  if (n < 0)
    return n;
  return cc_listen_addr(&a, opts);
}

/* ---- accept ---------------------------------------------------------------- */

/* Consecutive EMFILE/ENFILE failures of this thread's accepts: the back-off
 * doubles with each, so a server out of descriptors checks again a few
 * times a second instead of spinning on a listening socket that stays
 * readable. */
static _Thread_local unsigned emfile_streak;

int cc_tcp_accept(int lfd, cc_addr_t *peer, int64_t deadline) {
  int f = cc__net_fair_n(1024);
  if (CC_UNLIKELY(f < 0))
    return f;
  for (;;) {
    cc_addr_t tmp;
    cc_addr_t *a = peer ? peer : &tmp;
    a->len = sizeof a->u;
    int fd = accept4(lfd, &a->u.sa, &a->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      emfile_streak = 0;
      if (a->u.sa.sa_family == AF_INET || a->u.sa.sa_family == AF_INET6)
        (void)cc_tcp_nodelay(fd, true);
      return fd;
    }
    int err = errno;
    switch (err) {
    case EINTR:
    case ECONNABORTED:
      continue;
    case EAGAIN: {
      int w = cc__net_wait(lfd, CC__READ, deadline);
      if (w < 0)
        return w;
      continue;
    }
    case EMFILE:
    case ENFILE: {
      unsigned s = emfile_streak < 6 ? emfile_streak : 6;
      emfile_streak++;
      int64_t ms = (int64_t)5 << s; /* 5, 10, ... 320 ms, capped below */
      if (ms > 200)
        ms = 200;
      int w = cc__net_sleep(ms, deadline);
      if (w < 0 && w != -ETIMEDOUT)
        return w;
      return -err;
    }
    default:
      return -err;
    }
  }
}

/* ---- connect --------------------------------------------------------------- */

int cc_connect_addr(const cc_addr_t *addr, int64_t deadline) {
  if (!addr)
    return -EINVAL;
  int fam = addr->u.sa.sa_family;
  int r = cc__self() ? cc__check() : 0;
  if (r < 0)
    return r;
  int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if (fam == AF_INET || fam == AF_INET6)
    (void)cc_tcp_nodelay(fd, true);
  int64_t backoff = 1;
  for (;;) {
    if (connect(fd, &addr->u.sa, addr->len) == 0)
      return fd;
    int err = errno;
    if (err == EINTR || err == EINPROGRESS)
      break;
    if (err == EAGAIN && fam == AF_UNIX) {
      /* The listener's backlog is full; a Unix socket gives no edge for
       * that, so poll with a short growing sleep. */
      r = cc__net_sleep(backoff, deadline);
      if (r < 0)
        goto fail_r;
      if (backoff < 50)
        backoff *= 2;
      continue;
    }
    r = -err;
    goto fail_r;
  }
  r = cc__net_wait(fd, CC__WRITE, deadline);
  if (r < 0)
    goto fail_r;
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
    soerr = errno;
  if (soerr != 0) {
    r = -soerr;
    goto fail_r;
  }
  return fd;
fail_r:
  cc_close(fd);
  return r;
}

#define CC_CONNECT_MAX_ADDRS 8

int cc_tcp_connect(const char *host, int port, int64_t deadline) {
  cc_addr_t addrs[CC_CONNECT_MAX_ADDRS];
  int n = cc_resolve(host, port, AF_UNSPEC, addrs, CC_CONNECT_MAX_ADDRS, deadline);
  if (n < 0)
    return n;
  int r = -ECONNREFUSED;
  for (int i = 0; i < n; i++) {
    r = cc_connect_addr(&addrs[i], deadline);
    if (r >= 0 || r == -ETIMEDOUT || r == -ECANCELED)
      return r;
  }
  return r;
}
