/* concur::mpi: each case runs the SPMD program mpi_cases under
 * `mpirun --oversubscribe -n 4` (environment set for running as root and
 * without ptrace-based single copy), checks its exit status and output, and
 * then checks that no process of the job is left: every process of it
 * (mpirun, the ranks, their local pool workers, the remote daemon) carries
 * a token in its environment, and none may remain. The harness then checks
 * this process's own fds and children. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static char token[64];

static void job_env(void) {
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
  setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
  /* mpirun stops a failed job with SIGTERM, then SIGKILL after this many
   * seconds (default 1): on a loaded machine rank 0 may not have run its
   * SIGTERM handler (the note of what was done) within one second. */
  setenv("OMPI_MCA_odls_base_sigkill_timeout", "5", 1);
  /* Open MPI's own allocations are never freed: LeakSanitizer would fail
   * every rank at exit. */
  setenv("ASAN_OPTIONS", "detect_leaks=0", 0);
  snprintf(token, sizeof token, "%d-%ld", (int)getpid(), (long)time(NULL));
  setenv("CC_MPI_TEST_TOKEN", token, 1);
}

/* Pids of live (not zombie) processes whose environment holds our token. */
static int job_processes(pid_t *pids, int cap) {
  char want[96];
  int n = snprintf(want, sizeof want, "CC_MPI_TEST_TOKEN=%s", token) + 1, found = 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d))) {
    pid_t pid = (pid_t)atoi(e->d_name);
    if (pid <= 0 || pid == getpid())
      continue;
    char path[64], buf[16384];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (k <= 0)
      continue;
    buf[k] = 0;
    char *rp = strrchr(buf, ')');
    if (rp && rp[1] == ' ' && rp[2] == 'Z')
      continue;
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
      continue;
    k = read(fd, buf, sizeof buf);
    close(fd);
    for (ssize_t i = 0; i + n - 1 <= k; i += (ssize_t)strlen(buf + i) + 1)
      if (memcmp(buf + i, want, (size_t)n - 1) == 0) {
        if (found < cap)
          pids[found] = pid;
        found++;
        break;
      }
  }
  if (d)
    closedir(d);
  return found;
}

/* Every process of the job is gone within a few seconds (local pool workers
 * die of PR_SET_PDEATHSIG a moment after their rank). Kills stragglers. */
static void assert_no_job_left(void) {
  pid_t pids[64];
  int n = 0;
  for (int i = 0; i < 50; i++) {
    if ((n = job_processes(pids, 64)) == 0)
      return;
    usleep(100000);
  }
  for (int i = 0; i < n && i < 64; i++) {
    fprintf(stderr, "left behind: pid %d\n", (int)pids[i]);
    kill(pids[i], SIGKILL);
  }
  CC_TEST_FAIL("%d process(es) of the MPI job left behind", n);
}

/* Runs argv (NULL-terminated) with stdout+stderr into out; returns the wait
 * status. Killed with its process group after `secs`. */
static int run(char *const argv[], char *out, size_t cap, int secs) {
  int pfd[2];
  ASSERT_EQ(pipe2(pfd, O_CLOEXEC), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setpgid(0, 0);
    dup2(pfd[1], 1);
    dup2(pfd[1], 2);
    int nul = open("/dev/null", O_RDONLY);
    dup2(nul, 0);
    execvp(argv[0], argv);
    _exit(127);
  }
  setpgid(pid, pid);
  close(pfd[1]);
  size_t len = 0;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  bool killed = false;
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    long left = secs * 1000L -
                ((t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000);
    if (left <= 0 && !killed) {
      fprintf(stderr, "%s: still running after %d s: killed\n", argv[0], secs);
      kill(-pid, SIGKILL);
      pid_t p[64];
      int n = job_processes(p, 64);
      for (int i = 0; i < n && i < 64; i++)
        kill(p[i], SIGKILL);
      killed = true;
    }
    struct pollfd pf = {pfd[0], POLLIN, 0};
    if (poll(&pf, 1, left > 0 ? (int)left : 1000) <= 0)
      continue;
    char tmp[4096];
    ssize_t k = read(pfd[0], tmp, sizeof tmp);
    if (k <= 0)
      break;
    size_t take = (size_t)k < cap - 1 - len ? (size_t)k : cap - 1 - len;
    memcpy(out + len, tmp, take);
    len += take;
  }
  out[len] = 0;
  close(pfd[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (killed)
    CC_TEST_FAIL("%s timed out; output:\n%s", argv[0], out);
  return st;
}

static char out[1 << 16];

/* mpirun -n np mpi_cases <case> [a1] [a2]; expects exit 0 and "OK <case>". */
static void run_case(int np, const char *c, const char *a1, const char *a2) {
  job_env();
  char nps[16];
  snprintf(nps, sizeof nps, "%d", np);
  char *argv[] = {MPIEXEC,   "--oversubscribe", "-n",       nps, MPI_CASES,
                  (char *)c, (char *)a1,        (char *)a2, NULL};
  int st = run(argv, out, sizeof out, 25);
  char want[64];
  snprintf(want, sizeof want, "OK %s", c);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !strstr(out, want))
    CC_TEST_FAIL("case %s: status 0x%x, output:\n%s", c, st, out);
  fputs(out, stderr);
  assert_no_job_left();
}

TEST(million) {
  run_case(4, "million", NULL, NULL);
  ASSERT_NOT_NULL(strstr(out, "ranks=4"));
}

TEST(errors) {
  run_case(4, "errors", NULL, NULL);
}

TEST(init_fail) {
  run_case(4, "init_fail", NULL, NULL);
}

TEST(uneven) {
  run_case(4, "uneven", NULL, NULL);
}

TEST(zero_one) {
  run_case(4, "zero_one", NULL, NULL);
}

TEST(imap) {
  run_case(4, "imap", NULL, NULL);
}

TEST(big_records) {
  run_case(4, "big", NULL, NULL);
}

TEST(threads) {
  run_case(4, "threads", NULL, NULL);
}

TEST(deadline) {
  run_case(4, "deadline", NULL, NULL);
}

TEST(two_ranks) {
  run_case(2, "uneven", NULL, NULL);
}

/* Without mpirun: a job of one rank, every item in its own local pool. */
TEST(singleton) {
  job_env();
  char *argv[] = {MPI_CASES, "million", NULL};
  int st = run(argv, out, sizeof out, 25);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !strstr(out, "OK million"))
    CC_TEST_FAIL("status 0x%x, output:\n%s", st, out);
  ASSERT_NOT_NULL(strstr(out, "ranks=1"));
  assert_no_job_left();
}

