/* Read/write wrappers that suspend the calling coroutine instead of
 * blocking the loop.
 *
 * Every call follows the same pattern: try the system call first (the
 * common case on a busy connection is that data or buffer space is already
 * there, so no poller round trip is paid), and only on EAGAIN wait for the
 * edge through cc__fd_wait() and retry. Outside a coroutine the wait is a
 * poll(2) on the calling thread, so the same calls serve plain threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "concur/net.h"
#include "concur/task.h"
#include "loop/sched.h"
#include "net/net_int.h"

/* ---- waiting --------------------------------------------------------------- */

int cc__net_wait(int fd, unsigned events, int64_t deadline) {
  if (CC_LIKELY(cc__self() != NULL))
    return cc__fd_wait(fd, events, deadline);
  return cc__poll_fd(fd, events, deadline);
}

/* Fairness. A coroutine whose peer keeps its socket full (or empty, for
 * writes) never gets EAGAIN and so never suspends; on a cooperative loop it
 * would starve every other task. We count the I/O calls a task completes
 * without parking, keyed by (task, park token) — the token changes at every
 * park — and yield once the run is long. The budget is large enough that a
 * normal request/response exchange never pays for it. */
#define CC_NET_IO_BUDGET 64

static _Thread_local struct {
  cc_task_t *task;
  uint64_t token;
  unsigned streak;
} fair;

int cc__net_fair_n(unsigned budget) {
  cc_task_t *t = cc__self();
  if (CC_UNLIKELY(t == NULL))
    return 0;
  uint64_t tok = cc__park_token();
  if (fair.task == t && fair.token == tok) {
    if (CC_LIKELY(++fair.streak < budget))
      return 0;
    int r = cc_yield();
    fair.task = t;
    fair.token = cc__park_token();
    fair.streak = 0;
    return r;
  }
  fair.task = t;
  fair.token = tok;
  fair.streak = 0;
  return 0;
}

int cc__net_fair(void) {
  return cc__net_fair_n(CC_NET_IO_BUDGET);
}

int cc_fd_wait(int fd, unsigned events, int64_t deadline) {
  if (fd < 0)
    return -EBADF;
  if (events == CC_READABLE)
    return cc__net_wait(fd, CC__READ, deadline);
  if (events == CC_WRITABLE)
    return cc__net_wait(fd, CC__WRITE, deadline);
  return -EINVAL;
}

int cc_fd_set_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return -errno;
  if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return -errno;
  return 0;
}

int cc_close(int fd) {
  if (fd < 0)
    return -EBADF;
  if (cc_loop_current() != NULL)
    cc__fd_forget(fd);
  if (close(fd) < 0 && errno != EINTR)
    return -errno;
  return 0;
}

/* After a system call failed: 0 when it should simply be tried again
 * (EINTR, or EAGAIN and the fd has become ready), else the error to return
 * (the call's errno, or the wait's -ETIMEDOUT / -ECANCELED). */
static int retry_after(int fd, unsigned events, int64_t deadline) {
  if (errno == EINTR)
    return 0;
  if (errno != EAGAIN)
    return -errno;
  return cc__net_wait(fd, events, deadline);
}

/* ---- read ------------------------------------------------------------------ */

ssize_t cc_read(int fd, void *buf, size_t n, int64_t deadline) {
  int f = cc__net_fair();
  if (CC_UNLIKELY(f < 0))
    return f;
  for (;;) {
    ssize_t r = read(fd, buf, n);
    if (r >= 0)
      return r;
    int w = retry_after(fd, CC__READ, deadline);
    if (w < 0)
      return w;
  }
}

ssize_t cc_read_full(int fd, void *buf, size_t n, int64_t deadline) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = cc_read(fd, (char *)buf + got, n - got, deadline);
    if (r < 0)
      return r;
    if (r == 0)
      break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

/* ---- write ----------------------------------------------------------------- */

/* send(MSG_NOSIGNAL) on sockets so that a reset peer gives -EPIPE instead of
 * killing the process; write() on anything else (ENOTSOCK on the first try
 * switches over for the rest of the call). */
static ssize_t write_once(int fd, const void *buf, size_t n, bool *notsock) {
  if (!*notsock) {
    ssize_t r = send(fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0 || errno != ENOTSOCK)
      return r;
    *notsock = true;
  }
  return write(fd, buf, n);
}

