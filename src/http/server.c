/* The server object: options, listeners, N loops, accepting, shutdown.
 *
 * cc_server_run starts one worker per loop: worker 0 on the calling thread
 * (or the calling coroutine's loop), the others on threads of their own.
 * Each worker has its own SO_REUSEPORT socket per TCP listener, so the
 * kernel spreads connections and no lock is taken on the request path. A
 * worker's main task runs the accept tasks and then waits; cancelling it
 * (from cc_server_shutdown through cc_loop_call, or by SIGINT/SIGTERM on
 * the loop that owns them) starts the graceful shutdown, in aiohttp's
 * order: stop accepting, close idle keep-alive connections, give in-flight
 * requests the grace period, then cancel what is left and wait for it.
 *
 * Connection records are freed by their own task. A record whose task has
 * not started when the shutdown begins is never cancelled: it starts, sees
 * the worker stopping and closes, so no fd is left behind.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "concur/loop.h"
#include "concur/net.h"
#include "loop/sched.h"
#include "http/server_int.h"

/* ---- creation ---------------------------------------------------------------- */

int cc_server_new(cc_server_t **out, const cc_server_opts_t *opts) {
  cc_server_t *s = calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  if (opts)
    s->o = *opts;
  cc_server_opts_t *o = &s->o;
#define DEF(f, v)                                                                        \
  if (!o->f)                                                                             \
  o->f = (v)
  DEF(max_header_line, 8 * 1024);
  DEF(max_header_size, 64 * 1024);
  DEF(max_headers, 100);
  DEF(max_uri, 8 * 1024);
  DEF(max_body, 1024 * 1024);
  DEF(header_timeout_ms, 10000);
  DEF(body_timeout_ms, 60000);
  DEF(send_timeout_ms, 60000);
  DEF(keepalive_timeout_ms, 75000);
  DEF(max_requests, 1000);
  DEF(max_conns, 65536);
  DEF(shutdown_grace_ms, 10000);
  DEF(server_name, "concur");
#undef DEF
  if (o->loops <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->loops = n > 0 ? (int)n : 1;
  }
  if (o->loops > CC__MAX_LOOPS)
    o->loops = CC__MAX_LOOPS;
  s->nloops = o->loops;
  s->log_fd = -1;
  if (o->access_log) {
    s->log_fd =
        strcmp(o->access_log, "-") == 0
            ? dup(1)
            : open(o->access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->log_fd < 0) {
      int e = -errno;
      free(s);
      return e;
    }
  }
  int n =
      snprintf(s->server_line, sizeof s->server_line, "Server: %s\r\n", o->server_name);
  if (n <= 0 || (size_t)n >= sizeof s->server_line) {
    if (s->log_fd >= 0)
      close(s->log_fd);
    free(s);
    return -EINVAL;
  }
  s->server_line_len = (size_t)n;
  pthread_mutex_init(&s->mu, NULL);
  *out = s;
  return 0;
}

void cc_server_free(cc_server_t *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->nlsn; i++)
    for (int k = 0; k < s->nloops; k++)
      if (s->lsn[i].fds[k] >= 0)
        cc_close(s->lsn[i].fds[k]);
  if (s->log_fd >= 0)
    close(s->log_fd);
  cc__routes_free(s);
  cc__statics_free(s);
  free(s->workers);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

int cc_server_route(cc_server_t *s, const char *method, const char *pattern,
                    cc_handler_fn fn, void *arg) {
  return cc_server_route_opts(s, method, pattern, fn, arg, NULL);
}

int cc_server_route_opts(cc_server_t *s, const char *method, const char *pattern,
                         cc_handler_fn fn, void *arg, const cc_route_opts_t *ro) {
  if (atomic_load(&s->running))
    return -EBUSY;
  return cc__route_add(s, method, pattern, fn, arg, ro);
}

/* ---- listeners ------------------------------------------------------------------- */

/* The next free listener slot, reset to `kind` with no fds (the caller
 * counts it in s->nlsn once it is set up); NULL with *err -EBUSY while the
 * server runs, -ENOSPC when every slot is taken. */
static listener_t *next_listener(cc_server_t *s, int kind, int *err) {
  if (atomic_load(&s->running))
    return *err = -EBUSY, NULL;
  if (s->nlsn == sizeof s->lsn / sizeof s->lsn[0])
    return *err = -ENOSPC, NULL;
  listener_t *l = &s->lsn[s->nlsn];
  *l = (listener_t){.kind = kind};
  for (int k = 0; k < CC__MAX_LOOPS; k++)
    l->fds[k] = -1;
  return l;
}

