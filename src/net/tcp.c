/* TCP and Unix-domain stream sockets: addresses, listen, accept, connect,
 * shutdown. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "concur/net.h"
#include "concur/task.h"
#include "core/sched.h"
#include "net/net_int.h"

/* ---- addresses ------------------------------------------------------------- */

int cc_addr_ip(cc_addr_t *out, const char *ip, int port) {
  if (!out || !ip || port < 0 || port > 65535)
    return -EINVAL;
  memset(out, 0, sizeof *out);
  char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 4];
  size_t len = strlen(ip);
  if (len >= 2 && ip[0] == '[' && ip[len - 1] == ']') {
    if (len - 2 >= sizeof tmp)
      return -EINVAL;
    memcpy(tmp, ip + 1, len - 2);
    tmp[len - 2] = '\0';
    ip = tmp;
  }
  if (inet_pton(AF_INET, ip, &out->u.in4.sin_addr) == 1) {
    out->u.in4.sin_family = AF_INET;
    out->u.in4.sin_port = htons((uint16_t)port);
    out->len = sizeof out->u.in4;
    return 0;
  }
  if (inet_pton(AF_INET6, ip, &out->u.in6.sin6_addr) == 1) {
    out->u.in6.sin6_family = AF_INET6;
    out->u.in6.sin6_port = htons((uint16_t)port);
    out->len = sizeof out->u.in6;
    return 0;
  }
  /* Scoped IPv6 literals ("fe80::1%eth0"): getaddrinfo with AI_NUMERICHOST
   * never touches the network, so it is safe on the loop thread. */
  if (strchr(ip, '%') && strchr(ip, ':')) {
    struct addrinfo hints = {.ai_family = AF_INET6, .ai_flags = AI_NUMERICHOST};
    struct addrinfo *res = NULL;
    if (getaddrinfo(ip, NULL, &hints, &res) == 0 && res) {
      memcpy(&out->u.in6, res->ai_addr, sizeof out->u.in6);
      out->u.in6.sin6_port = htons((uint16_t)port);
      out->len = sizeof out->u.in6;
      freeaddrinfo(res);
      return 0;
    }
  }
  return -EINVAL;
}

int cc_addr_unix(cc_addr_t *out, const char *path) {
  if (!out || !path || !*path)
    return -EINVAL;
  memset(out, 0, sizeof *out);
  size_t len = strlen(path);
  if (len >= sizeof out->u.un.sun_path)
    return -ENAMETOOLONG;
  out->u.un.sun_family = AF_UNIX;
  memcpy(out->u.un.sun_path, path, len);
  if (path[0] == '@') {
    /* Abstract namespace: a leading NUL and an exact length. */
    out->u.un.sun_path[0] = '\0';
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
  } else {
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
  }
  return 0;
}

int cc_addr_format(const cc_addr_t *a, char *buf, size_t n) {
  char ip[INET6_ADDRSTRLEN];
  switch (a->u.sa.sa_family) {
  case AF_INET:
    inet_ntop(AF_INET, &a->u.in4.sin_addr, ip, sizeof ip);
    return snprintf(buf, n, "%s:%u", ip, ntohs(a->u.in4.sin_port));
  case AF_INET6:
    inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof ip);
    return snprintf(buf, n, "[%s]:%u", ip, ntohs(a->u.in6.sin6_port));
  case AF_UNIX: {
    size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t plen = a->len > off ? a->len - off : 0;
    if (plen == 0)
      return snprintf(buf, n, "unix:(unnamed)");
    if (a->u.un.sun_path[0] == '\0')
      return snprintf(buf, n, "@%.*s", (int)(plen - 1), a->u.un.sun_path + 1);
    return snprintf(buf, n, "%.*s", (int)strnlen(a->u.un.sun_path, plen),
                    a->u.un.sun_path);
  }
  default:
    if (n > 0)
      buf[0] = '\0';
    return -EAFNOSUPPORT;
  }
}

int cc_addr_port(const cc_addr_t *a) {
  if (a->u.sa.sa_family == AF_INET)
    return ntohs(a->u.in4.sin_port);
  if (a->u.sa.sa_family == AF_INET6)
    return ntohs(a->u.in6.sin6_port);
  return -EAFNOSUPPORT;
}

int cc_sock_local_addr(int fd, cc_addr_t *out) {
  memset(out, 0, sizeof *out);
  out->len = sizeof out->u;
  if (getsockname(fd, &out->u.sa, &out->len) < 0)
    return -errno;
  return 0;
}

int cc_sock_peer_addr(int fd, cc_addr_t *out) {
  memset(out, 0, sizeof *out);
  out->len = sizeof out->u;
  if (getpeername(fd, &out->u.sa, &out->len) < 0)
    return -errno;
  return 0;
}

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

int cc_unix_listen(const char *path, const cc_listen_opts_t *opts) {
  cc_addr_t a;
  int r = cc_addr_unix(&a, path);
  if (r < 0)
    return r;
  if (path[0] != '@') {
    struct stat st;
    if (stat(path, &st) == 0) {
      if (!S_ISSOCK(st.st_mode))
        return -EADDRINUSE;
      (void)unlink(path);
    }
  }
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

int cc_unix_connect(const char *path, int64_t deadline) {
  cc_addr_t a;
  int r = cc_addr_unix(&a, path);
  if (r < 0)
    return r;
  return cc_connect_addr(&a, deadline);
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
