/* The Linux poller: one epoll instance per loop. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop/backend/backend.h"

#define MAX_BATCH 256

struct cc__poller {
  int epfd;
  struct epoll_event evs[MAX_BATCH];
};

int cc__poller_new(cc__poller_t **out) {
  cc__poller_t *p = malloc(sizeof *p);
  if (!p)
    return -ENOMEM;
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (p->epfd < 0) {
    int e = errno;
    free(p);
    return -e;
  }
  *out = p;
  return 0;
}

void cc__poller_free(cc__poller_t *p) {
  if (!p)
    return;
  close(p->epfd);
  free(p);
}

static int ctl(cc__poller_t *p, int op, int fd, unsigned events, uint32_t tag) {
  struct epoll_event ev = {0};
  if (events & CC__POLL_IN)
    ev.events |= EPOLLIN | EPOLLRDHUP;
  if (events & CC__POLL_OUT)
    ev.events |= EPOLLOUT;
  if (!(events & CC__POLL_LEVEL))
    ev.events |= EPOLLET;
  ev.data.u64 = (uint32_t)fd | (uint64_t)tag << 32;
  if (epoll_ctl(p->epfd, op, fd, &ev) == 0)
    return 0;
  return -errno;
}

int cc__poller_add(cc__poller_t *p, int fd, unsigned events, uint32_t tag) {
  return ctl(p, EPOLL_CTL_ADD, fd, events, tag);
}

int cc__poller_mod(cc__poller_t *p, int fd, unsigned events, uint32_t tag) {
  return ctl(p, EPOLL_CTL_MOD, fd, events, tag);
}

int cc__poller_del(cc__poller_t *p, int fd) {
  if (epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL) == 0)
    return 0;
  return -errno;
}

int cc__poller_wait(cc__poller_t *p, int timeout_ms, cc__poll_event_t *out, int max) {
  if (max > MAX_BATCH)
    max = MAX_BATCH;
  int n = epoll_wait(p->epfd, p->evs, max, timeout_ms);
  if (n < 0)
    return errno == EINTR ? 0 : -errno;
  for (int i = 0; i < n; i++) {
    uint32_t e = p->evs[i].events;
    unsigned r = 0;
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLPRI))
      r |= CC__POLL_IN;
    if (e & EPOLLOUT)
      r |= CC__POLL_OUT;
    if (e & (EPOLLERR | EPOLLHUP))
      r |= CC__POLL_IN | CC__POLL_OUT;
    if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
      r |= CC__POLL_HUP;
    uint64_t d = p->evs[i].data.u64;
    out[i].fd = (int)(uint32_t)d;
    out[i].tag = (uint32_t)(d >> 32);
    out[i].events = r;
  }
  return n;
}