/* A rank dies: mpirun takes the job down, rank 0 says what was done and
 * where it is; the rerun with the checkpoint skips it. */
TEST(killed_rank) {
  job_env();
  char ck[128];
  snprintf(ck, sizeof ck, "/tmp/cc_mpi_ck_%d", (int)getpid());
  unlink(ck);
  char *argv[] = {MPIEXEC, "--oversubscribe", "-n", "4", MPI_CASES, "kill", ck, NULL};
  int st = run(argv, out, sizeof out, 25);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
    CC_TEST_FAIL("the job survived a killed rank:\n%s", out);
  fputs(out, stderr);
  if (!strstr(out, "job stopped during map #0") || !strstr(out, "saved in checkpoint") ||
      !strstr(out, "rerun with --resume"))
    CC_TEST_FAIL("no note of what was done:\n%s", out);
  assert_no_job_left();
  struct stat sb;
  ASSERT_EQ(stat(ck, &sb), 0);
  ASSERT_GT(sb.st_size, 8);

  char *again[] = {MPIEXEC, "--oversubscribe", "-n", "4", MPI_CASES, "kill",
                   ck,      "resume",          NULL};
  st = run(again, out, sizeof out, 25);
  fputs(out, stderr);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !strstr(out, "OK kill"))
    CC_TEST_FAIL("resume: status 0x%x, output:\n%s", st, out);
  const char *r = strstr(out, "resumed=");
  ASSERT_NOT_NULL(r);
  ASSERT_GT(atol(r + 8), 0);
  assert_no_job_left();
  unlink(ck);
}

/* ---- two hosts: two network namespaces joined by a veth pair ------------ */

