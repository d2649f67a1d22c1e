/* W6 http-server, W6p http-pipelined, W6s http-static, W6m http-idle.
 *
 *   w6_http_server [seconds]              everything, peers in the same run
 *   w6_http_server --serve PORT [--loops N] [--static DIR]
 *                                         only serve /plaintext (and DIR at
 *                                         /static/) until SIGTERM
 *   w6_http_server --soak [SECONDS]       W6soak: wrk for SECONDS (60) with
 *                                         the server's VmRSS sampled each
 *                                         second; fails if it grows after
 *                                         the warm-up (bench/run: BENCH_FULL=1)
 *
 * Each server runs as its own process group; wrk loads it from outside;
 * the server's CPU time (user + system of every process of the group over
 * the run, from /proc) divided by the requests wrk completed gives
 * cpu_us_per_req. W6p's p99 comes from a probe connection of our own that
 * sends a 16-request batch every 5 ms (wrk's latency is wrong for pipelined
 * load). Peers, when installed: nginx (1 and 2 workers), h2o, Go net/http,
 * aiohttp (+uvloop), Tornado, and the minimal C limit reference
 * (peers/w6_ref_server.c). Exits non-zero when concur answers wrong. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "concur.h"

static const char HELLO[] = "Hello, World!";

/* ---- --serve ---------------------------------------------------------------------- */

static int plaintext(cc_req_t *r, void *arg) {
  return cc_resp_send(r, 200, "text/plain", HELLO, sizeof HELLO - 1);
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static int serve(int port, int loops, const char *dir) {
  raise_nofile();
  cc_server_t *srv;
  cc_server_opts_t o = {.loops = loops,
                        .handle_signals = true,
                        .max_requests = 1u << 30,
                        .shutdown_grace_ms = 1000};
  if (cc_server_new(&srv, &o) < 0 ||
      cc_server_route(srv, "GET", "/plaintext", plaintext, NULL) < 0)
    return 1;
  if (dir && cc_server_static(srv, "/static", dir) < 0)
    return 1;
  int e = cc_server_listen(srv, "127.0.0.1", port);
  if (e < 0) {
    fprintf(stderr, "listen: %s\n", cc_strerror(e));
    return 1;
  }
  e = cc_server_run(srv);
  cc_server_free(srv);
  return e < 0;
}

/* ---- processes -----------------------------------------------------------------------
 */

static char self_path[4096], tmpdir[256], bindir[4096], peersdir[4096];
static int failed;
static bool no_go_peer; /* --soak: only concur runs */

static pid_t spawn(char *const argv[], const char *log) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execvp(argv[0], argv);
    _exit(127);
  }
  if (pid > 0)
    setpgid(pid, pid);
  return pid;
}

