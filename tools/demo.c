/* concur demo (`make demo`): the showcase, in words a newcomer follows.
 *
 *   1. the asyncio example of the seed articles, as C coroutines;
 *   2. 100,000 sleeping coroutines, and Python's asyncio doing the same;
 *   3. spawning and joining a million tasks (Python: a tenth of that);
 *   4. word counting over the Python documentation in the process pool,
 *      and multiprocessing.Pool doing it the seed articles' way;
 *   5. the three jobs at once: `concur serve` serves the documentation on
 *      loopback, `concur crawl --mine` scrapes it and counts its words on
 *      every core, with a trace (CONCUR_TRACE) and its timeline picture;
 *   6. what to try next.
 * Python figures are measured in the same run where Python takes a few
 * seconds; the seed-style Python crawler (~46 s here) is not run. */
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
#include <unistd.h>

#include "cmd.h"

#define DOCS "/usr/share/doc/python3-doc/html"

/* ---- the asyncio examples of the seed articles ------------------------------ */

static intptr_t execute_task(void *arg) {
  printf("  Executing task %s\n", (const char *)arg);
  int r = cc_sleep(100); /* await asyncio.sleep(...) */
  printf("  Finished task %s\n", (const char *)arg);
  return r < 0 ? r : (intptr_t)strlen(arg);
}

static intptr_t seed_main(void *arg) {
  (void)arg;
  /* task1 = asyncio.create_task(execute_task("task1")); ... gather */
  cc_task_t *t[2];
  int r;
  if ((r = cc_spawn(&t[0], execute_task, "task1")) < 0 ||
      (r = cc_spawn(&t[1], execute_task, "task2")) < 0)
    return r;
  intptr_t res[2];
  int64_t t0 = cc_now();
  r = cc_gather(t, 2, res);
  printf("  gather -> [%ld, %ld] in %ld ms: the two 100 ms sleeps overlapped\n",
         (long)res[0], (long)res[1], (long)(cc_now() - t0));
  return r;
}

/* Runs another subcommand as `concur <argv...>` would. */
static int sub(char **argv) {
  int argc = 0;
  while (argv[argc])
    argc++;
  return concur_find_cmd(argv[0])->main(argc, argv);
}

