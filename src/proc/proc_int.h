/* Internal helpers shared by the files of src/proc: waiting on a file
 * descriptor from a coroutine or a plain thread, pidfds, and the child-side
 * set-up after fork(). */
#ifndef CC_PROC_INT_H
#define CC_PROC_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Waits until `fd` is readable (CC__READ) or writable (CC__WRITE), or the
 * absolute deadline passes. From a coroutine through cc__fd_wait() (the loop
 * keeps running; *registered is set so that cc__proc_close_fd() can drop the
 * poller's registration), from a plain thread with poll(2).
 * Returns 0, -ETIMEDOUT, -ECANCELED, -EBADF. */
int cc__proc_wait_fd(int fd, unsigned events, int64_t deadline, bool *registered);

/* Closes an fd that cc__proc_wait_fd() may have registered with a loop. */
void cc__proc_close_fd(int fd, bool registered);

/* pidfd_open(2); -errno on failure. */
int cc__pidfd_open(pid_t pid);

/* In a freshly forked child: die with the forking thread unless
 * `keep_on_parent_exit`, ignore SIGINT unless `keep_sigint`, unblock every
 * signal the parent's loop had blocked for its signalfd. `parent` is the pid
 * of the parent before the fork. */
void cc__proc_child_setup(pid_t parent, bool keep_on_parent_exit, bool keep_sigint);

/* Shared memory registry (ipc.c). The id counter now: blocks with a smaller
 * id were created before this call. */
uint64_t cc__shm_epoch(void);

/* The id of the live cc_shm block that holds [p, p+len), or 0. */
uint64_t cc__shm_find(const void *p, size_t len);

#endif