static int sh(const char *fmt, ...) {
  char cmd[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  char *argv[] = {"/bin/sh", "-c", cmd, NULL};
  static char o[4096];
  int st = run(argv, o, sizeof o, 20);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static long long counter(const char *ns, const char *dev, const char *what) {
  char path[256], cmd[512];
  snprintf(path, sizeof path, "/sys/class/net/%s/statistics/%s", dev, what);
  snprintf(cmd, sizeof cmd, "ip netns exec %s cat %s", ns, path);
  FILE *f = popen(cmd, "r");
  long long v = -1;
  if (f) {
    if (fscanf(f, "%lld", &v) != 1)
      v = -1;
    pclose(f);
  }
  return v;
}

TEST(two_hosts) {
  char a[32], b[32], va[16], vb[16];
  int id = (int)(getpid() % 100000);
  snprintf(a, sizeof a, "ccmpiA%d", id);
  snprintf(b, sizeof b, "ccmpiB%d", id);
  snprintf(va, sizeof va, "cca%d", id);
  snprintf(vb, sizeof vb, "ccb%d", id);
  int net = 10 + id % 200;
  if (geteuid() != 0 || sh("ip netns add %s 2>/dev/null", a) != 0)
    SKIP("cannot create network namespaces here (needs root and iproute2)");
  int ok = sh("ip netns add %s && ip link add %s netns %s type veth peer name %s netns %s"
              " && ip -n %s addr add 10.213.%d.1/24 dev %s && ip -n %s addr add "
              "10.213.%d.2/24 dev %s"
              " && ip -n %s link set %s up && ip -n %s link set %s up"
              " && ip -n %s link set lo up && ip -n %s link set lo up",
              b, va, a, vb, b, a, net, va, b, net, vb, a, va, b, vb, a, b);
  if (ok != 0) {
    sh("ip netns del %s; ip netns del %s", a, b);
    SKIP("cannot join two network namespaces with a veth pair here");
  }
  job_env();
  setenv("CC_MPI_NETNS_REMOTE", b, 1);
  long long rx0 = counter(a, va, "rx_bytes"), tx0 = counter(a, va, "tx_bytes");
  char hosts[64], subnet[32], agent[512];
  snprintf(hosts, sizeof hosts, "10.213.%d.1:2,10.213.%d.2:2", net, net);
  snprintf(subnet, sizeof subnet, "10.213.%d.0/24", net);
  snprintf(agent, sizeof agent, "%s", NETNS_AGENT);
  char *argv[] = {"ip",
                  "netns",
                  "exec",
                  a,
                  MPIEXEC,
                  "--oversubscribe",
                  "-n",
                  "4",
                  "--host",
                  hosts,
                  "--mca",
                  "plm_rsh_agent",
                  agent,
                  "--mca",
                  "oob_tcp_if_include",
                  subnet,
                  "--mca",
                  "btl_tcp_if_include",
                  subnet,
                  "--mca",
                  "btl",
                  "self,vader,tcp",
                  "-x",
                  "ASAN_OPTIONS",
                  "-x",
                  "CC_MPI_TEST_TOKEN",
                  MPI_CASES,
                  "twohost",
                  NULL};
  int st = run(argv, out, sizeof out, 25);
  long long rx = counter(a, va, "rx_bytes") - rx0, tx = counter(a, va, "tx_bytes") - tx0;
  assert_no_job_left();
  sh("ip netns del %s; ip netns del %s", a, b);
  fputs(out, stderr);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !strstr(out, "OK twohost"))
    CC_TEST_FAIL("status 0x%x, output:\n%s", st, out);
  fprintf(stderr, "veth %s: rx %lld bytes, tx %lld bytes\n", va, rx, tx);
  /* A million 8-byte items and results, about half of them on the ranks of
   * the other namespace: megabytes must have crossed the veth pair. */
  ASSERT_GT(rx, 2000000);
  ASSERT_GT(tx, 2000000);
}

/* ---- concur mine --mpi gives the answer of concur mine ------------------ */

#ifdef CONCUR_TOOL
static void strip_first_line_times(char *s) {
  /* "mined N files, X MB, W words (D distinct) in T s on ..." : keep up to
   * "distinct)", drop the time and the workers, keep the rest of the text. */
  char *d = strstr(s, "distinct)"), *nl = strchr(s, '\n');
  ASSERT_NOT_NULL(d);
  ASSERT_NOT_NULL(nl);
  d += strlen("distinct)");
  memmove(d, nl, strlen(nl) + 1);
}

TEST(mine) {
  char dir[128], path[192];
  snprintf(dir, sizeof dir, "/tmp/cc_mpi_mine_%d", (int)getpid());
  ASSERT_EQ(mkdir(dir, 0755), 0);
  static const char *words[] = {"alpha", "beta",  "gamma", "delta",  "epsilon",
                                "zeta",  "theta", "kappa", "lambda", "sigma"};
  for (int f = 0; f < 40; f++) {
    snprintf(path, sizeof path, "%s/page%02d.html", dir, f);
    FILE *fp = fopen(path, "w");
    ASSERT_NOT_NULL(fp);
    fprintf(fp, "<html><head><title>Page %d</title></head><body><p>", f);
    for (int w = 0; w < 2000; w++)
      fprintf(fp, "%s &amp; ", words[(w * 7 + f * 3) % (w % 10 + 1)]);
    fprintf(fp, "</p></body></html>\n");
    fclose(fp);
  }
  job_env();
  char one[8192], many[8192];
  char *argv1[] = {CONCUR_TOOL, "mine", dir, "--workers", "2", NULL};
  int st = run(argv1, one, sizeof one, 25);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  char *argv2[] = {MPIEXEC, "--oversubscribe", "-n", "4", CONCUR_TOOL,
                   "mine",  "--mpi",           dir,  NULL};
  st = run(argv2, many, sizeof many, 25);
  fputs(many, stderr);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    CC_TEST_FAIL("concur mine --mpi: status 0x%x:\n%s", st, many);
  assert_no_job_left();
  for (int f = 0; f < 40; f++) {
    snprintf(path, sizeof path, "%s/page%02d.html", dir, f);
    unlink(path);
  }
  rmdir(dir);
  ASSERT_NOT_NULL(strstr(many, "MPI ranks"));
  ASSERT_NOT_NULL(strstr(one, "mined 40 files"));
  strip_first_line_times(one);
  strip_first_line_times(many);
  ASSERT_STR_EQ(one, many);
}
#endif
