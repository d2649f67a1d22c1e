/* Name resolution that does not block the loop.
 *
 * Three tiers, cheapest first: literal addresses are parsed in place;
 * the special-use names of RFC 6761 that must never reach a DNS server
 * ("localhost", "*.localhost", "*.invalid") are answered locally; anything
 * else goes to getaddrinfo(3) on a detached helper thread while only the
 * calling coroutine parks. The helper thread does not depend on the thread
 * pool, so the net layer stands on the runtime alone; a lookup costs one
 * thread creation, which is small next to a DNS round trip.
 *
 * Hand-off between the helper and the coroutine (the rule of loop/sched.h): the
 * request is reference-counted (helper + waiter) and every field the two
 * share is guarded by `req_lock`. The helper publishes its result and calls
 * cc__wake() while holding the lock; the waiter clears its registration
 * under the same lock after cc__park() returns, so a helper that finishes
 * after a time-out finds no task to wake and just frees the result.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "concur/net.h"
#include "loop/sched.h"
#include "net/net_int.h"

typedef struct dns_req {
  int refs; /* guarded by req_lock */
  bool done;
  cc_task_t *task; /* the parked waiter, NULL when none */
  uint64_t token;
  int err; /* getaddrinfo's return */
  int sys_errno;
  struct addrinfo *res;
  int family;
  char host[];
} dns_req_t;

static pthread_mutex_t req_lock = PTHREAD_MUTEX_INITIALIZER;

static void req_unref_locked(dns_req_t *r, struct addrinfo **to_free, bool *free_req) {
  if (--r->refs == 0) {
    *to_free = r->res;
    *free_req = true;
  }
}

static void req_unref(dns_req_t *r) {
  struct addrinfo *res = NULL;
  bool fr = false;
  pthread_mutex_lock(&req_lock);
  req_unref_locked(r, &res, &fr);
  pthread_mutex_unlock(&req_lock);
  if (res)
    freeaddrinfo(res);
  if (fr)
    free(r);
}

static int gai(const char *host, int family, struct addrinfo **res, int *sys_errno) {
  struct addrinfo hints = {
      .ai_family = family, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
  int e = getaddrinfo(host, NULL, &hints, res);
  *sys_errno = e == EAI_SYSTEM ? errno : 0;
  return e;
}

static void *dns_thread(void *arg) {
  dns_req_t *r = arg;
  struct addrinfo *res = NULL;
  int sys_errno = 0;
  int e = gai(r->host, r->family, &res, &sys_errno);
  pthread_mutex_lock(&req_lock);
  r->err = e;
  r->sys_errno = sys_errno;
  r->res = res;
  r->done = true;
  if (r->task) {
    cc__wake(r->task, r->token, 0);
    r->task = NULL;
  }
  struct addrinfo *to_free = NULL;
  bool fr = false;
  req_unref_locked(r, &to_free, &fr);
  pthread_mutex_unlock(&req_lock);
  if (to_free)
    freeaddrinfo(to_free);
  if (fr)
    free(r);
  return NULL;
}

static int map_gai(int e, int sys_errno) {
  switch (e) {
  case EAI_MEMORY:
    return -ENOMEM;
  case EAI_SYSTEM:
    return sys_errno ? -sys_errno : -CC_ERESOLVE;
  default: /* EAI_NONAME, EAI_NODATA, EAI_AGAIN, EAI_FAIL, EAI_ADDRFAMILY... */
    return -CC_ERESOLVE;
  }
}

/* Copies the results for `port` into out[0..max), skipping duplicates. */
static int copy_results(const struct addrinfo *res, int port, cc_addr_t *out,
                        size_t max) {
  size_t n = 0;
  for (const struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
        ai->ai_addrlen > sizeof out[n].u)
      continue;
    cc_addr_t a;
    memset(&a, 0, sizeof a);
    memcpy(&a.u, ai->ai_addr, ai->ai_addrlen);
    a.len = ai->ai_addrlen;
    if (ai->ai_family == AF_INET)
      a.u.in4.sin_port = htons((uint16_t)port);
    else
      a.u.in6.sin6_port = htons((uint16_t)port);
    bool dup = false;
    for (size_t i = 0; i < n && !dup; i++)
      dup = out[i].len == a.len && memcmp(&out[i].u, &a.u, a.len) == 0;
    if (!dup)
      out[n++] = a;
  }
  return n ? (int)n : -CC_ERESOLVE;
}

/* True if `name` equals `label` or ends with "." + label (case-insensitive,
 * one trailing dot allowed). */
static bool in_domain(const char *name, size_t len, const char *label) {
  size_t ll = strlen(label);
  if (len > 0 && name[len - 1] == '.')
    len--;
  if (len < ll || strncasecmp(name + len - ll, label, ll) != 0)
    return false;
  return len == ll || name[len - ll - 1] == '.';
}

int cc_resolve(const char *host, int port, int family, cc_addr_t *out, size_t max,
               int64_t deadline) {
  if (!host || !out || max == 0 || port < 0 || port > 65535 ||
      (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
    return -EINVAL;
  size_t len = strlen(host);
  if (len == 0)
    return -EINVAL;

  /* 1. Literal addresses. */
  if (cc_addr_ip(&out[0], host, port) == 0) {
    if (family != AF_UNSPEC && out[0].u.sa.sa_family != family)
      return -CC_ERESOLVE;
    return 1;
  }

  /* 2. Special-use names answered locally (RFC 6761 section 6.3 and 6.4). */
  if (len > 253 || in_domain(host, len, "invalid"))
    return -CC_ERESOLVE;
  if (in_domain(host, len, "localhost")) {
    size_t n = 0;
    if (family != AF_INET6)
      cc_addr_ip(&out[n++], "127.0.0.1", port);
    if (family != AF_INET && n < max)
      cc_addr_ip(&out[n++], "::1", port);
    return (int)n;
  }

  /* 3. getaddrinfo. A plain thread simply blocks in it. */
  if (cc__self() == NULL) {
    struct addrinfo *res = NULL;
    int sys_errno = 0;
    int e = gai(host, family, &res, &sys_errno);
    if (e != 0)
      return map_gai(e, sys_errno);
    int n = copy_results(res, port, out, max);
    freeaddrinfo(res);
    return n;
  }
  int r = cc__check();
  if (r < 0)
    return r;
  dns_req_t *req = calloc(1, sizeof *req + len + 1);
  if (!req)
    return -ENOMEM;
  memcpy(req->host, host, len + 1);
  req->family = family;
  req->refs = 2;

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t th;
  int pe = pthread_create(&th, &attr, dns_thread, req);
  pthread_attr_destroy(&attr);
  if (pe != 0) {
    free(req);
    return pe == EAGAIN ? -ENOMEM : -pe; /* EAGAIN: out of threads */
  }

  pthread_mutex_lock(&req_lock);
  if (!req->done) {
    req->task = cc__self();
    req->token = cc__park_token();
  }
  bool done = req->done;
  pthread_mutex_unlock(&req_lock);
  if (!done)
    r = cc__park("resolve", req, deadline);
  pthread_mutex_lock(&req_lock);
  req->task = NULL;
  done = req->done;
  pthread_mutex_unlock(&req_lock);

  if (!done) {
    req_unref(req); /* timed out or cancelled: the helper frees the rest */
    return r < 0 ? r : -ETIMEDOUT;
  }
  /* The helper is finished with the fields; we can read them unlocked. */
  int n = req->err ? map_gai(req->err, req->sys_errno)
                   : copy_results(req->res, port, out, max);
  req_unref(req);
  return n;
}
