/* A private nginx for the HTTP client tests (see nginx_helper.h). */
#include "nginx_helper.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static bool quiet;

static const char *nginx_bin(void) {
  static const char *const cands[] = {"/usr/sbin/nginx", "/usr/bin/nginx",
                                      "/usr/local/sbin/nginx", NULL};
  for (int i = 0; cands[i]; i++)
    if (access(cands[i], X_OK) == 0)
      return cands[i];
  return NULL;
}

int test_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

static int write_file(const char *dir, const char *name, const void *data, size_t len) {
  char p[1024];
  snprintf(p, sizeof p, "%.500s/%.500s", dir, name);
  FILE *f = fopen(p, "wb");
  if (!f)
    return -1;
  fwrite(data, 1, len, f);
  fclose(f);
  return 0;
}

static int run_quiet(const char *cmd) {
  int st = system(cmd);
  return st == 0 ? 0 : -1;
}

static bool port_up(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static int make_site(test_nginx_t *n, bool tls) {
  char p[512];
  snprintf(p, sizeof p, "%s/html", n->dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/html/gz", n->dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/html/br", n->dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/html/slow", n->dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/tmp", n->dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/html", n->dir);
  const char *hello = "hello from nginx\n";
  write_file(p, "index.html", hello, strlen(hello));
  char page[4096];
  for (size_t i = 0; i < sizeof page; i++)
    page[i] = (char)('a' + i % 26);
  memcpy(page, "<html>", 6);
  page[sizeof page - 1] = '\n';
  write_file(p, "page4k.html", page, sizeof page);
  size_t big = 2u << 20;
  char *b = malloc(big);
  for (size_t i = 0; i < big; i++)
    b[i] = (char)(i * 7 + (i >> 11));
  write_file(p, "big.bin", b, big);
  write_file(p, "slow/big.bin", b, big);
  free(b);
  char text[16384];
  for (size_t i = 0; i < sizeof text; i++)
    text[i] = "the quick brown fox jumps over the lazy dog\n"[i % 44];
  write_file(p, "gz/text.txt", text, sizeof text);
  write_file(p, "br/text.raw", text, sizeof text);
  char cmd[1200];
  if (quiet)
    return 0;
  snprintf(cmd, sizeof cmd, "brotli -c '%s/br/text.raw' > '%s/br/text.txt' 2>/dev/null",
           p, p);
  if (run_quiet(cmd) != 0)
    return -1;
  if (tls) {
    snprintf(n->cert, sizeof n->cert, "%s/cert.pem", n->dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout '%s/key.pem' -out '%s' -days 2 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
             n->dir, n->cert);
    if (run_quiet(cmd) != 0)
      return -1;
  }
  return 0;
}

static int write_conf(test_nginx_t *n, bool tls) {
  char p[512];
  snprintf(p, sizeof p, "%s/nginx.conf", n->dir);
  FILE *f = fopen(p, "w");
  if (!f)
    return -1;
  const char *d = n->dir;
  /* The benchmarks' nginx as one tuned for serving small static files is:
   * no access log, and open file descriptors cached (open_file_cache), so
   * that a request costs it a read and a write instead of also an open(),
   * fstat() and close() (W7 and W9: the clients, not nginx's file calls,
   * are what is compared). */
#define BENCH_HTTP_TUNING                                                                \
  "  access_log off;\n  open_file_cache max=4096 inactive=300s;\n"                       \
  "  open_file_cache_valid 300s;\n"
  fprintf(
      f,
      "daemon off;\nmaster_process off;\nworker_processes 1;\n"
      "error_log %s/error.log warn;\npid %s/nginx.pid;\n"
      "events { worker_connections 16384; }\n"
      "http {\n"
      "  log_format t '$connection $connection_requests $server_protocol $request_uri "
      "$status';\n"
      "  access_log %s/access.log t;\n%s"
      "  client_body_temp_path %s/tmp; proxy_temp_path %s/tmp; fastcgi_temp_path "
      "%s/tmp;\n"
      "  uwsgi_temp_path %s/tmp; scgi_temp_path %s/tmp;\n"
      "  keepalive_requests 1000000; keepalive_timeout 60s;\n"
      "  default_type application/octet-stream;\n"
      "  types { text/html html; text/plain txt; }\n",
      d, d, d, quiet ? BENCH_HTTP_TUNING : "", d, d, d, d, d);
  for (int pass = 0; pass < (tls ? 2 : 1); pass++) {
    if (pass == 0)
      fprintf(f, "  server {\n    listen 127.0.0.1:%d;\n", n->port);
    else
      fprintf(f,
              "  server {\n    listen 127.0.0.1:%d ssl http2;\n"
              "    ssl_certificate %s; ssl_certificate_key %s/key.pem;\n",
              n->tls_port, n->cert, d);
    fprintf(f,
            "    server_name localhost;\n    root %s/html;\n"
            "    location /gz/ { gzip on; gzip_types text/plain; gzip_min_length 0; }\n"
            "    location /br/ { add_header Content-Encoding br; }\n"
            "    location /slow/ { limit_rate 16k; }\n"
            "    location = /setcookie { add_header Set-Cookie \"sess=abc123; Path=/\"; "
            "return 200 \"set\\n\"; }\n"
            "    location = /echocookie { return 200 \"cookie=$http_cookie\\n\"; }\n"
            "    location = /echo { return 200 \"$request_method $request_uri "
            "x-test=$http_x_test\\n\"; }\n"
            "    location = /busy { add_header Retry-After 1 always; return 429; }\n"
            "    location = /unavail { return 503; }\n"
            "    location = /shortka { keepalive_timeout 1s; return 200 \"short\\n\"; }\n"
            "    location = /r1 { return 302 /index.html; }\n",
            d);
    for (int i = 2; i <= 20; i++)
      fprintf(f, "    location = /r%d { return 302 /r%d; }\n", i, i - 1);
    if (tls) /* a redirect from http to https (the client's transports hand over) */
      fprintf(f,
              "    location = /tohttps { return 302 https://localhost:%d/index.html; }\n",
              n->tls_port);
    fprintf(f, "  }\n");
  }
  fprintf(f, "}\n");
  fclose(f);
  snprintf(n->log, sizeof n->log, "%s/access.log", d);
  return 0;
}

int test_nginx_start(test_nginx_t *n, bool tls) {
  memset(n, 0, sizeof *n);
  const char *bin = nginx_bin();
  if (!bin)
    return -1;
  snprintf(n->dir, sizeof n->dir, "/tmp/cc-nginx.XXXXXX");
  if (!mkdtemp(n->dir))
    return -1;
  if (make_site(n, tls) != 0)
    goto fail;
  for (int attempt = 0; attempt < 5; attempt++) {
    n->port = test_free_port();
    n->tls_port = tls ? test_free_port() : 0;
    if (n->port < 0 || write_conf(n, tls) != 0)
      goto fail;
    char conf[256];
    snprintf(conf, sizeof conf, "%s/nginx.conf", n->dir);
    pid_t pid = fork();
    if (pid < 0)
      goto fail;
    if (pid == 0) {
      int nul = open("/dev/null", O_RDWR);
      dup2(nul, 0);
      dup2(nul, 1);
      execl(bin, "nginx", "-q", "-p", n->dir, "-e", "stderr", "-c", conf, (char *)NULL);
      _exit(127);
    }
    n->pid = pid;
    for (int i = 0; i < 500; i++) {
      int st;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        n->pid = 0;
        break;
      }
      if (port_up(n->port) && (!tls || port_up(n->tls_port))) {
        truncate(n->log, 0);
        return 0;
      }
      struct timespec ts = {0, 10 * 1000000L};
      nanosleep(&ts, NULL);
    }
    if (n->pid) {
      kill(n->pid, SIGKILL);
      waitpid(n->pid, NULL, 0);
      n->pid = 0;
    }
  }
fail:
  test_nginx_stop(n);
  return -1;
}

int test_nginx_start_quiet(test_nginx_t *n) {
  quiet = true;
  int r = test_nginx_start(n, false);
  quiet = false;
  return r;
}

void test_nginx_stop(test_nginx_t *n) {
  if (n->pid > 0) {
    kill(n->pid, SIGTERM);
    waitpid(n->pid, NULL, 0);
    n->pid = 0;
  }
  if (n->dir[0]) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", n->dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", n->dir);
    n->dir[0] = '\0';
  }
}

