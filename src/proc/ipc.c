/* Inter-process channels (Pipe, Queue) and shared memory blocks.
 *
 * Channels are AF_UNIX SOCK_SEQPACKET socket pairs: the kernel keeps message
 * boundaries and makes each send and each receive atomic, which is exactly
 * a queue of byte messages with any number of producers and consumers in
 * any number of processes. Every message carries a one-byte header so that
 * an empty message is not mistaken for end of data (a zero-length read).
 * The sockets are non-blocking (a flag shared by every process holding
 * them), and waiting is done with cc__fd_wait() or poll(2). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "concur/error.h"
#include "concur/process.h"
#include "loop/sched.h"
#include "proc/proc_int.h"

#define MSG_HDR 1

typedef struct chan {
  int fd;
  size_t max_msg;
  bool can_send, can_recv;
  bool reg; /* registered with a loop by a wait */
} chan_t;

struct cc_conn {
  chan_t ch;
};

struct cc_mpqueue {
  chan_t put, get;
};

static int set_bufs(int fd, size_t max_msg) {
  int want = (int)(max_msg + 4096);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
  int got = 0;
  socklen_t l = sizeof got;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &l) < 0)
    return -errno;
  /* The kernel doubles the value asked for and caps it at wmem_max; a
   * message must fit in the send buffer with its bookkeeping. */
  return (size_t)got >= max_msg + 1024 ? 0 : -EMSGSIZE;
}

static int make_pair(int fds[2], size_t max_msg) {
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
    return -errno;
  int r = set_bufs(fds[0], max_msg);
  if (r == 0)
    r = set_bufs(fds[1], max_msg);
  if (r < 0) {
    close(fds[0]);
    close(fds[1]);
  }
  return r;
}

static int chan_send(chan_t *c, const void *buf, size_t len, int64_t deadline) {
  if (!c->can_send)
    return -EBADF;
  if (len > c->max_msg)
    return -CC_ETOOBIG;
  if (len && !buf)
    return -EINVAL;
  char hdr = 'm';
  struct iovec iov[2] = {{&hdr, 1}, {(void *)buf, len}};
  struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
  for (;;) {
    ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
    if (n >= 0)
      return 0;
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN) {
      int r = cc__proc_wait_fd(c->fd, CC__WRITE, deadline, &c->reg);
      if (r < 0)
        return r;
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET)
      return -EPIPE;
    if (errno == EMSGSIZE || errno == ENOBUFS)
      return -CC_ETOOBIG;
    return -errno;
  }
}

static int chan_recv(chan_t *c, void **msg, size_t *len, int64_t deadline) {
  if (!c->can_recv)
    return -EBADF;
  if (!msg || !len)
    return -EINVAL;
  char *buf = malloc(c->max_msg + MSG_HDR);
  if (!buf)
    return -ENOMEM;
  for (;;) {
    ssize_t n = recv(c->fd, buf, c->max_msg + MSG_HDR, 0);
    if (n > 0) {
      size_t l = (size_t)n - MSG_HDR;
      memmove(buf, buf + MSG_HDR, l);
      char *small = realloc(buf, l ? l : 1);
      *msg = small ? small : buf;
      *len = l;
      return 0;
    }
    if (n == 0) {
      free(buf);
      return -CC_ECLOSED;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN) {
      int r = cc__proc_wait_fd(c->fd, CC__READ, deadline, &c->reg);
      if (r < 0) {
        free(buf);
        return r;
      }
      continue;
    }
    int e = -errno;
    free(buf);
    return e == -ECONNRESET ? -CC_ECLOSED : e;
  }
}

static void chan_close(chan_t *c) {
  if (c->fd >= 0)
    cc__proc_close_fd(c->fd, c->reg);
  c->fd = -1;
}

static size_t msg_max(size_t max_msg) {
  return max_msg ? max_msg : CC_MSG_MAX_DEFAULT;
}

/* ---- pipes --------------------------------------------------------------- */

int cc_pipe_new(cc_conn_t **a, cc_conn_t **b, bool duplex, size_t max_msg) {
  if (!a || !b)
    return -EINVAL;
  *a = *b = NULL;
  max_msg = msg_max(max_msg);
  cc_conn_t *ca = calloc(1, sizeof *ca), *cb = calloc(1, sizeof *cb);
  if (!ca || !cb) {
    free(ca);
    free(cb);
    return -ENOMEM;
  }
  int fds[2];
  int r = make_pair(fds, max_msg);
  if (r < 0) {
    free(ca);
    free(cb);
    return r;
  }
  if (!duplex) {
    shutdown(fds[0], SHUT_WR);
    shutdown(fds[1], SHUT_RD);
  }
  ca->ch =
      (chan_t){.fd = fds[0], .max_msg = max_msg, .can_send = duplex, .can_recv = true};
  cb->ch =
      (chan_t){.fd = fds[1], .max_msg = max_msg, .can_send = true, .can_recv = duplex};
  *a = ca;
  *b = cb;
  return 0;
}

