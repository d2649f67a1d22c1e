/* An echo client that opens many concurrent connections (10,000 by
 * default), as in the asyncio documentation's "TCP echo client using
 * streams" run under asyncio.gather:
 *
 *   Python                                          concur
 *   reader, writer = await asyncio.open_connection( cc_open_connection(&s, host, port,
 * dl) '127.0.0.1', 8888) writer.write(message.encode()) cc_stream_write(s, msg, n, dl)
 *   data = await reader.readline()                  cc_stream_read_line(s, buf, sizeof
 * buf, dl) writer.close()                                  cc_stream_free(s) await
 * asyncio.gather(*(client(i) for i in ...)) cc_gather(tasks, n, results)
 *
 * Every connection stays open until all of them are open, so the count
 * really is concurrent.
 *
 * Usage: echo_client [connections (default 10000)] [host port]
 * Without host and port it starts the echo server of echo_server.c in the
 * same process (same loop) on an ephemeral port, and caps the count at
 * what RLIMIT_NOFILE allows (two descriptors per connection then).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <concur.h>

typedef struct {
  const char *host;
  int port;
  int n;
  int open, ok;
  cc_event_t *all_open;
} state_t;

static intptr_t echo_client(void *arg) {
  state_t *st = arg;
  cc_stream_t *s;
  cc_stream_opts_t so = {.read_buf = 256, .write_buf = 256};
  int fd = cc_tcp_connect(st->host, st->port, cc_deadline_in(30000));
  if (fd < 0)
    return fd;
  int r = cc_stream_new(&s, fd, &so);
  if (r < 0) {
    cc_close(fd);
    return r;
  }
  char msg[64], back[64];
  int n = snprintf(msg, sizeof msg, "Hello World from %p!\n", (void *)cc_self());
  ssize_t got = -1;
  if (cc_stream_write(s, msg, (size_t)n, CC_FOREVER) == n &&
      cc_stream_flush(s, cc_deadline_in(30000)) == 0)
    got = cc_stream_read_line(s, back, sizeof back, cc_deadline_in(30000));
  if (got != n || memcmp(msg, back, (size_t)n) != 0) {
    cc_stream_free(s);
    return got < 0 ? got : -EPROTO;
  }
  st->ok++;
  if (++st->open == st->n)
    cc_event_set(st->all_open);
  r = cc_event_wait(st->all_open); /* hold the connection until all are open */
  cc_stream_free(s);
  return r;
}

static intptr_t handle_echo(cc_stream_t *s, void *arg) {
  (void)arg;
  char line[256];
  ssize_t n;
  while ((n = cc_stream_read_line(s, line, sizeof line, cc_deadline_in(60000))) > 0)
    if (cc_stream_write(s, line, (size_t)n, CC_FOREVER) < 0 ||
        cc_stream_flush(s, cc_deadline_in(10000)) < 0)
      return -1;
  return n;
}

static intptr_t server(void *arg) {
  int lfd = (int)(intptr_t)arg;
  cc_serve_opts_t opts = {.stream = {.read_buf = 256, .write_buf = 256}};
  return cc_serve(lfd, handle_echo, NULL, &opts) == -ECANCELED ? 0 : -1;
}

static intptr_t client_main(void *arg) {
  state_t *st = arg;
  cc_task_t *srv = NULL;
  int lfd = -1;
  if (!st->host) { /* in-process server */
    cc_listen_opts_t lo = {.backlog = 4096};
    lfd = cc_tcp_listen("127.0.0.1", 0, &lo);
    if (lfd < 0)
      return lfd;
    cc_addr_t a;
    cc_sock_local_addr(lfd, &a);
    st->host = "127.0.0.1";
    st->port = cc_addr_port(&a);
    if (cc_spawn(&srv, server, (void *)(intptr_t)lfd) < 0)
      return -ENOMEM;
  }
  int r = cc_event_new(&st->all_open);
  if (r < 0)
    return r;
  cc_task_t **tasks = calloc((size_t)st->n, sizeof *tasks);
  intptr_t *res = calloc((size_t)st->n, sizeof *res);
  if (!tasks || !res)
    return -ENOMEM;
  int64_t t0 = cc_now();
  for (int i = 0; i < st->n; i++) {
    cc_spawn(&tasks[i], echo_client, st);
    if (i % 512 == 511)
      cc_sleep(1); /* pace the connects a little: the accept queue is finite */
  }
  r = cc_gather(tasks, (size_t)st->n, res);
  printf("%d/%d connections echoed, all open at once; %lld ms\n", st->ok, st->n,
         (long long)(cc_now() - t0));
  if (r < 0)
    printf("first error: %s\n", cc_strerror(r));
  free(tasks);
  free(res);
  cc_event_free(st->all_open);
  if (srv) {
    cc_cancel(srv);
    cc_join(srv, NULL);
    cc_close(lfd);
  }
  return r;
}

int main(int argc, char **argv) {
  state_t st = {.n = argc > 1 ? atoi(argv[1]) : 10000};
  if (argc > 3) {
    st.host = argv[2];
    st.port = atoi(argv[3]);
  }
  /* Each connection needs a descriptor (two with the in-process server). */
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  long per = st.host ? 1 : 2;
  if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < per * st.n + 64) {
    st.n = (int)(((long)rl.rlim_cur - 64) / per);
    printf("RLIMIT_NOFILE is %ld: using %d connections\n", (long)rl.rlim_cur, st.n);
  }
  if (st.n <= 0)
    return 2;
  intptr_t res = -1;
  int r = cc_run(client_main, &st, &res);
  return r == 0 && res == 0 ? 0 : 1;
}
