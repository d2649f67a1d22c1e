/* The loop driver of the HTTP client: libcurl's multi-socket interface
 * (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION) on the loop's I/O
 * callback watchers and callback timer, after libcurl's ephiperfifo.c.
 *
 * Everything here runs on the loop's thread in the loop's own context
 * (watcher and timer callbacks), or inside a curl_multi_* / curl_easy_*
 * call made by a requesting coroutine (libcurl's callbacks). None of it
 * suspends.
 *
 * libcurl's rules kept here:
 *  - The timer callback only arms (or stops) the loop timer; a timeout of 0
 *    is acted on when that timer fires on the next loop iteration, never
 *    from inside the callback (which runs inside a curl_multi_* call).
 *  - What libcurl tells us about a socket is keyed by the pointer given to
 *    curl_multi_assign(), never by the fd number: a CURL_POLL_REMOVE may
 *    arrive after the fd was closed (its number perhaps reused) or for a
 *    socket never announced (sockp is then NULL).
 *
 * Keeping registrations across requests. libcurl stops watching a
 * keep-alive connection between two of its transfers (CURL_POLL_REMOVE when
 * one ends, a new announcement when the next starts), which with a plain
 * driver costs an epoll_ctl DEL and ADD per request. Instead, connection
 * sockets are opened and closed through our CURLOPT_OPENSOCKETFUNCTION /
 * CLOSESOCKETFUNCTION, so the session knows exactly which fds are open
 * connections (`byfd`, maintained by those two callbacks only, so an fd
 * number there is never stale). A REMOVE of such a socket leaves its watcher
 * registered with its last mask; the next announcement of the same open
 * socket finds the record and usually needs no poller call at all (the mask
 * is unchanged). An event on a parked watcher (the server closed the idle
 * connection) pauses it until libcurl asks again. Sockets libcurl opens by
 * other means (the resolver's socketpair) are watched and dropped plainly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/client_int.h"

static void on_io(cc__io_t *w, unsigned events);

static void sock_unlink_free(cc_http_session_t *s, cc__http_sock_t *k) {
  cc__io_stop(&k->io);
  if (k->prev)
    k->prev->next = k->next;
  else
    s->socks = k->next;
  if (k->next)
    k->next->prev = k->prev;
  s->st.watched--;
  free(k);
}

static cc__http_sock_t *sock_new(cc_http_session_t *s, curl_socket_t fd) {
  cc__http_sock_t *k = calloc(1, sizeof *k);
  if (!k)
    return NULL;
  k->s = s;
  k->fd = fd;
  cc__io_init(&k->io, fd, on_io, k);
  k->next = s->socks;
  if (s->socks)
    s->socks->prev = k;
  s->socks = k;
  s->st.watched++;
  return k;
}

static void on_io(cc__io_t *w, unsigned events) {
  cc__http_sock_t *k = w->data;
  cc_http_session_t *s = k->s;
  if (!k->known) {
    /* A parked keep-alive connection became readable (closed by the
     * server, most likely): stop listening until libcurl asks again. */
    s->st.idle_events++;
    cc__io_start(s->loop, &k->io, 0);
    return;
  }
  int flags = 0;
  if (events & CC__READ)
    flags |= CURL_CSELECT_IN;
  if (events & CC__WRITE)
    flags |= CURL_CSELECT_OUT;
  int running;
  /* k may be freed inside this call (socket closed): not used after. */
  curl_multi_socket_action(s->multi, k->fd, flags, &running);
  cc__http_reap(s);
}

static void on_timer(cc__cbtimer_t *t) {
  cc_http_session_t *s = t->data;
  int running;
  curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  cc__http_reap(s);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp) {
  cc_http_session_t *s = userp;
  cc__http_sock_t *k = sockp;
  if (what == CURL_POLL_REMOVE) {
    if (k) {
      k->known = false;
      if (!k->conn)
        sock_unlink_free(s, k); /* not one of our connection sockets (or closed) */
    }
    return 0;
  }
  if (!k) {
    if ((size_t)fd < s->nbyfd && s->byfd[fd])
      k = s->byfd[fd]; /* an open connection socket, parked or new */
    else if (!(k = sock_new(s, fd)))
      return -1;
    k->known = true;
    curl_multi_assign(s->multi, fd, k);
  }
  unsigned ev = 0;
  if (what & CURL_POLL_IN)
    ev |= CC__READ;
  if (what & CURL_POLL_OUT)
    ev |= CC__WRITE;
  if (cc__io_start(s->loop, &k->io, ev) < 0)
    return -1; /* libcurl fails the transfer(s) on this socket */
  return 0;
}

static int on_timeout(CURLM *m, long timeout_ms, void *userp) {
  cc_http_session_t *s = userp;
  if (timeout_ms < 0) {
    cc__cbtimer_stop(&s->timer);
    return 0;
  }
  /* 0 ("as soon as possible", after every curl_multi_add_handle): a
   * deadline in the past fires on the next iteration, with no clock read. */
  int64_t when = timeout_ms == 0 ? 0 : cc_now() + timeout_ms;
  return cc__cbtimer_start(s->loop, &s->timer, when) < 0 ? -1 : 0;
}

curl_socket_t cc__http_open_socket(void *ud, curlsocktype purpose,
                                   struct curl_sockaddr *a) {
  cc_http_session_t *s = ud;
  int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if (fd < 0)
    return CURL_SOCKET_BAD;
  s->st.sockets++;
  if (!s->loop)
    return fd;
  if ((size_t)fd >= s->nbyfd) {
    size_t n = s->nbyfd ? s->nbyfd : 64;
    while (n <= (size_t)fd)
      n *= 2;
    cc__http_sock_t **p = realloc(s->byfd, n * sizeof *p);
    if (!p) {
      close(fd);
      return CURL_SOCKET_BAD;
    }
    memset(p + s->nbyfd, 0, (n - s->nbyfd) * sizeof *p);
    s->byfd = p;
    s->nbyfd = n;
  }
  cc__http_sock_t *k = sock_new(s, fd);
  if (!k) {
    close(fd);
    return CURL_SOCKET_BAD;
  }
  k->conn = true;
  s->byfd[fd] = k;
  return fd;
}

int cc__http_close_socket(void *ud, curl_socket_t fd) {
  cc_http_session_t *s = ud;
  if (s->loop && (size_t)fd < s->nbyfd && s->byfd[fd]) {
    cc__http_sock_t *k = s->byfd[fd];
    s->byfd[fd] = NULL;
    k->conn = false;
    cc__io_stop(&k->io);
    if (!k->known)
      sock_unlink_free(s, k);
    /* else libcurl still holds k (curl_multi_assign): freed at its REMOVE,
     * or with the session. */
  }
  return close(fd);
}

int cc__http_loop_attach(cc_http_session_t *s) {
  cc__cbtimer_init(&s->timer, on_timer, s);
  curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
  curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
  curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
  return 0;
}

void cc__http_loop_detach(cc_http_session_t *s) {
  /* libcurl may still announce removals while it closes its connections
   * (curl_multi_cleanup): nothing must reach the loop any more. The close
   * callback then finds no records and just closes. */
  curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, NULL);
  curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, NULL);
  cc__cbtimer_stop(&s->timer);
  while (s->socks)
    sock_unlink_free(s, s->socks);
  if (s->byfd)
    memset(s->byfd, 0, s->nbyfd * sizeof *s->byfd);
}
