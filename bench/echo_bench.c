/* Echo benchmark (issue 3): `conns` connections on loopback each send a
 * message, wait for its echo and repeat, for a bounded time; once with
 * 64-byte and once with 16 KiB messages. The server (cc_serve with a
 * buffered stream per connection) runs in a forked child process and the
 * clients in this one, each process on its own single-threaded loop, so
 * both cores are used — as the Go peer uses them through its scheduler and
 * the Python peers through the same two-process layout.
 *
 *   echo_bench [seconds per size (default 3; 1 with BENCH_QUICK=1)] [conns (default 64)]
 *
 * Prints, per message size:
 *   E echo impl=concur conns=64 msg_bytes=64 msgs_per_s=... wall_s=...
 * A message is one round trip (request + echo). Every echo is compared
 * with what was sent; a mismatch or error exits non-zero.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <concur.h>

#include "common.h"

/* ---- server (child process)
 * ------------------------------------------------------------- */

static intptr_t echo_handler(cc_stream_t *s, void *arg) {
  (void)arg;
  static _Thread_local char buf[64 * 1024];
  for (;;) {
    ssize_t n = cc_stream_read(s, buf, sizeof buf, CC_FOREVER);
    if (n <= 0)
      return n;
    if (cc_stream_write(s, buf, (size_t)n, CC_FOREVER) < 0)
      return -EPIPE;
    int r = cc_stream_flush(s, CC_FOREVER);
    if (r < 0)
      return r;
  }
}

static intptr_t server_main(void *arg) {
  int lfd = (int)(intptr_t)arg;
  int r = cc_serve(lfd, echo_handler, NULL, NULL); /* until SIGTERM */
  cc_close(lfd);
  return r == -ECANCELED ? 0 : r;
}

/* ---- clients
 * ----------------------------------------------------------------------------- */

typedef struct {
  int port, conns;
  size_t msg;
  int64_t end; /* cc_now() deadline of the phase */
  long long msgs;
  int errors;
} phase_t;

static intptr_t client(void *arg) {
  phase_t *p = arg;
  cc_stream_t *s;
  int rc = cc_open_connection(&s, "127.0.0.1", p->port, cc_deadline_in(5000));
  if (rc < 0) {
    p->errors++;
    return rc;
  }
  char *out = malloc(p->msg), *in = malloc(p->msg);
  for (size_t i = 0; i < p->msg; i++)
    out[i] = (char)('a' + i % 26);
  unsigned k = 0;
  while (cc_now() < p->end) {
    out[0] = (char)k++; /* a different message every time */
    if (cc_stream_write(s, out, p->msg, cc_deadline_in(5000)) < 0 ||
        cc_stream_flush(s, cc_deadline_in(5000)) < 0 ||
        cc_stream_read_exactly(s, in, p->msg, cc_deadline_in(5000)) != (ssize_t)p->msg ||
        memcmp(out, in, p->msg) != 0) {
      p->errors++;
      rc = -EPROTO;
      break;
    }
    p->msgs++;
  }
  free(out);
  free(in);
  cc_stream_free(s);
  return rc;
}

static intptr_t phase_main(void *arg) {
  phase_t *p = arg;
  cc_task_t **t = calloc((size_t)p->conns, sizeof *t);
  for (int i = 0; i < p->conns; i++)
    if (cc_spawn(&t[i], client, p) < 0)
      return -ENOMEM;
  int r = cc_gather(t, (size_t)p->conns, NULL);
  free(t);
  return r;
}

int main(int argc, char **argv) {
  const char *quick = getenv("BENCH_QUICK");
  long long secs = bench_arg(argc, argv, 1, quick && strcmp(quick, "1") == 0 ? 1 : 3);
  int conns = (int)bench_arg(argc, argv, 2, 64);
  int lfd = cc_tcp_listen("127.0.0.1", 0, NULL);
  if (lfd < 0) {
    fprintf(stderr, "listen: %s\n", cc_strerror(lfd));
    return 1;
  }
  cc_addr_t a;
  cc_sock_local_addr(lfd, &a);
  int port = cc_addr_port(&a);
  pid_t pid = fork();
  if (pid < 0)
    return 1;
  if (pid == 0) {
    intptr_t res = -1;
    int rc = cc_run(server_main, (void *)(intptr_t)lfd, &res);
    _exit(rc == 0 || rc == -ECANCELED ? 0 : 1);
  }
  close(lfd);
  int fail = 0;
  const size_t sizes[] = {64, 16384};
  for (int i = 0; i < 2 && !fail; i++) {
    phase_t p = {.port = port, .conns = conns, .msg = sizes[i]};
    double t0 = bench_now();
    p.end = cc_now() + secs * 1000;
    intptr_t res = -1;
    int rc = cc_run_opts(NULL, phase_main, &p, &res);
    double wall = bench_now() - t0;
    if (rc != 0 || res != 0 || p.errors) {
      fprintf(stderr, "echo_bench: msg=%zu: %d errors (%s)\n", sizes[i], p.errors,
              cc_strerror(rc ? rc : (int)res));
      fail = 1;
      break;
    }
    printf("E echo impl=concur conns=%d msg_bytes=%zu msgs_per_s=%.0f wall_s=%.2f\n",
           conns, sizes[i], (double)p.msgs / wall, wall);
    fflush(stdout);
  }
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "echo_bench: server exited badly\n");
    fail = 1;
  }
  return fail;
}