static void stop(pid_t pid) {
  if (pid <= 0)
    return;
  kill(-pid, SIGTERM);
  for (int i = 0; i < 300; i++) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      kill(-pid, SIGKILL); /* stragglers of the group (nginx workers) */
      return;
    }
    usleep(10000);
  }
  kill(-pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

/* CPU seconds (user + system) and RSS (KiB) of every process in group pgid. */
static void group_usage(pid_t pgid, double *cpu, double *rss_kb) {
  *cpu = 0;
  *rss_kb = 0;
  DIR *d = opendir("/proc");
  if (!d)
    return;
  struct dirent *e;
  long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
  while ((e = readdir(d))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    char p[300], buf[2048];
    snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(p, "r");
    if (!f)
      continue;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *rp = strrchr(buf, ')');
    if (!rp)
      continue;
    /* fields after ")": state ppid pgrp session tty tpgid flags minflt
     * cminflt majflt cmajflt utime stime cutime cstime prio nice threads
     * itreal starttime vsize rss */
    char st;
    long ppid, pgrp, x;
    unsigned long ut, stt;
    long rss;
    unsigned long long start, vsz;
    if (sscanf(rp + 2,
               "%c %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %lu %lu %ld %ld %ld %ld %ld "
               "%ld %llu %llu %ld",
               &st, &ppid, &pgrp, &x, &x, &x, &x, &x, &x, &x, &x, &ut, &stt, &x, &x, &x,
               &x, &x, &x, &start, &vsz, &rss) != 22)
      continue;
    if (pgrp != pgid)
      continue;
    *cpu += (double)(ut + stt) / (double)tck;
    *rss_kb += (double)rss * (double)page / 1024.0;
  }
  closedir(d);
}

static int connect_port(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t l = sizeof a;
  bind(fd, (struct sockaddr *)&a, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &l);
  close(fd);
  return ntohs(a.sin_port);
}

/* One GET; true when the answer is 200 with `body`. */
static bool check_get(int port, const char *path, const char *body, size_t blen) {
  int fd = connect_port(port);
  if (fd < 0)
    return false;
  char req[256], buf[16384];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
  if (write(fd, req, (size_t)n) != n) {
    close(fd);
    return false;
  }
  size_t got = 0;
  ssize_t k;
  while (got < sizeof buf - 1 && (k = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
    got += (size_t)k;
  close(fd);
  buf[got] = 0;
  char *eoh = strstr(buf, "\r\n\r\n");
  return strncmp(buf, "HTTP/1.1 200", 12) == 0 && eoh &&
         got - (size_t)(eoh + 4 - buf) == blen && memcmp(eoh + 4, body, blen) == 0;
}

static bool wait_port(int port, pid_t pid) {
  for (int i = 0; i < 600; i++) {
    int fd = connect_port(port);
    if (fd >= 0) {
      close(fd);
      return true;
    }
    if (waitpid(pid, NULL, WNOHANG) == pid)
      return false;
    usleep(20000);
  }
  return false;
}

/* ---- wrk
 * -------------------------------------------------------------------------------- */

typedef struct wrk_res {
  double rps, p99_ms;
  long long requests, errors;
} wrk_res_t;

static double to_ms(double v, const char *unit) {
  if (strncmp(unit, "us", 2) == 0)
    return v / 1000;
  if (strncmp(unit, "ms", 2) == 0)
    return v;
  if (unit[0] == 's')
    return v * 1000;
  if (unit[0] == 'm')
    return v * 60000;
  return v;
}

static wrk_res_t run_wrk(const char *args, int port, const char *path, int secs,
                         const char *tail) {
  wrk_res_t r = {0};
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "wrk %s -d%ds --latency http://127.0.0.1:%d%s %s 2>&1", args,
           secs, port, path, tail);
  FILE *f = popen(cmd, "r");
  if (!f)
    return r;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    double v;
    char unit[16];
    long long a, b, c, d;
    if (sscanf(line, "Requests/sec: %lf", &v) == 1)
      r.rps = v;
    else if (sscanf(line, " 99%% %lf%15s", &v, unit) == 2)
      r.p99_ms = to_ms(v, unit);
    else if (sscanf(line, " %lld requests in", &a) == 1)
      r.requests = a;
    else if (sscanf(line, " Non-2xx or 3xx responses: %lld", &a) == 1)
      r.errors += a;
    else if (sscanf(line,
                    " Socket errors: connect %lld, read %lld, write %lld, timeout %lld",
                    &a, &b, &c, &d) == 4)
      r.errors +=
          a + c; /* read errors: peers closing at shutdown; timeouts are latency */
  }
  pclose(f);
  return r;
}

/* ---- the W6p probe
 * ----------------------------------------------------------------------- */

typedef struct probe {
  int port;
  volatile bool stop;
  double *samples;
  size_t n, cap;
} probe_t;

static void *probe_main(void *arg) {
  probe_t *p = arg;
  int fd = connect_port(p->port);
  if (fd < 0)
    return NULL;
  char req[16 * 64];
  size_t rl = 0;
  for (int i = 0; i < 16; i++)
    rl += (size_t)sprintf(req + rl, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
  char buf[65536];
  while (!p->stop) {
    double t0 = bench_now();
    if (write(fd, req, rl) != (ssize_t)rl)
      break;
    int seen = 0;
    size_t have = 0;
    while (seen < 16) {
      ssize_t k = read(fd, buf + have, sizeof buf - 1 - have);
      if (k <= 0)
        goto out;
      have += (size_t)k;
      buf[have] = 0;
      seen = 0;
      for (char *q = buf; (q = strstr(q, HELLO)); q += sizeof HELLO - 1)
        seen++;
      if (have > sizeof buf / 2 && seen < 16) { /* keep the tail only */
        size_t keep = 64;
        memmove(buf, buf + have - keep, keep);
        have = keep;
      }
    }
    if (p->n < p->cap)
      p->samples[p->n++] = (bench_now() - t0) * 1000;
    usleep(5000);
  }
out:
  close(fd);
  return NULL;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* ---- servers
 * -------------------------------------------------------------------------------- */

typedef struct impl {
  const char *name; /* impl= */
  int loops;
  bool concur;
  bool static_ok;
  char *argv[16];
  char storage[8][512];
} impl_t;

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static bool have(const char *prog) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
  return system(cmd) == 0;
}

/* Builds the command that serves on `port`. Returns false when the peer is
 * not installed. Static files are under tmpdir/www (at /static/). */
static bool make_cmd(impl_t *im, int port) {
  char *s0 = im->storage[0], *s1 = im->storage[1], *s2 = im->storage[2];
  snprintf(s1, 512, "%d", port);
  snprintf(s2, 512, "%d", im->loops);
  if (im->concur) {
    snprintf(s0, 512, "%s/www", tmpdir);
    char *a[] = {self_path, "--serve", s1, "--loops", s2, "--static", s0, NULL};
    memcpy(im->argv, a, sizeof a);
    return true;
  }
  if (strcmp(im->name, "ref-c") == 0) {
    snprintf(s0, 512, "%s/w6_ref_server", bindir);
    if (access(s0, X_OK) != 0)
      return false;
    char *a[] = {s0, s1, NULL};
    memcpy(im->argv, a, sizeof a);
    return true;
  }
  if (strncmp(im->name, "nginx", 5) == 0) {
    if (!have("nginx"))
      return false;
    char conf[4096], path[600], *pfx = im->storage[3];
    snprintf(pfx, 512, "%s/nginx%d", tmpdir, im->loops);
    mkdir(pfx, 0755);
    snprintf(path, sizeof path, "%s/logs", pfx);
    mkdir(path, 0755);
    snprintf(
        conf, sizeof conf,
        "daemon off; master_process on; worker_processes %d;\n"
        "worker_rlimit_nofile 40000; error_log %s/error.log; pid %s/nginx.pid;\n"
        "events { worker_connections 30000; }\n"
        "http { access_log off; keepalive_requests 100000000; keepalive_timeout 75s;\n"
        "  client_body_temp_path %s/cb; proxy_temp_path %s/px; fastcgi_temp_path %s/fc;\n"
        "  uwsgi_temp_path %s/uw; scgi_temp_path %s/sc; sendfile on; tcp_nopush on;\n"
        "  server { listen 127.0.0.1:%d;\n"
        "    location = /plaintext { default_type text/plain; return 200 \"%s\"; }\n"
        "    location /static/ { alias %s/www/; } } }\n",
        im->loops, pfx, pfx, pfx, pfx, pfx, pfx, pfx, port, HELLO, tmpdir);
    snprintf(path, sizeof path, "%s/nginx.conf", pfx);
    write_file(path, conf);
    snprintf(s0, 512, "%s", path);
    char *a[] = {"nginx", "-p", pfx, "-c", s0, NULL};
    memcpy(im->argv, a, sizeof a);
    return true;
  }
  if (strcmp(im->name, "h2o") == 0) {
    if (!have("h2o"))
      return false;
    char conf[2048], path[600];
    snprintf(conf, sizeof conf,
             "listen:\n  host: 127.0.0.1\n  port: %d\nnum-threads: 1\n"
             /* (no pid-file / error-log: h2o writes them after dropping root) */
             "hosts:\n  default:\n    paths:\n      /plaintext:\n        file.file: "
             "%s/hello.txt\n"
             "      /static:\n        file.dir: %s/www\n",
             port, tmpdir, tmpdir);
    snprintf(path, sizeof path, "%s/h2o.conf", tmpdir);
    write_file(path, conf);
    snprintf(s0, 512, "%s", path);
    char *a[] = {"h2o", "-c", s0, NULL};
    memcpy(im->argv, a, sizeof a);
    return true;
  }
  if (strcmp(im->name, "go") == 0) {
    snprintf(s0, 512, "%s/w6go", tmpdir);
    if (access(s0, X_OK) != 0)
      return false;
    char *a[] = {s0, s1, "1", NULL};
    memcpy(im->argv, a, sizeof a);
    return true;
  }
  if (strncmp(im->name, "aiohttp", 7) == 0 || strcmp(im->name, "tornado") == 0) {
    bool aio = im->name[0] == 'a';
    snprintf(s0, 512, "%s/%s", peersdir,
             aio ? "w6_server_aiohttp.py" : "w6_server_tornado.py");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import %s' 2>/dev/null",
             aio ? "aiohttp" : "tornado");
    if (access(s0, R_OK) != 0 || system(cmd) != 0)
      return false;
    char *a[] = {"/usr/bin/python3", s0, s1,
                 strstr(im->name, "uvloop") ? "uvloop" : "asyncio", NULL};
    memcpy(im->argv, a, sizeof a);
    return true;
  }
  return false;
}

typedef struct running {
  pid_t pid;
  int port;
} running_t;

static bool start(impl_t *im, running_t *r) {
  r->port = free_port();
  if (!make_cmd(im, r->port))
    return false;
  char log[600];
  snprintf(log, sizeof log, "%s/%s.log", tmpdir, im->name);
  r->pid = spawn(im->argv, log);
  if (r->pid < 0 || !wait_port(r->port, r->pid)) {
    fprintf(stderr, "# %s did not start (see %s)\n", im->name, log);
    stop(r->pid);
    if (im->concur)
      failed = 1;
    return false;
  }
  if (!check_get(r->port, "/plaintext", HELLO, sizeof HELLO - 1)) {
    fprintf(stderr, "# %s: wrong answer to GET /plaintext\n", im->name);
    if (im->concur)
      failed = 1;
    stop(r->pid);
    return false;
  }
  usleep(100000);
  return true;
}

static void w6(impl_t *im, int secs) {
  running_t r;
  if (!start(im, &r))
    return;
  double c0, c1, rss;
  group_usage(r.pid, &c0, &rss);
  wrk_res_t w = run_wrk("-t1 -c64", r.port, "/plaintext", secs, "");
  group_usage(r.pid, &c1, &rss);
  if (im->concur && (w.errors || w.requests == 0)) {
    fprintf(stderr, "# concur: %lld errors under load\n", w.errors);
    failed = 1;
  }
  printf("W6 http-server impl=%s loops=%d rps=%.0f p99_ms=%.3f cpu_us_per_req=%.2f\n",
         im->name, im->loops, w.rps, w.p99_ms,
         w.requests ? (c1 - c0) * 1e6 / (double)w.requests : 0.0);
  fflush(stdout);
  stop(r.pid);
}

static void w6p(impl_t *im, int secs) {
  running_t r;
  if (!start(im, &r))
    return;
  char args[700];
  snprintf(args, sizeof args, "-t1 -c256 -s %s/pipeline.lua", tmpdir);
  probe_t p = {.port = r.port, .cap = 100000};
  p.samples = malloc(p.cap * sizeof *p.samples);
  pthread_t th;
  pthread_create(&th, NULL, probe_main, &p);
  double c0, c1, rss;
  group_usage(r.pid, &c0, &rss);
  /* wrk passes the arguments after "--" to the script: 16 per write. */
  wrk_res_t w = run_wrk(args, r.port, "/plaintext", secs, "-- 16");
  group_usage(r.pid, &c1, &rss);
  p.stop = true;
  pthread_join(th, NULL);
  qsort(p.samples, p.n, sizeof *p.samples, cmp_d);
  double p99 = p.n ? p.samples[(size_t)((double)(p.n - 1) * 0.99)] : 0;
  if (im->concur && (w.errors || w.requests == 0 || p.n == 0)) {
    fprintf(stderr, "# concur: pipelined errors %lld, probe samples %zu\n", w.errors,
            p.n);
    failed = 1;
  }
  printf("W6p http-pipelined impl=%s loops=%d rps=%.0f p99_ms=%.3f cpu_us_per_req=%.2f "
         "probe_samples=%zu\n",
         im->name, im->loops, w.rps, p99,
         w.requests ? (c1 - c0) * 1e6 / (double)w.requests : 0.0, p.n);
  fflush(stdout);
  free(p.samples);
  stop(r.pid);
}

static void w6s(impl_t *im, int secs) {
  running_t r;
  if (!start(im, &r))
    return;
  static char page[4096];
  memset(page, 'a', sizeof page);
  if (!check_get(r.port, "/static/page4k.html", page, sizeof page)) {
    fprintf(stderr, "# %s: wrong static answer\n", im->name);
    if (im->concur)
      failed = 1;
    stop(r.pid);
    return;
  }
  double c0, c1, rss;
  group_usage(r.pid, &c0, &rss);
  wrk_res_t w = run_wrk("-t1 -c64", r.port, "/static/page4k.html", secs, "");
  group_usage(r.pid, &c1, &rss);
  printf("W6s http-static impl=%s loops=%d rps=%.0f p99_ms=%.3f cpu_us_per_req=%.2f\n",
         im->name, im->loops, w.rps, w.p99_ms,
         w.requests ? (c1 - c0) * 1e6 / (double)w.requests : 0.0);
  fflush(stdout);
  stop(r.pid);
}

static void w6m(impl_t *im, int conns) {
  running_t r;
  if (!start(im, &r))
    return;
  double cpu, rss0, rss1;
  usleep(200000);
  group_usage(r.pid, &cpu, &rss0);
  int *fds = malloc((size_t)conns * sizeof *fds);
  int n = 0;
  const char req[] = "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";
  char buf[1024];
  for (; n < conns; n++) {
    int fd = connect_port(r.port);
    if (fd < 0)
      break;
    if (write(fd, req, sizeof req - 1) != (ssize_t)sizeof req - 1 ||
        read(fd, buf, sizeof buf) <= 0) {
      close(fd);
      break;
    }
    fds[n] = fd;
  }
  /* Idle for 3 s, as held keep-alive connections are (concur trims an
   * idle connection's buffers and stack after 1 s and returns the pages at
   * its next once-a-second tick; nginx frees its buffers at once). */
  usleep(3000000);
  group_usage(r.pid, &cpu, &rss1);
  if (n < conns)
    fprintf(stderr, "# %s: held only %d connections\n", im->name, n);
  printf("W6m http-idle impl=%s conns=%d rss_mb=%.1f kb_per_conn=%.2f\n", im->name, n,
         rss1 / 1024, n ? (rss1 - rss0) / n : 0.0);
  fflush(stdout);
  for (int i = 0; i < n; i++)
    close(fds[i]);
  free(fds);
  stop(r.pid);
}

/* ---- the soak
 * -------------------------------------------------------------------------------- */

/* VmRSS of one process in KiB (from /proc/<pid>/status), or -1. */
static long vm_rss_kb(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

/* `--soak SECONDS`: wrk -t1 -c64 on /plaintext for SECONDS against concur
 * (1 loop) with its RSS sampled every second; after a warm-up (the first
 * fifth, at least 5 s) the least-squares slope of the series must be flat.
 * Prints one W6soak line; exits non-zero on a wrong answer, wrk errors or
 * growth past 1 MiB per minute after the warm-up. */
static int soak(int secs) {
  impl_t c1 = {.name = "concur", .loops = 1, .concur = true};
  running_t r;
  if (!start(&c1, &r))
    return 1;
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "wrk -t1 -c64 -d%ds --latency http://127.0.0.1:%d/plaintext 2>&1", secs,
           r.port);
  FILE *f = popen(cmd, "r");
  if (!f) {
    stop(r.pid);
    return 1;
  }
  long *s = calloc((size_t)secs + 4, sizeof *s);
  int n = 0;
  long rss_max = 0;
  for (int i = 0; i <= secs && s; i++) { /* a sample a second, 0..secs */
    long kb = vm_rss_kb(r.pid);
    if (kb < 0)
      break;
    s[n++] = kb;
    if (kb > rss_max)
      rss_max = kb;
    if (i < secs)
      sleep(1);
  }
  wrk_res_t w = {0};
  char line[512];
  while (fgets(line, sizeof line, f)) {
    double v;
    long long a, b, c, d;
    if (sscanf(line, "Requests/sec: %lf", &v) == 1)
      w.rps = v;
    else if (sscanf(line, " %lld requests in", &a) == 1)
      w.requests = a;
    else if (sscanf(line, " Non-2xx or 3xx responses: %lld", &a) == 1)
      w.errors += a;
    else if (sscanf(line,
                    " Socket errors: connect %lld, read %lld, write %lld, timeout %lld",
                    &a, &b, &c, &d) == 4)
      w.errors += a + c;
  }
  pclose(f);
  bool ok = check_get(r.port, "/plaintext", HELLO, sizeof HELLO - 1);
  long rss_after = vm_rss_kb(r.pid);
  stop(r.pid);
  int warm = secs / 5 < 5 ? 5 : secs / 5;
  double slope = 0; /* KiB per second over the samples after the warm-up */
  long wmin = 0, wmax = 0;
  if (n > warm + 2) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int m = 0;
    wmin = wmax = s[warm];
    for (int i = warm; i < n; i++, m++) {
      sx += i, sy += (double)s[i], sxx += (double)i * i, sxy += (double)i * (double)s[i];
      if (s[i] < wmin)
        wmin = s[i];
      if (s[i] > wmax)
        wmax = s[i];
    }
    slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
  }
  printf("# W6soak RSS series (KiB, one a second):");
  for (int i = 0; i < n; i++)
    printf(" %ld", s[i]);
  printf("\n");
  printf("W6soak http-soak impl=concur loops=1 seconds=%d samples=%d rss_start_mb=%.2f "
         "rss_warm_mb=%.2f rss_end_mb=%.2f rss_max_mb=%.2f rss_after_warmup_range_kb=%ld "
         "slope_kb_per_min=%.1f rps=%.0f requests=%lld errors=%lld\n",
         secs, n, n ? s[0] / 1024.0 : 0, n > warm ? s[warm] / 1024.0 : 0,
         n ? s[n - 1] / 1024.0 : 0, rss_max / 1024.0, wmax - wmin, slope * 60, w.rps,
         w.requests, w.errors);
  fflush(stdout);
  free(s);
  (void)rss_after;
  if (!ok || w.requests == 0 || w.errors) {
    fprintf(stderr, "# W6soak: wrong answers or wrk errors\n");
    return 1;
  }
  if (slope * 60 > 1024) {
    fprintf(stderr, "# W6soak: RSS grows %.0f KiB a minute after the warm-up\n",
            slope * 60);
    return 1;
  }
  return 0;
}

