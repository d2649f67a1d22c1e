/* Processes (multiprocessing.Process) on fork(), waited through pidfds.
 *
 * The child is watched through a pidfd (pidfd_open, Linux 5.3): it becomes
 * readable when the child exits, so a coroutine joins by waiting on it with
 * cc__fd_wait() while its loop runs on, and a plain thread with poll(2).
 * The zombie is then reaped with waitpid() on its own pid, which never
 * touches other children of the process (those of a cc_pool, say). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "concur/process.h"
#include "core/trace.h"
#include "loop/sched.h"
#include "proc/proc_int.h"

struct cc_process {
  pid_t pid;
  int pidfd;
  bool pidfd_registered;
  bool reaped;
  int exitcode; /* valid once reaped */
};

/* ---- shared helpers ------------------------------------------------------ */

/* Set in a child forked by this module. The child inherits the forking
 * thread's loop state (its running-task pointer included) but must not use
 * that loop, whose epoll instance it shares with the parent: its waits are
 * plain polls. */
static bool in_child;

int cc__proc_wait_fd(int fd, unsigned events, int64_t deadline, bool *registered) {
  if (!in_child && cc__self() != NULL) {
    if (registered)
      *registered = true;
    return cc__fd_wait(fd, events, deadline);
  }
  return cc__poll_fd(fd, events, deadline);
}

void cc__proc_close_fd(int fd, bool registered) {
  if (fd < 0)
    return;
  if (registered && !in_child && cc_loop_current() != NULL)
    cc__fd_forget(fd);
  close(fd);
}

int cc__pidfd_open(pid_t pid) {
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -errno : fd;
}

void cc__proc_child_setup(pid_t parent, bool keep_on_parent_exit, bool keep_sigint) {
  in_child = true;
  if (!keep_on_parent_exit) {
    /* PR_SET_PDEATHSIG follows the forking THREAD, which must still be
     * alive now: cc_process_start() waits for cc__proc_child_ready() before
     * it returns, and the pool's manager thread forks its workers itself.
     * What remains is the death of the whole parent process before this
     * line: then we have been reparented already. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(1);
  }
  if (!keep_sigint)
    signal(SIGINT, SIG_IGN);
  /* A loop blocks SIGINT/SIGTERM for its signalfd; a child must again be
   * killable by cc_process_terminate(). */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

int cc_cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0)
      return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* ---- processes ----------------------------------------------------------- */

int cc_process_start(cc_process_t **out, cc_process_fn fn, void *arg,
                     const cc_process_opts_t *opts) {
  if (!out || !fn)
    return -EINVAL;
  *out = NULL;
  cc_process_opts_t o = {0};
  if (opts)
    o = *opts;
  cc_process_t *p = calloc(1, sizeof *p);
  if (!p)
    return -ENOMEM;
  /* Flush stdio first, or the child would write the parent's buffered
   * output a second time when it flushes its copy. */
  fflush(NULL);
  /* The child tells us through `ready` once its PR_SET_PDEATHSIG is in
   * place: until then this thread must not return (and so cannot exit), or
   * a thread that exits right after starting a child would leave it
   * running (the signal follows the forking thread, and the child is
   * rarely scheduled before the parent thread's exit otherwise). */
  int ready[2] = {-1, -1};
  if (!o.keep_on_parent_exit && pipe2(ready, O_CLOEXEC) < 0) {
    int e = -errno;
    free(p);
    return e;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int e = -errno;
    if (ready[0] >= 0) {
      close(ready[0]);
      close(ready[1]);
    }
    free(p);
    return e;
  }
  if (pid == 0) {
    cc__proc_child_setup(parent, o.keep_on_parent_exit, o.keep_sigint);
    if (ready[1] >= 0) {
      /* A byte, not end of file: a child that another thread forks
       * meanwhile holds a copy of this write end. */
      char one = 1;
      ssize_t w = write(ready[1], &one, 1);
      (void)w;
      close(ready[0]);
      close(ready[1]);
    }
    intptr_t code = fn(arg);
    fflush(NULL);
    CC__TRACE(cc__trace_flush());
    _exit((int)(code & 0xff));
  }
  p->pid = pid;
  p->pidfd = cc__pidfd_open(pid);
  if (ready[0] >= 0) {
    /* A few microseconds: the child's first system calls. Its exit (pidfd
     * readable) ends the wait too, should it die before it writes. */
    close(ready[1]);
    struct pollfd pf[2] = {{.fd = ready[0], .events = POLLIN},
                           {.fd = p->pidfd, .events = POLLIN}};
    while (poll(pf, p->pidfd >= 0 ? 2 : 1, -1) < 0 && errno == EINTR) {
    }
    close(ready[0]);
  }
  if (p->pidfd < 0) {
    int e = p->pidfd;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    free(p);
    return e;
  }
  *out = p;
  return 0;
}

/* Reaps the child if it has exited; true if it has (now or before). */
static bool try_reap(cc_process_t *p) {
  if (p->reaped)
    return true;
  int st;
  pid_t r;
  do
    r = waitpid(p->pid, &st, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == p->pid) {
    p->reaped = true;
    p->exitcode = WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
    return true;
  }
  if (r < 0) { /* reaped by someone else (waitpid(-1) elsewhere) */
    p->reaped = true;
    p->exitcode = -1;
    return true;
  }
  return false;
}

int cc_process_join(cc_process_t *p, int64_t deadline, int *exitcode) {
  if (!p)
    return -EINVAL;
  while (!try_reap(p)) {
    int r = cc__proc_wait_fd(p->pidfd, CC__READ, deadline, &p->pidfd_registered);
    if (r < 0)
      return r;
  }
  if (exitcode)
    *exitcode = p->exitcode;
  return 0;
}

int cc_process_signal(cc_process_t *p, int sig) {
  if (!p || sig < 0 || sig >= NSIG)
    return -EINVAL;
  if (p->reaped)
    return -ESRCH;
  /* pidfd_send_signal cannot hit a recycled pid. */
  if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) < 0)
    return -errno;
  return 0;
}

int cc_process_terminate(cc_process_t *p) {
  return cc_process_signal(p, SIGTERM);
}

int cc_process_kill(cc_process_t *p) {
  return cc_process_signal(p, SIGKILL);
}

bool cc_process_is_alive(cc_process_t *p) {
  return p && !try_reap(p);
}

pid_t cc_process_pid(const cc_process_t *p) {
  return p ? p->pid : -1;
}

void cc_process_free(cc_process_t *p) {
  if (!p)
    return;
  if (!try_reap(p)) {
    syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
    int st;
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
    }
  }
  cc__proc_close_fd(p->pidfd, p->pidfd_registered);
  free(p);
}
