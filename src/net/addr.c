/* Socket addresses: parsing literals, Unix paths, formatting. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "concur/net.h"

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
