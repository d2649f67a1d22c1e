/* A TCP echo server, as in the asyncio documentation's "TCP echo server
 * using streams": every line a client sends comes back to it.
 *
 *   Python                                     concur
 *   async def handle_echo(reader, writer):     static intptr_t handle_echo(cc_stream_t
 * *s, void *arg) data = await reader.readline()             cc_stream_read_line(s, line,
 * sizeof line, ...) writer.write(data); await writer.drain()   cc_stream_write(...);
 * cc_stream_flush(...) server = await asyncio.start_server(       int lfd =
 * cc_tcp_listen("127.0.0.1", 8888, NULL); handle_echo, '127.0.0.1', 8888) await
 * server.serve_forever()               cc_serve(lfd, handle_echo, NULL, NULL);
 *
 * Usage: echo_server [port (default 8888)] [run_ms (default: until Ctrl-C)]
 */
#include <stdio.h>
#include <stdlib.h>

#include <concur.h>

static intptr_t handle_echo(cc_stream_t *s, void *arg) {
  (void)arg;
  char line[4096];
  for (;;) {
    /* A client gets 60 s per line; a longer line than 4 KiB ends it. */
    ssize_t n = cc_stream_read_line(s, line, sizeof line, cc_deadline_in(60000));
    if (n <= 0)
      return n; /* 0: the client closed; < 0: its error, this connection only */
    if (cc_stream_write(s, line, (size_t)n, CC_FOREVER) < 0)
      return -1;
    int r = cc_stream_flush(s, cc_deadline_in(10000));
    if (r < 0)
      return r;
  }
}

typedef struct {
  int port;
  long run_ms;
} args_t;

static intptr_t serve_main(void *arg) {
  args_t *a = arg;
  int lfd = cc_tcp_listen("127.0.0.1", a->port, NULL);
  if (lfd < 0) {
    fprintf(stderr, "listen on port %d: %s\n", a->port, cc_strerror(lfd));
    return lfd;
  }
  cc_addr_t addr;
  char name[64];
  cc_sock_local_addr(lfd, &addr);
  cc_addr_format(&addr, name, sizeof name);
  printf("Serving on %s\n", name);
  fflush(stdout);

  /* Keep the per-connection buffers small: an echo line is short. */
  cc_serve_opts_t opts = {.stream = {.read_buf = 1024, .write_buf = 1024}};
  cc_timeout_t scope;
  cc_timeout_begin(&scope, a->run_ms > 0 ? cc_deadline_in(a->run_ms) : CC_FOREVER);
  int r = cc_serve(lfd, handle_echo, NULL, &opts); /* until Ctrl-C or run_ms */
  cc_timeout_end(&scope);
  cc_close(lfd);
  printf("Server stopped: %s\n", cc_strerror(r));
  return r == -ETIMEDOUT || r == -ECANCELED ? 0 : r;
}

int main(int argc, char **argv) {
  args_t a = {.port = argc > 1 ? atoi(argv[1]) : 8888,
              .run_ms = argc > 2 ? atol(argv[2]) : 0};
  intptr_t res = 0;
  int r = cc_run(serve_main, &a, &res);
  if (r == -ECANCELED) /* Ctrl-C */
    return 0;
  return r == 0 && res == 0 ? 0 : 1;
}