int test_nginx_count(test_nginx_t *n, const char *uri_prefix, const char *proto,
                     int *conns) {
  FILE *f = fopen(n->log, "r");
  if (!f)
    return -1;
  char line[1024];
  int count = 0, ndist = 0;
  static long seen[65536];
  while (fgets(line, sizeof line, f)) {
    long conn, reqs;
    char pr[32], uri[512];
    int status;
    if (sscanf(line, "%ld %ld %31s %511s %d", &conn, &reqs, pr, uri, &status) != 5)
      continue;
    if (strncmp(uri, uri_prefix, strlen(uri_prefix)) != 0)
      continue;
    if (proto && strcmp(pr, proto) != 0)
      continue;
    count++;
    int known = 0;
    for (int i = 0; i < ndist; i++)
      if (seen[i] == conn) {
        known = 1;
        break;
      }
    if (!known && ndist < 65536)
      seen[ndist++] = conn;
  }
  fclose(f);
  if (conns)
    *conns = ndist;
  return count;
}

int test_nginx_count_wait(test_nginx_t *n, const char *uri_prefix, const char *proto,
                          int *conns, int expect) {
  int c = -1;
  for (int i = 0; i < 500; i++) {
    c = test_nginx_count(n, uri_prefix, proto, conns);
    if (c >= expect)
      break;
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
  return c;
}

char *test_nginx_url(const test_nginx_t *n, const char *path) {
  static char buf[8][256];
  static int i;
  char *b = buf[i++ % 8];
  snprintf(b, sizeof buf[0], "http://127.0.0.1:%d%s", n->port, path);
  return b;
}