int cc_conn_send(cc_conn_t *c, const void *buf, size_t len, int64_t deadline) {
  return c ? chan_send(&c->ch, buf, len, deadline) : -EINVAL;
}

int cc_conn_recv(cc_conn_t *c, void **msg, size_t *len, int64_t deadline) {
  return c ? chan_recv(&c->ch, msg, len, deadline) : -EINVAL;
}

bool cc_conn_poll(cc_conn_t *c) {
  if (!c || !c->ch.can_recv)
    return false;
  char b;
  ssize_t n = recv(c->ch.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EINTR);
}

void cc_conn_close(cc_conn_t *c) {
  if (!c)
    return;
  chan_close(&c->ch);
  free(c);
}

/* ---- queues -------------------------------------------------------------- */

int cc_mpqueue_new(cc_mpqueue_t **out, size_t max_msg) {
  if (!out)
    return -EINVAL;
  *out = NULL;
  max_msg = msg_max(max_msg);
  cc_mpqueue_t *q = calloc(1, sizeof *q);
  if (!q)
    return -ENOMEM;
  int fds[2];
  int r = make_pair(fds, max_msg);
  if (r < 0) {
    free(q);
    return r;
  }
  /* Producers write on fds[1]; the messages queue up at fds[0]. */
  q->put = (chan_t){.fd = fds[1], .max_msg = max_msg, .can_send = true};
  q->get = (chan_t){.fd = fds[0], .max_msg = max_msg, .can_recv = true};
  *out = q;
  return 0;
}

int cc_mpqueue_put(cc_mpqueue_t *q, const void *buf, size_t len, int64_t deadline) {
  return q ? chan_send(&q->put, buf, len, deadline) : -EINVAL;
}

int cc_mpqueue_get(cc_mpqueue_t *q, void **msg, size_t *len, int64_t deadline) {
  return q ? chan_recv(&q->get, msg, len, deadline) : -EINVAL;
}

void cc_mpqueue_free(cc_mpqueue_t *q) {
  if (!q)
    return;
  chan_close(&q->put);
  chan_close(&q->get);
  free(q);
}

/* ---- shared memory ------------------------------------------------------- */

/* Live blocks are registered so that the pool can tell when a caller's
 * array lies in a block its workers map too (then they read and write it in
 * place). Ids grow with every creation: a block is mapped in a child iff its
 * id is below the id counter read just before the child was forked (and it
 * was not freed, which the caller must not do while a map uses it). */
struct cc_shm {
  void *ptr;
  size_t size, maplen;
  uint64_t id;
  cc_shm_t *next, *prev;
};

static pthread_mutex_t shm_mu = PTHREAD_MUTEX_INITIALIZER;
static cc_shm_t *shm_head;
static uint64_t shm_next_id = 1;

uint64_t cc__shm_epoch(void) {
  pthread_mutex_lock(&shm_mu);
  uint64_t e = shm_next_id;
  pthread_mutex_unlock(&shm_mu);
  return e;
}

uint64_t cc__shm_find(const void *p, size_t len) {
  uintptr_t a = (uintptr_t)p;
  uint64_t id = 0;
  pthread_mutex_lock(&shm_mu);
  for (cc_shm_t *s = shm_head; s; s = s->next) {
    uintptr_t b = (uintptr_t)s->ptr;
    if (a >= b && a - b <= s->size && len <= s->size - (a - b)) {
      id = s->id;
      break;
    }
  }
  pthread_mutex_unlock(&shm_mu);
  return id;
}

int cc_shm_new(cc_shm_t **out, size_t size) {
  if (!out || size == 0)
    return -EINVAL;
  *out = NULL;
  long pg = sysconf(_SC_PAGESIZE);
  if (size > SIZE_MAX - (size_t)pg)
    return -ENOMEM;
  size_t len = (size + (size_t)pg - 1) & ~((size_t)pg - 1);
  cc_shm_t *s = malloc(sizeof *s);
  if (!s)
    return -ENOMEM;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    free(s);
    return -ENOMEM;
  }
  s->ptr = p;
  s->size = size;
  s->maplen = len;
  pthread_mutex_lock(&shm_mu);
  s->id = shm_next_id++;
  s->prev = NULL;
  s->next = shm_head;
  if (shm_head)
    shm_head->prev = s;
  shm_head = s;
  pthread_mutex_unlock(&shm_mu);
  *out = s;
  return 0;
}

void *cc_shm_ptr(const cc_shm_t *s) {
  return s ? s->ptr : NULL;
}

size_t cc_shm_size(const cc_shm_t *s) {
  return s ? s->size : 0;
}

void cc_shm_free(cc_shm_t *s) {
  if (!s)
    return;
  pthread_mutex_lock(&shm_mu);
  if (s->prev)
    s->prev->next = s->next;
  else if (shm_head == s)
    shm_head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  pthread_mutex_unlock(&shm_mu);
  munmap(s->ptr, s->maplen);
  free(s);
}