/* Runs a Python snippet and prints its one-line answer after `label`. */
static void python(const char *label, const char *code) {
  char cmd[4096];
  /* Debian's python3 when there is one (a pyenv shim may come first in PATH) */
  snprintf(cmd, sizeof cmd, "%s -c '%s' 2>/dev/null",
           access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3", code);
  fflush(stdout);
  FILE *p = popen(cmd, "r");
  char line[512] = "";
  if (!p || !fgets(line, sizeof line, p))
    snprintf(line, sizeof line, "(python3 did not run)\n");
  if (p)
    pclose(p);
  printf("  %s %s", label, line);
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

static bool port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  if (fd >= 0)
    close(fd);
  return ok;
}

/* Part 5: serve, crawl and mine; returns 0 or 1. */
static int crawl_part(void) {
  if (access(DOCS "/index.html", R_OK) != 0) {
    printf("  (skipped: install python3-doc for %s)\n", DOCS);
    return 0;
  }
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  char dir[256], trace[300], svg[300];
  snprintf(dir, sizeof dir, "%s/concur-demo-%d", tmp, (int)getuid());
  mkdir(dir, 0700);
  snprintf(trace, sizeof trace, "%s/crawl-trace.json", dir);
  snprintf(svg, sizeof svg, "%s/timeline.svg", dir);
  int port = free_port();
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  fflush(stdout);
  pid_t srv = fork();
  if (srv == 0) {
    int nul = open("/dev/null", O_WRONLY);
    dup2(nul, 1);
    dup2(nul, 2);
    execl("/proc/self/exe", "concur", "serve", DOCS, "--port", ps, "--threads", "1",
          (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200 && !port_open(port); i++)
    usleep(10 * 1000);
  printf("  concur serve %s --port %d   (a web server in the background, pid %d)\n", DOCS,
         port, (int)srv);
  char cmd[2048];
  printf("  concur crawl http://127.0.0.1:%d/index.html --mine\n", port);
  fflush(stdout);
  /* /proc/self/exe inside popen's shell is the shell: resolve ours first */
  char self[512];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  self[sl > 0 ? sl : 0] = 0;
  snprintf(cmd, sizeof cmd,
           "CONCUR_TRACE='%s' '%s' crawl http://127.0.0.1:%d/index.html --mine -q", trace,
           self, port);
  FILE *p = popen(cmd, "r");
  char line[1024], pages[1024] = "", total[1024] = "", top[1024] = "", errs[1024] = "";
  while (p && fgets(line, sizeof line, p)) {
    if (strstr(line, " pages in ") && !*pages)
      snprintf(pages, sizeof pages, "%s", line);
    else if (strncmp(line, "total:", 6) == 0)
      snprintf(total, sizeof total, "%s", line + 7);
    else if (strncmp(line, "top10:", 6) == 0)
      snprintf(top, sizeof top, "%s", line + 7);
    else if (strncmp(line, "errors:", 7) == 0)
      snprintf(errs, sizeof errs, "%s", line + 8);
  }
  int st = p ? pclose(p) : -1;
  kill(srv, SIGTERM);
  waitpid(srv, NULL, 0);
  printf("  (server stopped)\n\n");
  if (st != 0 || !*pages) {
    printf("  the crawl failed (status %d)\n", st);
    return 1;
  }
  printf(
      "  What happened: the crawler started at index.html, followed every link of the\n"
      "  site breadth-first with 32 requests in flight, fetched each page once, and\n"
      "  handed every page to 2 worker processes that counted its words meanwhile.\n");
  printf("    crawl:   %s", pages);
  printf("    errors:  %s", errs);
  printf(
      "             (the documentation links to whatsnew/changelog.html, which Debian\n"
      "              does not ship: a 404, as every crawler finds)\n");
  printf("    overall: %s", total);
  printf("    words:   %s", top);
  printf(
      "    Python, the seed articles' way (aiohttp + BeautifulSoup + "
      "multiprocessing.Pool)\n"
      "    takes about 46 s for the same crawl on this machine, too long to run here;\n"
      "    bench/w9_crawl runs it with BENCH_FULL=1.\n");
  printf("\n  The trace of the crawl, written because CONCUR_TRACE was set:\n    %s\n"
         "  every task, HTTP request and pool chunk with its start and end; open it in\n"
         "  https://ui.perfetto.dev or chrome://tracing.\n",
         trace);
  if (concur_find_cmd("trace")) {
    snprintf(cmd, sizeof cmd, "'%s' trace '%s' -o '%s' >/dev/null 2>&1", self, trace,
             svg);
    if (system(cmd) == 0)
      printf("  Its timeline picture, drawn offline by `concur trace FILE -o "
             "timeline.svg`:\n"
             "    %s\n"
             "  open it in a browser: a lane per thread and worker process, what ran "
             "when.\n",
             svg);
  }
  return 0;
}

static int demo_main(int argc, char **argv) {
  if (argc > 1)
    return concur_usage_error(argv[0], "unexpected argument '%s'", argv[1]);
  int rc = 0;
  printf("concur %s demo: Python's concurrency toolkit, in C\n\n", cc_version_string());

  printf(
      "1. The asyncio example of the seed articles, as C coroutines.\n"
      "   Two tasks each sleep 100 ms; gather waits for both. They run on one thread,\n"
      "   taking turns while the other sleeps, so together they take 100 ms, not 200:\n");
  rc |= concur_run("demo", seed_main, NULL, 0);

  printf("\n2. Massive concurrency: 100,000 coroutines each sleep 1 s at the same time.\n"
         "   The wall time stays near 1 s because they all wait together; the memory is\n"
         "   what 100,000 small stacks cost:\n");
  rc |= sub((char *[]){"sleepers", "100000", NULL}) != 0;
  python("Python asyncio, the same 100,000 sleepers:",
         "import asyncio,time\n"
         "async def m():\n"
         " t=time.perf_counter(); await asyncio.gather(*(asyncio.sleep(1) for _ in "
         "range(100000))); print(f\"{time.perf_counter()-t:.3f} s wall\")\n"
         "asyncio.run(m())");

  printf(
      "\n3. Spawning: a million tasks started and joined, one after another; the figure\n"
      "   is the cost of one task (create, run, finish, join):\n");
  rc |= sub((char *[]){"spawn", "1000000", NULL}) != 0;
  python("Python asyncio, 100,000 tasks (a tenth, to keep it short):",
         "import asyncio,time\n"
         "async def f(): return 1\n"
         "async def m():\n"
         " t=time.perf_counter(); s=0\n"
         " for _ in range(100000): s+=await asyncio.create_task(f())\n"
         " d=time.perf_counter()-t; print(f\"{d:.3f} s ({d/1e5*1e9:.0f} ns per task)\")\n"
         "asyncio.run(m())");

  printf("\n4. Data mining on every core: the words of the 530 HTML files of the Python\n"
         "   documentation, counted by a pool of worker processes "
         "(multiprocessing.Pool):\n");
  rc |= sub((char *[]){"mine", NULL}) != 0;
  python("Python multiprocessing.Pool, the same count the seed articles' way:",
         "import collections,glob,multiprocessing,re,time\n"
         "def c(p):\n"
         " t=re.sub(r\"<[^>]*>|&[^; <]*;?\",\" "
         "\",open(p,encoding=\"utf-8\",errors=\"replace\")."
         "read())\n"
         " return collections.Counter(w.lower() for w in re.findall(r\"[A-Za-z]+\",t))\n"
         "if __name__==\"__main__\":\n"
         " t=time.perf_counter(); tot=collections.Counter()\n"
         " with multiprocessing.Pool() as p:\n"
         "  for x in p.imap_unordered(c,glob.glob(\"" DOCS
         "/**/*.html\",recursive=True),8): "
         "tot.update(x)\n"
         " print(f\"{time.perf_counter()-t:.3f} s, top: \"+\",\".join(w for w,_ in "
         "tot.most_common(5)))");

  printf(
      "\n5. The three jobs at once: serve the documentation on loopback, crawl it, and\n"
      "   count its words on every core.\n");
  rc |= crawl_part();

  printf("\nWhat to try next:\n"
         "  concur crawl https://docs.python.org/3/ --max-pages 50 --out pages.jsonl\n"
         "                                  a real site, politely (robots.txt, retries)\n"
         "  concur serve DIR --port 8000    any directory over HTTP (python -m "
         "http.server)\n"
         "  concur fetch URL...             many downloads at once (curl --parallel)\n"
         "  concur COMMAND --help           every option; docs/ has a page per module\n"
         "  examples/                       small C programs for each part of the API\n");
  printf("\n%s\n", rc ? "demo finished with errors" : "demo finished");
  return rc;
}

const concur_cmd_t concur_cmd_demo = {
    .name = "demo",
    .args = "",
    .summary = "the showcase: everything below, in order, explained",
    .help = "Runs the asyncio example of the seed articles (two tasks gathered), then\n"
            "`sleepers 100000`, `spawn 1000000`, `mine` and a crawl of the Python\n"
            "documentation (python3-doc) served by `concur serve` on loopback, with a\n"
            "trace and its timeline; beside each figure, Python doing the same where it\n"
            "takes a few seconds. `make demo` runs it.\n",
    .main = demo_main,
};
