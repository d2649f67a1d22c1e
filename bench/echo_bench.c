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
 * Per message size it first runs the limit reference (peers/echo_ref.c, the
 * echo_ref program next to this one: plain epoll, one read and one write
 * per message, the same two-process layout), then concur, so the two are
 * measured side by side in the same invocation. Prints, per size:
 *   E echo impl=ref-c conns=64 msg_bytes=64 msgs_per_s=... wall_s=...
 *   E echo impl=concur conns=64 msg_bytes=64 msgs_per_s=... wall_s=...
 * (BENCH_ECHO_REF=0 leaves the reference out; BENCH_ECHO_URING=1 adds the
 * reference's io_uring server, impl=ref-c-uring; BENCH_ECHO_SIZE=64 or
 * 16384 runs one size.)
 * A message is one round trip (request + echo). Every echo is compared
 * with what was sent; a mismatch or error exits non-zero.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <limits.h>
#include <unistd.h>

#include <concur.h>

#include "common.h"

/* ---- server (child process)
 * ------------------------------------------------------------- */

/* One buffer per connection: a write that suspends (a 16 KiB echo the
 * socket does not take at once) still reads from it, so a buffer shared by
 * the loop's connections would be overwritten by the next one's read. */
static intptr_t echo_handler(cc_stream_t *s, void *arg) {
  (void)arg;
  enum { BUF = 64 * 1024 };
  char *buf = malloc(BUF);
  if (!buf)
    return -ENOMEM;
  intptr_t r;
  for (;;) {
    ssize_t n = cc_stream_read(s, buf, BUF, CC_FOREVER);
    if (n <= 0) {
      r = n;
      break;
    }
    if (cc_stream_write(s, buf, (size_t)n, CC_FOREVER) < 0) {
      r = -EPIPE;
      break;
    }
    if ((r = cc_stream_flush(s, CC_FOREVER)) < 0)
      break;
  }
  free(buf);
  return r;
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
  const char *payload; /* msg bytes, read-only, shared by every connection */
  int64_t end;         /* cc_now() deadline of the phase */
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
  /* As the limit reference does: one payload for every connection, whose
   * first byte is this connection's message counter (sent from its own
   * byte, so a write that suspends never sends another connection's), and
   * a buffer of our own for the echo, which a read that suspends half-way
   * must keep. One 5 s limit per round trip. */
  char *in = malloc(p->msg);
  if (!in) {
    p->errors++;
    cc_stream_free(s);
    return -ENOMEM;
  }
  const char *pl = p->payload;
  unsigned k = 0;
  int64_t now;
  while ((now = cc_now()) < p->end) {
    char hdr = (char)k++; /* a different message every time */
    struct iovec iov[2] = {{&hdr, 1}, {(void *)(pl + 1), p->msg - 1}};
    int64_t dl = now + 5000;
    ssize_t e;
    const char *op = NULL;
    if ((e = cc_stream_writev(s, iov, 2, dl)) < 0)
      op = "write";
    else if ((e = cc_stream_flush(s, dl)) < 0)
      op = "flush";
    else if ((e = cc_stream_read_exactly(s, in, p->msg, dl)) != (ssize_t)p->msg)
      op = "read_exactly";
    else if (in[0] != hdr || memcmp(in + 1, pl + 1, p->msg - 1) != 0)
      op = "compare";
    if (op) {
      if (!p->errors++)
        fprintf(stderr, "echo_bench: msg=%zu: %s: %zd (%s)\n", p->msg, op, e,
                e < 0 ? cc_strerror((int)e) : "short or wrong echo");
      rc = -EPROTO;
      break;
    }
    p->msgs++;
  }
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

/* Runs the limit reference for one size; its result line goes to our
 * stdout. A missing or failing reference is reported, never fatal. */
static void run_ref(const char *self, long long secs, int conns, size_t msg, bool uring) {
  const char *e = getenv("BENCH_ECHO_REF");
  if (e && strcmp(e, "0") == 0)
    return;
  char path[PATH_MAX], a1[32], a2[32], a3[32];
  const char *slash = strrchr(self, '/');
  snprintf(path, sizeof path, "%.*secho_ref", slash ? (int)(slash - self + 1) : 0, self);
  snprintf(a1, sizeof a1, "%lld", secs);
  snprintf(a2, sizeof a2, "%d", conns);
  snprintf(a3, sizeof a3, "%zu", msg);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    execl(path, path, a1, a2, a3, uring ? "uring" : (char *)NULL, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fprintf(stderr, "echo_bench: the limit reference %s did not run (status %d)\n", path,
            WIFEXITED(st) ? WEXITSTATUS(st) : -1);
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
  const char *only = getenv("BENCH_ECHO_SIZE"); /* one size only, e.g. 16384 */
  for (int i = 0; i < 2 && !fail; i++) {
    if (only && (size_t)atol(only) != sizes[i])
      continue;
    run_ref(argv[0], secs, conns, sizes[i], false);
    const char *u = getenv("BENCH_ECHO_URING");
    if (u && strcmp(u, "1") == 0)
      run_ref(argv[0], secs, conns, sizes[i], true);
    char *payload = malloc(sizes[i]);
    if (!payload) {
      fail = 1;
      break;
    }
    for (size_t j = 0; j < sizes[i]; j++)
      payload[j] = (char)('a' + j % 26);
    phase_t p = {.port = port, .conns = conns, .msg = sizes[i], .payload = payload};
    double t0 = bench_now();
    p.end = cc_now() + secs * 1000;
    intptr_t res = -1;
    int rc = cc_run_opts(NULL, phase_main, &p, &res);
    double wall = bench_now() - t0;
    free(payload);
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