static void setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/w6_bench_XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    exit(1);
  }
  chmod(tmpdir, 0755);
  char p[600];
  snprintf(p, sizeof p, "%s/www", tmpdir);
  mkdir(p, 0755);
  static char page[4096];
  memset(page, 'a', sizeof page);
  snprintf(p, sizeof p, "%s/www/page4k.html", tmpdir);
  FILE *f = fopen(p, "w");
  fwrite(page, 1, sizeof page, f);
  fclose(f);
  snprintf(p, sizeof p, "%s/hello.txt", tmpdir);
  FILE *h = fopen(p, "w");
  fputs(HELLO, h);
  fclose(h);
  snprintf(p, sizeof p, "%s/pipeline.lua", tmpdir);
  write_file(p, "init = function(args)\n"
                "  local r = {}\n"
                "  local depth = tonumber(args[1]) or 1\n"
                "  for i = 1, depth do r[i] = wrk.format() end\n"
                "  req = table.concat(r)\n"
                "end\n"
                "request = function() return req end\n");
  /* Go peer, built here (standard library only). */
  char go[600], cmd[2048];
  snprintf(go, sizeof go, "%s/w6_server.go", peersdir);
  if (!no_go_peer && access(go, R_OK) == 0 && have("go")) {
    snprintf(cmd, sizeof cmd,
             "cd %s && GO111MODULE=off GOFLAGS=-mod=mod GOCACHE=%s/gocache "
             "GOPATH=/usr/share/gocode "
             "go build -o %s/w6go %s >/dev/null 2>&1",
             tmpdir, tmpdir, tmpdir, go);
    if (system(cmd) != 0)
      fprintf(stderr, "# go peer did not build\n");
  }
}