ssize_t cc_write_some(int fd, const void *buf, size_t n, int64_t deadline) {
  int f = cc__net_fair();
  if (CC_UNLIKELY(f < 0))
    return f;
  bool notsock = false;
  for (;;) {
    ssize_t r = write_once(fd, buf, n, &notsock);
    if (r >= 0)
      return r;
    int w = retry_after(fd, CC__WRITE, deadline);
    if (w < 0)
      return w;
  }
}

ssize_t cc_write(int fd, const void *buf, size_t n, int64_t deadline) {
  int f = cc__net_fair();
  if (CC_UNLIKELY(f < 0))
    return f;
  bool notsock = false;
  size_t done = 0;
  while (done < n) {
    ssize_t r = write_once(fd, (const char *)buf + done, n - done, &notsock);
    if (r >= 0) {
      done += (size_t)r;
      continue;
    }
    int w = retry_after(fd, CC__WRITE, deadline);
    if (w < 0)
      return w;
  }
  return (ssize_t)n;
}

/* At most this many segments go into one writev(2); a longer list is sent
 * in several calls. The first call takes the caller's array as it is (the
 * kernel only reads it); once a partial write has to be resumed, a window
 * is copied so that the caller's array stays untouched while the partly
 * written first segment is trimmed. (Copying the window on every call cost
 * each gathered write a kilobyte of the coroutine's stack, cold after the
 * other connections' coroutines ran: cachegrind on bench/echo_bench counted
 * ~5 write misses per 16 KiB message there.) */
#define CC_IOV_WINDOW 64

ssize_t cc_writev(int fd, const struct iovec *iov, int iovcnt, int64_t deadline) {
  if (iovcnt < 0 || (iovcnt > 0 && iov == NULL))
    return -EINVAL;
  int f = cc__net_fair();
  if (CC_UNLIKELY(f < 0))
    return f;
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++)
    total += iov[i].iov_len;
  struct iovec win[CC_IOV_WINDOW];
  int idx = 0;    /* first segment not yet fully written */
  size_t off = 0; /* bytes of iov[idx] already written */
  size_t done = 0;
  while (done < total) {
    while (iov[idx].iov_len == off) { /* skip empty and finished segments */
      idx++;
      off = 0;
    }
    struct iovec *seg = win;
    int cnt = 0;
    if (done == 0 && iovcnt <= CC_IOV_WINDOW) {
      seg = (struct iovec *)iov + idx; /* read, never written, by the kernel */
      cnt = iovcnt - idx;
    } else {
      for (int i = idx; i < iovcnt && cnt < CC_IOV_WINDOW; i++, cnt++)
        win[cnt] = iov[i];
      win[0].iov_base = (char *)win[0].iov_base + off;
      win[0].iov_len -= off;
    }
    struct msghdr mh = {.msg_iov = seg, .msg_iovlen = (size_t)cnt};
    ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (r < 0 && errno == ENOTSOCK)
      r = writev(fd, seg, cnt);
    if (r < 0) {
      int w = retry_after(fd, CC__WRITE, deadline);
      if (w < 0)
        return w;
      continue;
    }
    done += (size_t)r;
    size_t adv = (size_t)r;
    while (adv > 0) {
      size_t left = iov[idx].iov_len - off;
      if (adv < left) {
        off += adv;
        adv = 0;
      } else {
        adv -= left;
        idx++;
        off = 0;
      }
    }
  }
  return (ssize_t)total;
}

/* sendfile(2) has no MSG_NOSIGNAL: a peer that reset the connection would
 * raise SIGPIPE and kill a process that does not ignore it. Block the signal
 * on this thread around the call and consume the one the call raised (only
 * if none was pending before, so that nobody else's is lost). */
static ssize_t sendfile_nosig(int out_fd, int in_fd, off_t *offset, size_t n) {
  sigset_t pipe_set, old, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE);
  ssize_t r = sendfile(out_fd, in_fd, offset, n);
  int err = errno;
  if (r < 0 && err == EPIPE && !was_pending) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = err;
  return r;
}

ssize_t cc_sendfile(int out_fd, int in_fd, off_t *offset, size_t count,
                    int64_t deadline) {
  int f = cc__net_fair();
  if (CC_UNLIKELY(f < 0))
    return f;
  size_t done = 0;
  while (done < count) {
    size_t chunk = count - done;
    if (chunk > (size_t)1 << 30)
      chunk = (size_t)1 << 30;
    ssize_t r = sendfile_nosig(out_fd, in_fd, offset, chunk);
    if (r > 0) {
      done += (size_t)r;
      continue;
    }
    if (r == 0)
      break; /* the file ended */
    int w = retry_after(out_fd, CC__WRITE, deadline);
    if (w < 0)
      return w;
  }
  return (ssize_t)done;
}