static int add_tcp(cc_server_t *s, const char *host, int port, cc_tls_ctx_t *tls) {
  int err;
  listener_t *l = next_listener(s, LSN_TCP, &err);
  if (!l)
    return err;
  l->tls = tls;
  cc_listen_opts_t lo = {.reuseport = true};
  if (host && strchr(host, ':'))
    lo.v6only = true;
  for (int k = 0; k < s->nloops; k++) {
    int fd = cc_tcp_listen(host, port, &lo);
    if (fd < 0) {
      for (int j = 0; j < k; j++)
        cc_close(l->fds[j]);
      return fd;
    }
    l->fds[k] = fd;
    if (port == 0) { /* the other loops share the ephemeral port */
      cc_addr_t a;
      if (cc_sock_local_addr(fd, &a) == 0)
        port = cc_addr_port(&a);
    }
  }
  l->port = port;
  s->nlsn++;
  return 0;
}

int cc_server_listen(cc_server_t *s, const char *host, int port) {
  return add_tcp(s, host, port, NULL);
}

int cc_server_listen_tls(cc_server_t *s, const char *host, int port, cc_tls_ctx_t *tls) {
  if (!tls)
    return -EINVAL;
  return add_tcp(s, host, port, tls);
}

int cc_server_listen_unix(cc_server_t *s, const char *path) {
  int err;
  listener_t *l = next_listener(s, LSN_UNIX, &err);
  if (!l)
    return err;
  int fd = cc_unix_listen(path, NULL);
  if (fd < 0)
    return fd;
  l->fds[0] = fd;
  snprintf(l->path, sizeof l->path, "%s", path);
  s->nlsn++;
  return 0;
}

int cc_server_port(const cc_server_t *s) {
  for (size_t i = 0; i < s->nlsn; i++)
    if (s->lsn[i].kind == LSN_TCP)
      return s->lsn[i].port;
  return -ENOTCONN;
}

void cc_server_stats(const cc_server_t *s, cc_server_stats_t *out) {
  *out = (cc_server_stats_t){0};
  out->live_conns = atomic_load_explicit(&s->live_total, memory_order_relaxed);
  pthread_mutex_lock((pthread_mutex_t *)&s->mu);
  if (s->workers)
    for (int k = 0; k < s->nloops; k++) {
      worker_t *w = &s->workers[k];
      out->requests += atomic_load_explicit(&w->n_requests, memory_order_relaxed);
      out->conns += atomic_load_explicit(&w->n_conns, memory_order_relaxed);
      out->refused += atomic_load_explicit(&w->n_refused, memory_order_relaxed);
      out->errors += atomic_load_explicit(&w->n_errors, memory_order_relaxed);
    }
  pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
}

/* ---- errors ----------------------------------------------------------------------- */

void cc__server_error(worker_t *w, int err, const char *what) {
  cc_server_t *s = w->srv;
  if (s->o.on_error) {
    s->o.on_error(err, what, s->o.error_arg);
    return;
  }
  int64_t now = cc_now();
  if (now - w->last_err_report >= 1000) {
    w->last_err_report = now;
    w->errs_this_sec = 0;
  }
  if (w->errs_this_sec++ < 5)
    fprintf(stderr, "concur server: %s: %s\n", what, cc_strerror(err));
}

/* ---- connections --------------------------------------------------------------------
 */

static void conn_unlink(worker_t *w, conn_t *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    w->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  w->live--;
  atomic_fetch_sub_explicit(&w->srv->live_total, 1, memory_order_relaxed);
  if (w->live == 0 && w->drain_waiter) {
    cc__wake(w->drain_waiter, w->drain_token, 0);
    w->drain_waiter = NULL;
  }
}

/* Closing after an error answer: half-close, then read (and drop) what the
 * client still sends for a moment, so that the kernel does not answer
 * unread data with a reset that destroys our response (nginx's lingering
 * close). */
static void linger_close(conn_t *c) {
  if (c->st || c->dead || c->fd < 0)
    return;
  cc_shutdown(c->fd, SHUT_WR);
  int64_t dl = cc_deadline_in(1000);
  char buf[4096];
  for (int i = 0; i < 64; i++)
    if (cc_read(c->fd, buf, sizeof buf, dl) <= 0)
      break;
}

/* Connection records come from per-worker blocks, apart from the heap
 * blocks that hold the connections' buffers: once idle connections free
 * their buffers, whole heap pages are free and malloc_trim can return
 * them (records interleaved with buffers would pin a page each). */
#define CONN_BLOCK 64

typedef struct conn_block {
  struct conn_block *next;
  conn_t conns[CONN_BLOCK];
} conn_block_t;