static void cleanup(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "# could not remove %s\n", tmpdir);
}

int main(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "--serve") == 0) {
    int loops = 1;
    const char *dir = NULL;
    for (int i = 3; i + 1 < argc; i += 2) {
      if (strcmp(argv[i], "--loops") == 0)
        loops = atoi(argv[i + 1]);
      else if (strcmp(argv[i], "--static") == 0)
        dir = argv[i + 1];
    }
    return serve(atoi(argv[2]), loops, dir);
  }
  bool soaking = argc > 1 && strcmp(argv[1], "--soak") == 0;
  int secs = soaking ? 0 : (int)bench_arg(argc, argv, 1, getenv("BENCH_QUICK") ? 3 : 10);
  if (!have("wrk")) {
    fprintf(stderr, "w6_http_server: wrk is not installed (apt-get install wrk)\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  raise_nofile();
  if (readlink("/proc/self/exe", self_path, sizeof self_path - 1) < 0)
    return 1;
  snprintf(bindir, sizeof bindir, "%s", self_path);
  *strrchr(bindir, '/') = 0;
  const char *pd = getenv("BENCH_PEERS");
  if (pd)
    snprintf(peersdir, sizeof peersdir, "%s", pd);
  else
    snprintf(peersdir, sizeof peersdir, "%s", CC_BENCH_PEERS);
  no_go_peer = soaking;
  setup();
  if (soaking) {
    int ss = argc > 2 ? atoi(argv[2]) : 60;
    int rc = soak(ss > 0 ? ss : 60);
    cleanup();
    return rc;
  }
  impl_t c1 = {.name = "concur", .loops = 1, .concur = true};
  impl_t c2 = {.name = "concur", .loops = 2, .concur = true};
  impl_t ref = {.name = "ref-c", .loops = 1};
  impl_t n1 = {.name = "nginx", .loops = 1}, n2 = {.name = "nginx", .loops = 2};
  impl_t h2o = {.name = "h2o", .loops = 1}, go = {.name = "go", .loops = 1};
  impl_t aio = {.name = "aiohttp-uvloop", .loops = 1},
         tor = {.name = "tornado", .loops = 1};
  const char *only = getenv("W6_ONLY"); /* e.g. "W6,W6p" */
#define WANT(w) (!only || strstr(only, w))
  if (WANT("W6,") || !only || strcmp(only, "W6") == 0) {
    impl_t *order[] = {&ref, &c1, &n1, &c2, &n2, &h2o, &go, &aio, &tor};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
      w6(order[i], secs);
  }
  if (WANT("W6p")) {
    impl_t *order[] = {&ref, &c1, &n1, &c2, &n2};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
      w6p(order[i], secs);
  }
  if (WANT("W6s")) {
    impl_t *order[] = {&c1, &n1, &h2o};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
      w6s(order[i], secs);
  }
  if (WANT("W6m")) {
    impl_t *order[] = {&c1, &n1};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
      w6m(order[i], 10000);
  }
  cleanup();
  return failed;
}
