/* cc_serve: an accept loop that runs one task per connection.
 *
 * Connection tasks are joinable tasks of the server (spawned with the
 * stack size of opts.stack_size), in the manner of a task group: stopping
 * the server (cancelling the task that runs cc_serve) cancels them and
 * joins every one before cc_serve returns — no connection outlives its
 * server. A connection failing never cancels its siblings.
 *
 * Each connection's record sits on the server's list from accept until its
 * task ends. A task that ends while the server runs detaches itself and
 * frees its record; once the server is closing, the server joins what is on
 * the list, and closes the fd of a task cancelled before it ever ran (whose
 * function then never runs).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/net.h"
#include "concur/stream.h"
#include "concur/task.h"
#include "concur/tls.h"
#include "loop/sched.h"

typedef struct conn {
  struct conn *next, *prev;
  struct server *srv;
  cc_task_t *task;
  int fd;
  bool ran; /* conn_main started: it owns the fd */
} conn_t;

typedef struct server {
  cc_serve_fn fn;
  void *arg;
  cc_serve_opts_t o;
  conn_t *conns; /* accepted, task not finished */
  size_t live;
  cc_task_t *waiter; /* the accept loop, parked at max_conns */
  uint64_t token;
  int64_t last_report;
  bool closing; /* the server joins the connection tasks now */
} server_t;

static void unlink_conn(server_t *srv, conn_t *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  srv->live--;
  if (srv->waiter) {
    cc__wake(srv->waiter, srv->token, 0);
    srv->waiter = NULL;
  }
}

static void report(server_t *srv, int err, const char *what, bool accept_err) {
  if (srv->o.on_error) {
    srv->o.on_error(err, what, srv->arg);
    return;
  }
  if (!accept_err)
    return;
  int64_t now = cc_now();
  if (now - srv->last_report < 1000)
    return;
  srv->last_report = now;
  fprintf(stderr, "concur: cc_serve: %s: %s; retrying\n", what, cc_strerror(err));
}

static intptr_t conn_main(void *p) {
  conn_t *c = p;
  server_t *srv = c->srv;
  c->ran = true;
  cc_stream_t *s = NULL;
  cc_stream_opts_t so = srv->o.stream;
  so.borrow_fd = false;
  int r;
  if (srv->o.tls) {
    int64_t ms = srv->o.handshake_timeout_ms > 0 ? srv->o.handshake_timeout_ms : 10000;
    r = cc_tls_accept(&s, c->fd, srv->o.tls, &so, cc_deadline_in(ms));
    if (r < 0)
      report(srv, r, "TLS handshake", false);
  } else {
    r = cc_stream_new(&s, c->fd, &so);
  }
  if (r < 0) {
    cc_close(c->fd);
  } else {
    intptr_t v = srv->fn(s, srv->arg);
    if (v < 0)
      report(srv, (int)v, "connection handler", false);
    cc_stream_free(s);
  }
  if (srv->closing)
    return 0; /* the server joins us and frees the record */
  unlink_conn(srv, c);
  cc_detach(c->task); /* nobody joins a connection of a running server */
  free(c);
  return 0;
}

static bool transient_accept_error(int e) {
  switch (-e) {
  case EMFILE:
  case ENFILE:
  case ENOBUFS:
  case ENOMEM:
  case EPERM:
  case EPROTO:
  case ENETDOWN:
  case ENOPROTOOPT:
  case EHOSTDOWN:
  case ENONET:
  case EHOSTUNREACH:
  case EOPNOTSUPP:
  case ENETUNREACH:
    return true;
  default:
    return false;
  }
}

/* Stops every connection: cancels them all, then joins each (shielded:
 * the server's own cancellation is what brought us here) and frees its
 * record. */
static void close_all(server_t *srv) {
  srv->closing = true;
  for (conn_t *c = srv->conns; c; c = c->next)
    cc_cancel(c->task);
  bool was = cc__shield(cc__self(), true);
  while (srv->conns) {
    conn_t *c = srv->conns;
    cc_join(c->task, NULL);
    if (!c->ran)
      cc_close(c->fd); /* cancelled before it ever ran */
    srv->conns = c->next;
    free(c);
  }
  cc__shield(cc__self(), was);
  srv->live = 0;
}

int cc_serve(int lfd, cc_serve_fn fn, void *arg, const cc_serve_opts_t *opts) {
  if (lfd < 0 || !fn)
    return -EINVAL;
  if (!cc__self())
    return -CC_ENOTCORO;
  server_t srv = {.fn = fn, .arg = arg, .last_report = -1000000};
  if (opts)
    srv.o = *opts;
  cc_spawn_opts_t so = {.name = "serve: connection", .stack_size = srv.o.stack_size};
  int ret = 0;
  for (;;) {
    if (srv.o.max_conns && srv.live >= srv.o.max_conns) {
      srv.waiter = cc__self();
      srv.token = cc__park_token();
      int r = cc__park("serve: max_conns", &srv, CC_FOREVER);
      srv.waiter = NULL;
      if (r < 0) {
        ret = r;
        break;
      }
      continue;
    }
    int fd = cc_tcp_accept(lfd, NULL, CC_FOREVER);
    if (fd < 0) {
      if (transient_accept_error(fd)) {
        report(&srv, fd, "accept", true);
        continue;
      }
      ret = fd;
      break;
    }
    conn_t *c = malloc(sizeof *c);
    if (!c) {
      cc_close(fd);
      report(&srv, -ENOMEM, "accept", true);
      continue;
    }
    *c = (conn_t){.srv = &srv, .fd = fd};
    int r = cc_spawn_opts(&c->task, conn_main, c, &so);
    if (r < 0) {
      cc_close(fd);
      free(c);
      if (r == -ENOMEM) { /* the stack: like an accept without memory */
        report(&srv, r, "accept", true);
        continue;
      }
      ret = r;
      break;
    }
    c->next = srv.conns;
    if (srv.conns)
      srv.conns->prev = c;
    srv.conns = c;
    srv.live++;
  }
  close_all(&srv);
  return ret;
}
