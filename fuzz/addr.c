/* Fuzzes address parsing (src/net/addr.c, and the parts of cc_resolve that
 * answer without a lookup): the input, as text, is tried as a literal IP,
 * as "host:port" / "[v6]:port" split at the last colon, as a Unix path, and
 * as a name for cc_resolve when it is a literal or under "localhost" /
 * "invalid" (which never reach getaddrinfo). Every address parsed must
 * format (cc_addr_format) to text that parses back to the same address.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <concur.h>
#include "fuzz_check.h"

static int same_addr(const cc_addr_t *a, const cc_addr_t *b) {
  if (a->len != b->len || a->u.sa.sa_family != b->u.sa.sa_family)
    return 0;
  switch (a->u.sa.sa_family) {
  case AF_INET:
    return a->u.in4.sin_port == b->u.in4.sin_port &&
           a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
  case AF_INET6:
    return a->u.in6.sin6_port == b->u.in6.sin6_port &&
           memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
  case AF_UNIX:
    return memcmp(a->u.un.sun_path, b->u.un.sun_path,
                  a->len - offsetof(struct sockaddr_un, sun_path)) == 0;
  }
  return 0;
}

/* Splits "host:port" / "[v6]:port" at the last colon; -1 when there is no
 * decimal port in 0..65535. */
static int split_host_port(const char *s, char *host, size_t hmax) {
  const char *c = strrchr(s, ':');
  if (!c || c == s || !c[1] || (size_t)(c - s) >= hmax)
    return -1;
  long port = 0;
  for (const char *p = c + 1; *p; p++) {
    if (*p < '0' || *p > '9' || (port = port * 10 + (*p - '0')) > 65535)
      return -1;
  }
  memcpy(host, s, (size_t)(c - s));
  host[c - s] = 0;
  return (int)port;
}

/* Formats `a` and parses the text back as its family's syntax. */
static void round_trip(const cc_addr_t *a) {
  char text[256];
  int n = cc_addr_format(a, text, sizeof text);
  CHECK(n > 0 && (size_t)n < sizeof text);
  cc_addr_t b;
  if (a->u.sa.sa_family == AF_UNIX) {
    if (a->len <= offsetof(struct sockaddr_un, sun_path) + 1)
      return; /* unnamed */
    CHECK(cc_addr_unix(&b, text) == 0);
  } else {
    char host[256];
    int port = split_host_port(text, host, sizeof host);
    CHECK(port == cc_addr_port(a));
    CHECK(cc_addr_ip(&b, host, port) == 0);
    if (a->u.sa.sa_family == AF_INET6 && a->u.in6.sin6_scope_id)
      return; /* the scope is not printed */
  }
  CHECK(same_addr(a, &b));
}

/* True when cc_resolve answers `s` without getaddrinfo (DESIGN: RFC 6761). */
static int answered_locally(const char *s, size_t len) {
  if (len > 253)
    return 1;
  if (len > 0 && s[len - 1] == '.')
    len--;
  static const char *const dom[] = {"localhost", "invalid"};
  for (int i = 0; i < 2; i++) {
    size_t dl = strlen(dom[i]);
    if (len >= dl && strncasecmp(s + len - dl, dom[i], dl) == 0 &&
        (len == dl || s[len - dl - 1] == '.'))
      return 1;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 400)
    return 0;
  char s[401];
  memcpy(s, data, size);
  s[size] = 0;
  size_t len = strlen(s); /* up to the first NUL */
  cc_addr_t a;
  int port = size > 0 ? data[size - 1] * 257 % 65536 : 0;

  if (cc_addr_ip(&a, s, port) == 0) {
    CHECK(a.u.sa.sa_family == AF_INET || a.u.sa.sa_family == AF_INET6);
    CHECK(cc_addr_port(&a) == port);
    round_trip(&a);
  }
  char host[401];
  int p = split_host_port(s, host, sizeof host);
  if (p >= 0 && cc_addr_ip(&a, host, p) == 0) {
    CHECK(cc_addr_port(&a) == p);
    round_trip(&a);
  }
  int r = cc_addr_unix(&a, s);
  if (r == 0) {
    CHECK(a.u.sa.sa_family == AF_UNIX && cc_addr_port(&a) == -EAFNOSUPPORT);
    round_trip(&a);
  } else {
    CHECK(r == -EINVAL || r == -ENAMETOOLONG);
  }
  CHECK(cc_addr_ip(&a, s, -1) == -EINVAL && cc_addr_ip(&a, s, 65536) == -EINVAL);

  if (len > 0 && (cc_addr_ip(&a, s, port) == 0 || answered_locally(s, len))) {
    cc_addr_t out[4];
    int n = cc_resolve(s, port, AF_UNSPEC, out, 4, CC_FOREVER);
    CHECK(n == -CC_ERESOLVE || (n >= 1 && n <= 2));
    for (int i = 0; i < n; i++) {
      CHECK(cc_addr_port(&out[i]) == port);
      round_trip(&out[i]);
    }
  }
  return 0;
}