static conn_t *conn_alloc(worker_t *w) {
  if (!w->free_conns) {
    conn_block_t *b = malloc(sizeof *b);
    if (!b)
      return NULL;
    b->next = w->blocks;
    w->blocks = b;
    for (int i = CONN_BLOCK - 1; i >= 0; i--) {
      b->conns[i].next = w->free_conns;
      w->free_conns = &b->conns[i];
    }
  }
  conn_t *c = w->free_conns;
  w->free_conns = c->next;
  memset(c, 0, sizeof *c);
  return c;
}

static void conn_release(worker_t *w, conn_t *c) {
  c->next = w->free_conns;
  w->free_conns = c;
}

static void conn_blocks_free(worker_t *w) {
  while (w->blocks) {
    conn_block_t *b = w->blocks;
    w->blocks = b->next;
    free(b);
  }
  w->free_conns = NULL;
}

static intptr_t conn_task(void *arg);

/* ---- dormant connections ---------------------------------------------------------
 * An idle keep-alive connection (idle past a second, buffers freed) gives
 * up its coroutine too: the task ends, its stack returns to the pool, and a
 * callback watcher on the fd plus a callback timer at the keep-alive
 * deadline stand in for it (what nginx does with its event handlers). The
 * next byte (or EOF) spawns a fresh connection task, which carries on
 * from the record; the timer closes the connection. */

static void dormant_close(conn_t *c) {
  worker_t *w = c->w;
  cc__io_stop(&c->hup);
  cc__cbtimer_stop(&c->kat);
  c->dormant = false;
  cc_close(c->fd);
  cc__h1_free(c);
  conn_unlink(w, c);
  conn_release(w, c);
}

static void dormant_wake(cc__io_t *io, unsigned events) {
  (void)events;
  conn_t *c = io->data;
  cc__io_stop(&c->hup);
  cc__cbtimer_stop(&c->kat);
  c->dormant = false;
  cc_spawn_opts_t so = {.detached = true, .stack_size = c->w->srv->o.stack_size};
  if (cc_spawn_opts(&c->task, conn_task, c, &so) < 0)
    dormant_close(c);
}

static void dormant_timeout(cc__cbtimer_t *t) {
  dormant_close(t->data);
}

/* Parks the connection without a coroutine; false when it cannot (then it
 * is closed as usual). */
static bool go_dormant(conn_t *c) {
  cc_loop_t *l = cc_loop_current();
  c->task = NULL;
  cc__io_init(&c->hup, c->fd, dormant_wake, c);
  if (cc__io_start(l, &c->hup, CC__READ) < 0)
    return false;
  cc__cbtimer_init(&c->kat, dormant_timeout, c);
  if (cc__cbtimer_start(l, &c->kat, c->ka_deadline) < 0) {
    cc__io_stop(&c->hup);
    return false;
  }
  c->dormant = true;
  return true;
}

static intptr_t conn_task(void *arg) {
  conn_t *c = arg;
  worker_t *w = c->w;
  if (cc__conn_main(c) == CC__CONN_DORMANT && go_dormant(c))
    return 0;
  if (c->linger)
    linger_close(c);
  if (c->st)
    cc_stream_free(c->st);
  else
    cc_close(c->fd);
  cc__h1_free(c);
  conn_unlink(w, c);
  conn_release(w, c);
  return 0;
}

static void refuse(int fd) {
  static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                            "Connection: close\r\nRetry-After: 1\r\n\r\n";
  ssize_t n = send(fd, msg, sizeof msg - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)n;
  cc_close(fd);
}

typedef struct accept_arg {
  worker_t *w;
  listener_t *l;
  int fd;
} accept_arg_t;

