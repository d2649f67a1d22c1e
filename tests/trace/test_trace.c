/* Tracing: CONCUR_TRACE writes a Chrome trace-event file with the expected
 * events (tasks, thread jobs on worker tids, pool chunks on worker pids,
 * HTTP slices, user spans, track names); off, nothing is written; the API
 * starts and stops a trace; `concur trace` draws an SVG that headless
 * Chromium renders to a picture that is not blank. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

/* ---- helpers -------------------------------------------------------------- */

static char tmpdir[256];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/cc-trace-test-XXXXXX");
  if (!mkdtemp(tmpdir))
    CC_TEST_FAIL("mkdtemp: %s", strerror(errno));
}

static void rm_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  char p[1024];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
      continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
      rm_tree(p);
    else
      unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

/* Runs argv with CONCUR_TRACE=trace (unset if NULL), stdout to `out` (if
 * not NULL). Returns the exit status, or -signal. */
static int run(char *const argv[], const char *trace, const char *out) {
  pid_t pid = fork();
  if (pid < 0)
    CC_TEST_FAIL("fork: %s", strerror(errno));
  if (pid == 0) {
    if (trace)
      setenv("CONCUR_TRACE", trace, 1);
    else
      unsetenv("CONCUR_TRACE");
    if (out) {
      int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      close(fd);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static bool exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static long file_size(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static json_t *load(const char *path) {
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  if (!root)
    CC_TEST_FAIL("%s: not JSON: %s (line %d)", path, err.text, err.line);
  json_t *ev = json_object_get(root, "traceEvents");
  if (!json_is_array(ev))
    CC_TEST_FAIL("%s: no traceEvents array", path);
  return root;
}

static const char *sget(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static long long iget(json_t *o, const char *k) {
  return (long long)json_integer_value(json_object_get(o, k));
}

/* The name metadata ("process_name"/"thread_name") for pid/tid, or "". */
static const char *track_name(json_t *evs, const char *what, long long pid,
                              long long tid) {
  size_t i;
  json_t *e;
  json_array_foreach(evs, i, e) {
    if (strcmp(sget(e, "ph"), "M") || strcmp(sget(e, "name"), what))
      continue;
    if (iget(e, "pid") != pid || (tid && iget(e, "tid") != tid))
      continue;
    return sget(json_object_get(e, "args"), "name");
  }
  return "";
}

/* ---- the traced program --------------------------------------------------- */

TEST(env_writes_events) {
  make_tmpdir();
  char trace[512], out[512];
  snprintf(trace, sizeof trace, "%s/t.json", tmpdir);
  snprintf(out, sizeof out, "%s/out.txt", tmpdir);
  char *argv[] = {TRACE_PROG, NULL};
  ASSERT_EQ(run(argv, trace, out), 0);
  ASSERT_TRUE(exists(trace));

  /* The workers' pids, as the program saw them. */
  FILE *f = fopen(out, "r");
  ASSERT_NOT_NULL(f);
  long long wpid[2] = {0, 0};
  ASSERT_EQ(fscanf(f, "workers %lld %lld", &wpid[0], &wpid[1]), 2);
  fclose(f);

  json_t *root = load(trace);
  json_t *evs = json_object_get(root, "traceEvents");
  size_t i;
  json_t *e;
  long long main_pid = 0;
  int sleepers_b = 0, sleepers_e = 0, jobs = 0, chunks = 0, spans = 0, instants = 0;
  int http_client = 0, http_server = 0, http_err = 0;
  long long chunk_items = 0;
  bool item_seen[1000] = {false};
  json_array_foreach(evs, i, e) {
    const char *ph = sget(e, "ph"), *cat = sget(e, "cat"), *name = sget(e, "name");
    ASSERT_TRUE(ph[0]);
    if (strcmp(ph, "M") && !json_is_number(json_object_get(e, "ts")))
      CC_TEST_FAIL("event %zu has no ts", i);
    if (!strcmp(cat, "task") && !strcmp(name, "main") && !strcmp(ph, "b"))
      main_pid = iget(e, "pid");
  }
  ASSERT_GT(main_pid, 0);
  /* Every task slice begins and ends: pair them by id. */
  json_t *open = json_object();
  json_array_foreach(evs, i, e) {
    const char *ph = sget(e, "ph"), *cat = sget(e, "cat"), *name = sget(e, "name");
    json_t *args = json_object_get(e, "args");
    long long pid = iget(e, "pid"), tid = iget(e, "tid");
    if (!strcmp(cat, "task")) {
      const char *id = sget(e, "id");
      ASSERT_TRUE(id[0]);
      ASSERT_EQ(pid, main_pid);
      if (!strcmp(ph, "b")) {
        ASSERT_NULL(json_object_get(open, id));
        json_object_set_new(open, id, json_string(name));
        if (!strcmp(name, "sleeper")) {
          sleepers_b++;
          const char *site = sget(args, "site");
          if (strncmp(site, "trace_prog.c:", 13) != 0)
            CC_TEST_FAIL("spawn site '%s'", site);
        }
      } else {
        ASSERT_EQ(ph[0], 'e');
        json_t *b = json_object_get(open, id);
        if (!b)
          CC_TEST_FAIL("task end %s without a begin", id);
        ASSERT_EQ(strcmp(json_string_value(b), name), 0);
        json_object_del(open, id);
        sleepers_e += !strcmp(name, "sleeper");
      }
    } else if (!strcmp(cat, "job")) {
      ASSERT_EQ(ph[0], 'X');
      ASSERT_EQ(pid, main_pid);
      ASSERT_NE(tid, main_pid); /* on a worker thread */
      const char *tn = track_name(evs, "thread_name", pid, tid);
      if (strncmp(tn, "trprog-", 7) != 0)
        CC_TEST_FAIL("job on thread '%s'", tn);
      ASSERT_TRUE(json_is_number(json_object_get(e, "dur")));
      jobs++;
    } else if (!strcmp(cat, "chunk")) {
      ASSERT_EQ(ph[0], 'X');
      if (pid != wpid[0] && pid != wpid[1])
        CC_TEST_FAIL("chunk in pid %lld, workers %lld %lld", pid, wpid[0], wpid[1]);
      const char *pn = track_name(evs, "process_name", pid, 0);
      if (strncmp(pn, "pool worker", 11) != 0)
        CC_TEST_FAIL("worker process named '%s'", pn);
      long long a, b;
      ASSERT_EQ(sscanf(sget(args, "items"), "%lld-%lld", &a, &b), 2);
      ASSERT_EQ(b - a + 1, iget(args, "n"));
      for (long long k = a; k <= b; k++) {
        ASSERT_TRUE(k >= 0 && k < 1000);
        ASSERT_FALSE(item_seen[k]);
        item_seen[k] = true;
      }
      chunk_items += iget(args, "n");
      chunks++;
    } else if (!strcmp(cat, "user")) {
      if (!strcmp(ph, "i") && !strcmp(name, "sleepers done"))
        instants++;
      if (!strcmp(ph, "b") && !strcmp(name, "phase one"))
        spans++;
    } else if (!strncmp(cat, "http.", 5) && !strcmp(ph, "b")) {
      if (!strcmp(cat, "http.client") && iget(args, "status") == 200) {
        ASSERT_EQ(strcmp(sget(args, "url"), "http://127.0.0.1:9/page?q=\"x\""), 0);
        ASSERT_EQ(strcmp(sget(args, "method"), "GET"), 0);
        ASSERT_EQ(iget(args, "bytes"), 1234);
        http_client++;
      }
      if (!strcmp(cat, "http.client") && iget(args, "status") < 0)
        http_err += !strcmp(sget(args, "error"), "ECONNREFUSED");
      if (!strcmp(cat, "http.server") && iget(args, "status") == 404)
        http_server++;
    }
  }
  ASSERT_EQ(json_object_size(open), 0);
  ASSERT_EQ(sleepers_b, 5);
  ASSERT_EQ(sleepers_e, 5);
  ASSERT_EQ(jobs, 8);
  ASSERT_EQ(chunk_items, 1000);
  ASSERT_GE(chunks, 20);
  ASSERT_EQ(spans, 1);
  ASSERT_EQ(instants, 1);
  ASSERT_EQ(http_client, 1);
  ASSERT_EQ(http_server, 1);
  ASSERT_EQ(http_err, 1);
  ASSERT_EQ(strcmp(track_name(evs, "thread_name", main_pid, main_pid), "") != 0, 1);
  json_decref(open);
  json_decref(root);
  rm_tree(tmpdir);
}

TEST(off_writes_nothing) {
  make_tmpdir();
  char trace[512];
  snprintf(trace, sizeof trace, "%s/t.json", tmpdir);
  char *argv[] = {TRACE_PROG, NULL};
  char devnull[] = "/dev/null";
  ASSERT_EQ(run(argv, NULL, devnull), 0);
  ASSERT_FALSE(exists(trace));
  ASSERT_EQ(run(argv, "", devnull), 0); /* empty: off too */
  DIR *d = opendir(tmpdir);
  ASSERT_NOT_NULL(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    n += de->d_name[0] != '.';
  closedir(d);
  ASSERT_EQ(n, 0);
  ASSERT_FALSE(cc_trace_enabled());
  rm_tree(tmpdir);
}

TEST(sigint_flushes) {
  /* Ctrl-C: cc_run cancels main, every task ends (cancelled), exit()
   * closes the file: complete JSON with every slice ended. */
  make_tmpdir();
  char trace[512];
  snprintf(trace, sizeof trace, "%s/t.json", tmpdir);
  int pfd[2];
  ASSERT_EQ(pipe(pfd), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("CONCUR_TRACE", trace, 1);
    dup2(pfd[1], 1);
    close(pfd[0]);
    close(pfd[1]);
    execl(TRACE_PROG, TRACE_PROG, "wait", (char *)NULL);
    _exit(127);
  }
  close(pfd[1]);
  char buf[16] = "";
  ssize_t n = read(pfd[0], buf, sizeof buf - 1);
  close(pfd[0]);
  ASSERT_GT(n, 0);
  ASSERT_EQ(strncmp(buf, "ready", 5), 0);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  ASSERT_TRUE(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 0);
  json_t *root = load(trace);
  json_t *evs = json_object_get(root, "traceEvents");
  size_t i;
  json_t *e;
  int begun = 0, cancelled = 0;
  json_array_foreach(evs, i, e) {
    if (strcmp(sget(e, "name"), "long_sleeper"))
      continue;
    begun += !strcmp(sget(e, "ph"), "b");
    cancelled += !strcmp(sget(e, "ph"), "e") &&
                 !strcmp(sget(json_object_get(e, "args"), "error"), "ECANCELED");
  }
  ASSERT_EQ(begun, 50);
  ASSERT_EQ(cancelled, 50);
  json_decref(root);
  rm_tree(tmpdir);
}

TEST(http_slices) {
  /* The HTTP hooks: concur's client and server, both sides traced. */
  make_tmpdir();
  char trace[512];
  snprintf(trace, sizeof trace, "%s/t.json", tmpdir);
  char *argv[] = {TRACE_PROG, "http", NULL};
  char devnull[] = "/dev/null";
  ASSERT_EQ(run(argv, trace, devnull), 0);
  json_t *root = load(trace);
  json_t *evs = json_object_get(root, "traceEvents");
  size_t i;
  json_t *e;
  int client200 = 0, client404 = 0, server200 = 0, server404 = 0, ends = 0;
  json_array_foreach(evs, i, e) {
    const char *cat = sget(e, "cat"), *ph = sget(e, "ph");
    if (strncmp(cat, "http.", 5) != 0)
      continue;
    if (!strcmp(ph, "e")) {
      ends++;
      continue;
    }
    json_t *args = json_object_get(e, "args");
    const char *url = sget(args, "url");
    long long st = iget(args, "status");
    ASSERT_EQ(strcmp(sget(args, "method"), "GET"), 0);
    if (!strcmp(cat, "http.client")) {
      ASSERT_EQ(strncmp(url, "http://127.0.0.1:", 17), 0);
      client200 += st == 200 && strstr(url, "/hello") && iget(args, "bytes") == 2;
      client404 += st == 404 && strstr(url, "/missing") != NULL;
    } else {
      ASSERT_EQ(strcmp(cat, "http.server"), 0);
      server200 += st == 200 && !strcmp(url, "/hello");
      server404 += st == 404 && !strcmp(url, "/missing");
    }
  }
  ASSERT_EQ(client200, 1);
  ASSERT_EQ(client404, 1);
  ASSERT_EQ(server200, 1);
  ASSERT_EQ(server404, 1);
  ASSERT_EQ(ends, 4);
  json_decref(root);
  rm_tree(tmpdir);
}

/* ---- the public API, in process -------------------------------------------- */

static intptr_t spans_main(void *arg) {
  cc_trace_span_t outer, inner;
  cc_trace_span_begin(&outer, "outer");
  for (int i = 0; i < 3; i++) {
    cc_trace_span_begin(&inner, "inner");
    cc_sleep(1);
    cc_trace_span_end(&inner);
  }
  cc_trace_span_end(&outer);
  return 0;
}

TEST(api_start_stop) {
  make_tmpdir();
  char pattern[512], path[512];
  snprintf(pattern, sizeof pattern, "%s/api-%%p.json", tmpdir);
  snprintf(path, sizeof path, "%s/api-%d.json", tmpdir, (int)getpid());
  ASSERT_FALSE(cc_trace_enabled());
  ASSERT_ERR(cc_trace_stop(), -EALREADY);
  ASSERT_ERR(cc_trace_start(NULL), -EINVAL);
  ASSERT_ERR(cc_trace_start(""), -EINVAL);
  ASSERT_ERR(cc_trace_start("/nonexistent-dir/x.json"), -ENOENT);
  ASSERT_EQ(cc_trace_start(pattern), 0);
  ASSERT_TRUE(cc_trace_enabled());
  ASSERT_ERR(cc_trace_start(pattern), -EALREADY);
  ASSERT_EQ(cc_run(spans_main, NULL, NULL), 0);
  cc_trace_instant("outside a loop");
  ASSERT_EQ(cc_trace_stop(), 0);
  ASSERT_FALSE(cc_trace_enabled());
  ASSERT_ERR(cc_trace_stop(), -EALREADY);
  /* Off: spans and instants write nothing. */
  cc_trace_span_t s;
  cc_trace_span_begin(&s, "ignored");
  cc_trace_span_end(&s);
  cc_trace_instant("ignored");

  json_t *root = load(path);
  json_t *evs = json_object_get(root, "traceEvents");
  size_t i;
  json_t *e;
  int inner = 0, outer = 0, instant = 0, ignored = 0;
  double outer_b = 0, outer_e = 0, inner_min = 1e300, inner_max = 0;
  json_t *b_ts = json_object();
  json_array_foreach(evs, i, e) {
    const char *ph = sget(e, "ph"), *name = sget(e, "name");
    double ts = json_number_value(json_object_get(e, "ts"));
    ignored += !strcmp(name, "ignored");
    if (!strcmp(sget(e, "cat"), "user") && !strcmp(ph, "i"))
      instant++;
    if (strcmp(sget(e, "cat"), "user") || (strcmp(ph, "b") && strcmp(ph, "e")))
      continue;
    if (!strcmp(name, "outer")) {
      outer++;
      *(ph[0] == 'b' ? &outer_b : &outer_e) = ts;
    } else if (!strcmp(name, "inner")) {
      inner++;
      inner_min = ts < inner_min ? ts : inner_min;
      inner_max = ts > inner_max ? ts : inner_max;
    }
  }
  ASSERT_EQ(outer, 2);
  ASSERT_EQ(inner, 6);
  ASSERT_EQ(instant, 1);
  ASSERT_EQ(ignored, 0);
  ASSERT_TRUE(outer_b <= inner_min && inner_max <= outer_e);
  ASSERT_TRUE(outer_e - outer_b >= 3000.0); /* three 1 ms sleeps, in µs */
  json_decref(b_ts);
  json_decref(root);
  /* A second trace in the same process starts afresh. */
  snprintf(path, sizeof path, "%s/again.json", tmpdir);
  ASSERT_EQ(cc_trace_start(path), 0);
  cc_trace_instant("second");
  ASSERT_EQ(cc_trace_stop(), 0);
  root = load(path);
  evs = json_object_get(root, "traceEvents");
  int second = 0, old = 0;
  json_array_foreach(evs, i, e) {
    second += !strcmp(sget(e, "name"), "second");
    old += !strcmp(sget(e, "name"), "inner");
  }
  ASSERT_EQ(second, 1);
  ASSERT_EQ(old, 0);
  json_decref(root);
  rm_tree(tmpdir);
}

/* ---- concur trace: the SVG ---------------------------------------------------- */

static void record(const char *trace, const char *many) {
  char *argv[] = {TRACE_PROG, "many", (char *)many, NULL};
  char devnull[] = "/dev/null";
  ASSERT_EQ(run(argv, trace, devnull), 0);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    CC_TEST_FAIL("%s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  ASSERT_EQ(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = 0;
  fclose(f);
  *len = (size_t)n;
  return s;
}

TEST(svg_lanes) {
  make_tmpdir();
  char trace[512], svg[512];
  snprintf(trace, sizeof trace, "%s/t.json", tmpdir);
  snprintf(svg, sizeof svg, "%s/t.svg", tmpdir);
  record(trace, "0");
  char *argv[] = {TRACE_TOOL, "trace", trace, "-o", svg, NULL};
  long before = file_size(trace);
  /* CONCUR_TRACE is read at first use of the runtime, which the drawing
   * never makes: its own input is not truncated. */
  ASSERT_EQ(run(argv, trace, NULL), 0);
  ASSERT_EQ(file_size(trace), before);
  size_t len;
  char *s = slurp(svg, &len);
  ASSERT_TRUE(strstr(s, "<svg") != NULL);
  ASSERT_TRUE(strstr(s, "</svg>") != NULL);
  ASSERT_TRUE(strstr(s, "pool worker") != NULL); /* a worker process's lane */
  ASSERT_TRUE(strstr(s, "trprog-") != NULL);     /* a worker thread's lane */
  ASSERT_TRUE(strstr(s, "thread job") != NULL);  /* the legend */
  ASSERT_TRUE(strstr(s, "http client") != NULL);
  ASSERT_TRUE(strstr(s, "sleeper") != NULL); /* a span's title */
  free(s);
  /* Bad input fails cleanly. */
  char *bad[] = {TRACE_TOOL, "trace", svg, "-o", trace, NULL};
  ASSERT_NE(run(bad, NULL, NULL), 0);
  char *missing[] = {TRACE_TOOL, "trace", "/nonexistent.json", NULL};
  ASSERT_NE(run(missing, NULL, NULL), 0);
  rm_tree(tmpdir);
}

TEST(svg_stays_small) {
  /* 100k tiny tasks: 200k events. The picture merges what is too small to
   * see and stays under 5 MB. */
  make_tmpdir();
  char trace[512], svg[512];
  snprintf(trace, sizeof trace, "%s/t.json", tmpdir);
  snprintf(svg, sizeof svg, "%s/t.svg", tmpdir);
  bool tsan = cc_test_tsan(); /* 100k tasks take minutes under TSan */
  record(trace, tsan ? "20000" : "100000");
  ASSERT_GT(file_size(trace), tsan ? 3L * 1000 * 1000 : 15L * 1000 * 1000);
  char *argv[] = {TRACE_TOOL, "trace", trace, "-o", svg, NULL};
  ASSERT_EQ(run(argv, NULL, NULL), 0);
  long n = file_size(svg);
  ASSERT_GT(n, 1000);
  ASSERT_LT(n, 5L * 1000 * 1000);
  rm_tree(tmpdir);
}

static bool have(const char *prog) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
  return system(cmd) == 0;
}

TEST(svg_renders_in_chromium) {
  const char *browser = have("chromium")           ? "chromium"
                        : have("chromium-browser") ? "chromium-browser"
                                                   : NULL;
  if (!browser) {
    fprintf(stderr, "skip: chromium is not installed (apt-get install chromium)\n");
    exit(77);
  }
  if (!have("python3")) {
    fprintf(stderr, "skip: python3 is needed to decode the PNG\n");
    exit(77);
  }
  make_tmpdir();
  char trace[512], svg[512], png[512], prof[512];
  snprintf(trace, sizeof trace, "%s/t.json", tmpdir);
  snprintf(svg, sizeof svg, "%s/timeline.svg", tmpdir);
  snprintf(png, sizeof png, "%s/timeline.png", tmpdir);
  snprintf(prof, sizeof prof, "%s/profile", tmpdir);
  record(trace, "2000");
  char *argv[] = {TRACE_TOOL, "trace", trace, "-o", svg, NULL};
  ASSERT_EQ(run(argv, NULL, NULL), 0);
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "timeout 90 %s --headless --no-sandbox --disable-gpu --no-first-run "
           "--disable-background-networking --disable-component-update --disable-sync "
           "--user-data-dir=%s --screenshot=%s --window-size=1200,800 file://%s "
           ">%s/chromium.log 2>&1",
           browser, prof, png, svg, tmpdir);
  int rc = system(cmd);
  if (!exists(png)) {
    snprintf(cmd, sizeof cmd, "cat %s/chromium.log >&2", tmpdir);
    (void)!system(cmd);
    CC_TEST_FAIL("chromium wrote no screenshot (exit %d)", rc);
  }
  const char *keep = getenv("CC_TRACE_KEEP_PNG"); /* to look at it */
  if (keep && keep[0]) {
    snprintf(cmd, sizeof cmd, "cp %s %s.png; cp %s %s.svg", png, keep, svg, keep);
    (void)!system(cmd);
  }
  snprintf(cmd, sizeof cmd, "python3 %s %s", CHECK_PNG, png);
  ASSERT_EQ(system(cmd), 0);
  rm_tree(tmpdir);
}
