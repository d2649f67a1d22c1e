/* The `concur serve` command (tools/serve.c) from outside: it prints its
 * URL, serves a directory, writes the access log, stops cleanly on SIGINT;
 * and a real browser (headless Chromium) renders a page with CSS, JS and an
 * image from it, every sub-resource showing in the access log. */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include "http_test.h"

static char dir[64], logpath[128], tool[4096];

/* build/<preset>/tests/http/<exe> -> build/<preset>/tools/concur */
static void find_tool(void) {
  char self[3000];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  self[n] = 0;
  *strrchr(self, '/') = 0;
  snprintf(tool, sizeof tool, "%s/../../tools/concur", self);
  if (access(tool, X_OK) != 0)
    SKIP("the concur command is not built (%s)", tool);
}

static void put(const char *name, const void *data, size_t n) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  ASSERT_NOT_NULL(f);
  ASSERT_EQ(fwrite(data, 1, n, f), n);
  fclose(f);
}

static void make_site(void) {
  strcpy(dir, "/tmp/cc_serve_XXXXXX");
  ASSERT_NOT_NULL(mkdtemp(dir));
  chmod(dir, 0755);
  snprintf(logpath, sizeof logpath, "%s.log", dir);
  const char *html =
      "<!doctype html><html><head><title>concur page</title>"
      "<link rel=\"stylesheet\" href=\"style.css\">"
      "<script src=\"app.js\"></script></head>"
      "<body><h1 id=\"title\">Static</h1><img id=\"pic\" src=\"img/dot.png\">"
      "</body></html>";
  put("index.html", html, strlen(html));
  const char *css = "h1 { color: rgb(1, 2, 3); }";
  put("style.css", css, strlen(css));
  const char *js =
      "document.addEventListener('DOMContentLoaded', function () {"
      "  var p = document.createElement('p'); p.id = 'js-ran';"
      "  p.textContent = 'color=' + "
      "getComputedStyle(document.getElementById('title')).color;"
      "  document.body.appendChild(p);"
      "  var img = document.getElementById('pic');"
      "  var done = function () { var q = document.createElement('p'); q.id = 'img-' +"
      "    (img.naturalWidth > 0 ? 'ok' : 'bad'); document.body.appendChild(q); };"
      "  if (img.complete) done(); else img.onload = img.onerror = done;"
      "});";
  put("app.js", js, strlen(js));
  static const unsigned char png[] = {
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
      0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
      0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
      0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99,
      0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
  char p[256];
  snprintf(p, sizeof p, "%s/img", dir);
  mkdir(p, 0755);
  put("img/dot.png", png, sizeof png);
}

static void remove_site(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, logpath);
  ASSERT_EQ(system(cmd), 0);
}

/* Starts `concur serve dir --port 0 --threads T --access-log L`; returns
 * the pid and the port it printed. */
static pid_t start_serve(int *port, const char *threads) {
  int pfd[2];
  ASSERT_EQ(pipe(pfd), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(pfd[1], 1);
    close(pfd[0]);
    close(pfd[1]);
    execl(tool, "concur", "serve", dir, "--port", "0", "--threads", threads,
          "--access-log", logpath, (char *)NULL);
    _exit(127);
  }
  close(pfd[1]);
  char line[512];
  size_t n = 0;
  while (n < sizeof line - 1 && read(pfd[0], line + n, 1) == 1 && line[n] != '\n')
    n++;
  line[n] = 0;
  close(pfd[0]);
  const char *u = strstr(line, "http://127.0.0.1:");
  if (!u)
    CC_TEST_FAIL("no URL printed: '%s'", line);
  *port = atoi(u + 17);
  ASSERT_GT(*port, 0);
  return pid;
}

static void stop_serve(pid_t pid) {
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int st;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 0);
}

static char *slurp(const char *path) {
  static char buf[65536];
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return NULL;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  return buf;
}

TEST(serve_command) {
  find_tool();
  make_site();
  int port;
  pid_t pid = start_serve(&port, "2");
  char buf[8192];
  ASSERT_EQ(tget(port, "/", buf, sizeof buf), 200);
  ASSERT_NOT_NULL(strstr(buf, "<title>concur page</title>"));
  ASSERT_EQ(tget(port, "/style.css", buf, sizeof buf), 200);
  ASSERT_EQ(tget(port, "/nope.css", buf, sizeof buf), 404);
  ASSERT_EQ(tget(port, "/../etc/passwd", buf, sizeof buf), 404);
  stop_serve(pid);
  char *log = slurp(logpath);
  ASSERT_NOT_NULL(log);
  ASSERT_NOT_NULL(strstr(log, "\"GET / HTTP/1.1\" 200 "));
  ASSERT_NOT_NULL(strstr(log, "\"GET /style.css HTTP/1.1\" 200 27\n"));
  ASSERT_NOT_NULL(strstr(log, "\"GET /nope.css HTTP/1.1\" 404 "));
  remove_site();
}

TEST(chromium_page) {
  find_tool();
  const char *browser = NULL;
  if (thave("chromium"))
    browser = "chromium";
  else if (thave("chromium-browser"))
    browser = "chromium-browser";
  if (!browser)
    SKIP("chromium is not installed (apt-get install chromium)");
  make_site();
  int port;
  pid_t pid = start_serve(&port, "1");
  char profile[] = "/tmp/cc_chromium_XXXXXX";
  ASSERT_NOT_NULL(mkdtemp(profile));
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "timeout 90 %s --headless --no-sandbox --disable-gpu --no-first-run "
           "--disable-background-networking --disable-component-update --disable-sync "
           "--disable-dev-shm-usage --user-data-dir=%s --virtual-time-budget=5000 "
           "--dump-dom http://127.0.0.1:%d/ 2>/dev/null",
           browser, profile, port);
  static char dom[65536];
  int rc = trun(cmd, dom, sizeof dom);
  stop_serve(pid);
  snprintf(cmd, sizeof cmd, "rm -rf %s", profile);
  ASSERT_EQ(system(cmd), 0);
  if (rc != 0 && !dom[0])
    SKIP("chromium could not run here (exit %d)", rc);
  if (!strstr(dom, "id=\"js-ran\""))
    CC_TEST_FAIL("the script did not run; DOM: %s", dom);
  ASSERT_NOT_NULL(strstr(dom, "color=rgb(1, 2, 3)")); /* the stylesheet applied */
  ASSERT_NOT_NULL(strstr(dom, "id=\"img-ok\""));      /* the image loaded */
  char *log = slurp(logpath);
  ASSERT_NOT_NULL(log);
  ASSERT_NOT_NULL(strstr(log, "\"GET / HTTP/1.1\" 200"));
  ASSERT_NOT_NULL(strstr(log, "\"GET /style.css HTTP/1.1\" 200"));
  ASSERT_NOT_NULL(strstr(log, "\"GET /app.js HTTP/1.1\" 200"));
  ASSERT_NOT_NULL(strstr(log, "\"GET /img/dot.png HTTP/1.1\" 200"));
  remove_site();
}