static intptr_t accept_task(void *arg) {
  accept_arg_t *a = arg;
  worker_t *w = a->w;
  cc_server_t *s = w->srv;
  for (;;) {
    cc_addr_t peer = {0};
    int fd = cc_tcp_accept(a->fd, &peer, CC_FOREVER);
    if (fd < 0) {
      if (fd == -ECANCELED || fd == -ETIMEDOUT || fd == -EBADF || fd == -EINVAL)
        break;
      cc__server_error(w, fd, "accept");
      continue;
    }
    if (atomic_load_explicit(&s->live_total, memory_order_relaxed) >= s->o.max_conns ||
        w->stopping) {
      atomic_fetch_add_explicit(&w->n_refused, 1, memory_order_relaxed);
      refuse(fd);
      continue;
    }
    conn_t *c = conn_alloc(w);
    if (!c) {
      refuse(fd);
      continue;
    }
    cc__h1_init(c, w, fd);
    c->peer = peer;
    c->tls = a->l->tls;
    /* No .name: a named task mallocs a copy of its name, a small block
     * that lives as long as the connection, lands between the blocks of
     * its buffers and pinned a heap page per idle connection after they
     * were freed (W6m: 4.9 KiB of heap per connection). The dump shows
     * the spawn site's function, conn_task. */
    cc_spawn_opts_t so = {.detached = true, .stack_size = s->o.stack_size};
    c->next = w->conns;
    if (w->conns)
      w->conns->prev = c;
    w->conns = c;
    w->live++;
    atomic_fetch_add_explicit(&s->live_total, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->n_conns, 1, memory_order_relaxed);
    if (cc_spawn_opts(&c->task, conn_task, c, &so) < 0) {
      conn_unlink(w, c);
      cc__h1_free(c);
      conn_release(w, c);
      refuse(fd);
    }
  }
  free(a);
  return 0;
}

/* ---- workers ------------------------------------------------------------------------
 */

static void start_shutdown_cb(void *arg) {
  worker_t *w = arg;
  if (w->main)
    cc_cancel(w->main);
}

void cc_server_shutdown(cc_server_t *s) {
  if (atomic_exchange(&s->stopping, true))
    return;
  pthread_mutex_lock(&s->mu);
  if (s->workers)
    for (int k = 0; k < s->nloops; k++)
      if (s->workers[k].loop)
        cc_loop_call(s->workers[k].loop, start_shutdown_cb, &s->workers[k]);
  pthread_mutex_unlock(&s->mu);
}

static intptr_t worker_main(void *arg) {
  worker_t *w = arg;
  cc_server_t *s = w->srv;
  cc_task_t *self = cc_self();
  w->main = self;
  cc__worker_date(w);
  for (size_t i = 0; i < s->nlsn; i++) {
    int fd = s->lsn[i].fds[w->index];
    if (fd < 0 || w->naccepts == sizeof w->accepts / sizeof w->accepts[0])
      continue;
    accept_arg_t *a = malloc(sizeof *a);
    if (!a)
      continue;
    *a = (accept_arg_t){w, &s->lsn[i], fd};
    if (cc_spawn(&w->accepts[w->naccepts], accept_task, a) == 0)
      w->naccepts++;
    else
      free(a);
  }
  /* Serve until cancelled (shutdown, or a signal on the owning loop). */
  /* Serve until cancelled; once a second, hand the memory that idle
   * connections freed back to the kernel (free() leaves it in the heap,
   * between live allocations; malloc_trim releases those pages). */
  while (!atomic_load(&s->stopping)) {
    int r = cc__park("http server", s, cc_deadline_in(SWEEP_MS));
    if (r != -ETIMEDOUT)
      break;
    cc__h1_sweep(w); /* clients gone while their handler sleeps (h1.c) */
    if (w->trims_pending && w->tick % (1000 / SWEEP_MS) == 0) {
      w->trims_pending = 0;
      malloc_trim(0);
    }
  }
  cc_server_shutdown(s); /* a signal: tell the other loops */
  bool was = cc__shield(self, true);
  /* 1. Stop accepting. */
  w->stopping = true;
  for (size_t i = 0; i < w->naccepts; i++)
    cc_cancel(w->accepts[i]);
  for (size_t i = 0; i < w->naccepts; i++)
    cc_join(w->accepts[i], NULL);
  w->naccepts = 0;
  for (size_t i = 0; i < s->nlsn; i++)
    if (s->lsn[i].fds[w->index] >= 0) {
      cc_close(s->lsn[i].fds[w->index]);
      s->lsn[i].fds[w->index] = -1;
    }
  /* 2. Close idle keep-alive connections. */
  for (conn_t *c = w->conns, *nx; c; c = nx) {
    nx = c->next;
    if (c->dormant)
      dormant_close(c);
    else if (c->idle)
      cc_cancel(c->task);
  }
  /* 3. Give in-flight requests the grace period. */
  int64_t grace = cc_deadline_in(s->o.shutdown_grace_ms);
  while (w->live > 0 && cc_now() < grace) {
    w->drain_waiter = self;
    w->drain_token = cc__park_token();
    cc__park("http server drain", w, grace);
    w->drain_waiter = NULL;
    for (conn_t *c = w->conns, *nx; c; c = nx) { /* finished their request since */
      nx = c->next;
      if (c->dormant)
        dormant_close(c);
      else if (c->idle)
        cc_cancel(c->task);
    }
  }
  /* 4. Cancel what is left and wait for it. */
  for (conn_t *c = w->conns, *nx; c; c = nx) {
    nx = c->next;
    if (c->dormant)
      dormant_close(c);
    else if (c->started && c->task)
      cc_cancel(c->task);
  }
  while (w->live > 0) {
    w->drain_waiter = self;
    w->drain_token = cc__park_token();
    cc__park("http server drain", w, cc_deadline_in(100));
    w->drain_waiter = NULL;
    for (conn_t *c = w->conns, *nx; c; c = nx) {
      nx = c->next;
      if (c->dormant)
        dormant_close(c);
      else if (c->started && c->task)
        cc_cancel(c->task);
    }
  }
  cc__shield(self, was);
  w->main = NULL;
  return 0;
}

