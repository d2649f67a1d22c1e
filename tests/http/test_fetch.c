/* `concur fetch` against a private nginx: a line per URL, files under -o,
 * the exit status. Runs the built command (CONCUR_TOOL). */
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nginx_helper.h"
#include "test.h"

TEST(lines_and_files) {
  setenv("no_proxy", "127.0.0.1,localhost", 1);
  test_nginx_t ngx;
  if (test_nginx_start(&ngx, false) != 0)
    SKIP("nginx (nginx-light) or brotli is not available");
  char dir[] = "/tmp/cc-fetch.XXXXXX";
  ASSERT_NOT_NULL(mkdtemp(dir));
  char cmd[2048];
  int p = ngx.port;
  snprintf(cmd, sizeof cmd,
           "%s fetch --parallel 2 -o %s/out http://127.0.0.1:%d/index.html "
           "http://127.0.0.1:%d/page4k.html http://127.0.0.1:%d/missing "
           "http://127.0.0.1:%d/r2 http://no-such-host.invalid/ 2>/dev/null",
           CONCUR_TOOL, dir, p, p, p, p);
  FILE *f = popen(cmd, "r");
  ASSERT_NOT_NULL(f);
  char out[4096];
  size_t n = fread(out, 1, sizeof out - 1, f);
  out[n] = '\0';
  int st = pclose(f);
  ASSERT_TRUE(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 1); /* one URL did not resolve */
  int lines = 0;
  for (char *c = out; *c; c++)
    lines += *c == '\n';
  ASSERT_EQ(lines, 5);
  char want[256];
  snprintf(want, sizeof want, "200 17 ");
  ASSERT_NOT_NULL(strstr(out, want));
  snprintf(want, sizeof want, "ms http://127.0.0.1:%d/index.html\n", p);
  ASSERT_NOT_NULL(strstr(out, want));
  ASSERT_NOT_NULL(strstr(out, "200 4096 "));
  ASSERT_NOT_NULL(strstr(out, "404 "));
  ASSERT_NOT_NULL(strstr(out, "ERR CC_ERESOLVE "));
  struct stat sb;
  snprintf(want, sizeof want, "%s/out/page4k.html", dir);
  ASSERT_OK(stat(want, &sb));
  ASSERT_EQ(sb.st_size, 4096);
  snprintf(want, sizeof want, "%s/out/index.html", dir);
  ASSERT_OK(stat(want, &sb));
  ASSERT_EQ(sb.st_size, 17);
  snprintf(want, sizeof want, "%s/out/r2", dir); /* named after the URL asked for */
  ASSERT_OK(stat(want, &sb));
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ASSERT_EQ(system(cmd), 0);
  /* Bad arguments. */
  snprintf(cmd, sizeof cmd, "%s fetch 2>/dev/null", CONCUR_TOOL);
  st = system(cmd);
  ASSERT_EQ(WEXITSTATUS(st), 2);
  test_nginx_stop(&ngx);
}

/* The seed scraper example against the same kind of server. */
TEST(seed_scraper) {
  if (strcmp(SEED_SCRAPER, "false") == 0)
    SKIP("examples are not built");
  setenv("no_proxy", "127.0.0.1,localhost", 1);
  test_nginx_t ngx;
  if (test_nginx_start(&ngx, false) != 0)
    SKIP("nginx (nginx-light) or brotli is not available");
  char cmd[1024];
  int p = ngx.port;
  snprintf(cmd, sizeof cmd,
           "%s http://127.0.0.1:%d/index.html http://127.0.0.1:%d/page4k.html "
           "http://127.0.0.1:%d/r3",
           SEED_SCRAPER, p, p, p);
  FILE *f = popen(cmd, "r");
  ASSERT_NOT_NULL(f);
  char out[2048];
  size_t n = fread(out, 1, sizeof out - 1, f);
  out[n] = '\0';
  ASSERT_EQ(pclose(f), 0);
  ASSERT_NOT_NULL(strstr(out, "200     17 bytes"));
  ASSERT_NOT_NULL(strstr(out, "200   4096 bytes"));
  char want[128];
  snprintf(want, sizeof want, "bytes  http://127.0.0.1:%d/index.html\n", p);
  ASSERT_NOT_NULL(strstr(out, want));
  test_nginx_stop(&ngx);
}