static void *worker_thread(void *arg) {
  worker_t *w = arg;
  intptr_t r;
  cc_loop_run(w->loop, worker_main, w, &r);
  return NULL;
}

static intptr_t run_main(void *arg) {
  return worker_main(arg);
}

int cc_server_run(cc_server_t *s) {
  if (s->nlsn == 0)
    return -EINVAL;
  if (atomic_exchange(&s->running, true))
    return -EBUSY;
  worker_t *ws = calloc((size_t)s->nloops, sizeof *ws);
  if (!ws) {
    atomic_store(&s->running, false);
    return -ENOMEM;
  }
  int ret = 0;
  for (int k = 0; k < s->nloops; k++) {
    ws[k].srv = s;
    ws[k].index = k;
    ws[k].date_sec = -1;
    ws[k].last_err_report = -1000000;
  }
  bool in_coro = cc_self() != NULL;
  pthread_mutex_lock(&s->mu);
  s->workers = ws;
  cc_loop_opts_t lo = {.stack_size = s->o.stack_size};
  for (int k = 1; k < s->nloops && ret == 0; k++) {
    ret = cc_loop_new(&ws[k].loop, &lo);
    ws[k].own_loop = ret == 0;
  }
  if (in_coro) {
    ws[0].loop = cc_loop_current();
  } else if (ret == 0) {
    cc_loop_opts_t l0 = lo;
    l0.handle_signals = s->o.handle_signals;
    ret = cc_loop_new(&ws[0].loop, &l0);
    ws[0].own_loop = ret == 0;
  }
  pthread_mutex_unlock(&s->mu);
  /* The loop that takes SIGINT/SIGTERM reads them from a signalfd, which
   * works only if no other thread takes them: the worker threads inherit
   * a mask that blocks them. */
  sigset_t sigs, saved;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, &saved);
  for (int k = 1; k < s->nloops && ret == 0; k++) {
    if (pthread_create(&ws[k].thread, NULL, worker_thread, &ws[k]) != 0)
      ret = -EAGAIN;
    else
      ws[k].has_thread = true;
  }
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (ret == 0) {
    if (in_coro) {
      cc_task_t *t;
      ret = cc_spawn(&t, run_main, &ws[0]);
      if (ret == 0) {
        int r = cc_join(t, NULL);
        if (r < 0) { /* the caller was cancelled: shut down, then wait */
          cc_server_shutdown(s);
          bool was = cc__shield(cc_self(), true);
          cc_join(t, NULL);
          cc__shield(cc_self(), was);
        }
      }
    } else {
      intptr_t r;
      ret = cc_loop_run(ws[0].loop, run_main, &ws[0], &r);
      if (ret == -ECANCELED)
        ret = 0;
    }
  }
  if (ret < 0)
    cc_server_shutdown(s);
  for (int k = 1; k < s->nloops; k++)
    if (ws[k].has_thread)
      pthread_join(ws[k].thread, NULL);
  pthread_mutex_lock(&s->mu);
  for (int k = 0; k < s->nloops; k++) {
    if (ws[k].own_loop)
      cc_loop_free(ws[k].loop);
    ws[k].loop = NULL;
    free(ws[k].log);
    ws[k].log = NULL;
    conn_blocks_free(&ws[k]);
  }
  pthread_mutex_unlock(&s->mu);
  /* Keep the counters readable: the workers array stays until free. */
  for (size_t i = 0; i < s->nlsn; i++)
    for (int k = 0; k < s->nloops; k++)
      if (s->lsn[i].fds[k] >= 0) {
        cc_close(s->lsn[i].fds[k]);
        s->lsn[i].fds[k] = -1;
      }
  for (size_t i = 0; i < s->nlsn; i++)
    if (s->lsn[i].kind == LSN_UNIX && s->lsn[i].path[0] && s->lsn[i].path[0] != '@')
      unlink(s->lsn[i].path);
  return ret;
}
