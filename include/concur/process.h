/* concur: processes, inter-process pipes and queues, shared memory
 * (Python's multiprocessing.Process, Pipe, Queue and shared_memory).
 *
 * A process is started with fork(): the child runs a function pointer of the
 * parent's image, with a copy of the parent's memory as it was at the call
 * (Python's 'fork' start method). The child must not use the parent's event
 * loop or call functions that may suspend; it should do its work with plain
 * calls and return an exit code. The pipe, queue and shared memory calls
 * below do work in a child (there they block). A child inherits every file
 * descriptor of the parent, as with Python's fork. Before forking, every stdio stream is
 * flushed so that buffered output is not written twice.
 *
 * Unless opts.keep_on_parent_exit is set, a child is killed (SIGKILL) when
 * the thread that started it exits (PR_SET_PDEATHSIG), so that a parent
 * killed by Ctrl-C leaves no orphan behind.
 *
 * Inter-process channels carry byte messages: a message is sent whole and
 * received whole (AF_UNIX SOCK_SEQPACKET underneath), up to a maximum size
 * fixed at creation. Both ends of a channel exist in the parent and in every
 * child forked after it was made; each process uses the end it needs. A
 * receive or send called from a coroutine suspends only that coroutine; from
 * a plain thread it blocks the thread.
 *
 * Shared memory blocks are anonymous shared mappings: a block made before a
 * fork is shared by the parent and its children, and disappears when the
 * last process unmaps it or exits, so nothing can leak in /dev/shm.
 */
#ifndef CONCUR_PROCESS_H
#define CONCUR_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "common.h"

CC_BEGIN_DECLS

/* ---- processes --------------------------------------------------------- */

typedef struct cc_process cc_process_t;

/** The body of a child process. It returns intptr_t like thread and task
 *  functions (cc_task_fn), so one function can serve all three; the low 8
 *  bits of the value are the exit code (as with exit(3)). */
typedef intptr_t (*cc_process_fn)(void *arg);

/** Options for cc_process_start(); zero-fill (or NULL) for the defaults. */
typedef struct cc_process_opts {
  /** Keep the child running if the starting thread exits (no
   *  PR_SET_PDEATHSIG). Default false: the child is killed with it. */
  bool keep_on_parent_exit;
  /** Leave SIGINT as inherited in the child. Default false: the child
   *  ignores SIGINT, so Ctrl-C at the terminal is handled by the parent,
   *  which decides what happens to its children. */
  bool keep_sigint;
} cc_process_opts_t;

/** Starts fn(arg) in a new child process (multiprocessing.Process.start).
 *  On success *out holds a handle owned by the caller, freed with
 *  cc_process_free(). Unless opts.keep_on_parent_exit, it returns only once
 *  the child's PR_SET_PDEATHSIG is in place (a few microseconds), so a
 *  thread that exits right after the call still takes the child with it.
 *  Never suspends (it blocks briefly). Errors: -EINVAL, -ENOMEM, -EAGAIN
 *  (process limit), -EMFILE. Any thread. */
CC_EXTERN int cc_process_start(cc_process_t **out, cc_process_fn fn, void *arg,
                               const cc_process_opts_t *opts);

/** Waits until the child exits or the absolute `deadline` passes, and reaps
 *  it. On success stores its exit status in *exitcode (if not NULL) as
 *  Python's Process.exitcode does: the exit code (>= 0), or -N if it was
 *  killed by signal N. Joining an already joined process returns the same
 *  status again. Returns 0, -ETIMEDOUT, or -ECANCELED (caller cancelled).
 *  From a coroutine it suspends only that coroutine (the loop keeps
 *  running); from a plain thread it blocks the thread. May suspend.
 *  One thread at a time per process handle. */
CC_EXTERN int cc_process_join(cc_process_t *p, int64_t deadline, int *exitcode);

/** Sends SIGTERM (Process.terminate). 0, or -ESRCH once it has been reaped.
 *  Never suspends. */
CC_EXTERN int cc_process_terminate(cc_process_t *p);

/** Sends SIGKILL (Process.kill). 0, or -ESRCH once reaped. */
CC_EXTERN int cc_process_kill(cc_process_t *p);

/** Sends any signal. 0, -EINVAL, or -ESRCH once reaped. */
CC_EXTERN int cc_process_signal(cc_process_t *p, int sig);

/** True while the child has not exited (Process.is_alive). Never blocks;
 *  reaps the child if it has exited. */
CC_EXTERN bool cc_process_is_alive(cc_process_t *p);

/** The child's process id. */
CC_EXTERN pid_t cc_process_pid(const cc_process_t *p);

/** Frees the handle. A child still running is killed (SIGKILL) and reaped
 *  first, so no zombie is left. NULL is ignored. Never suspends (the reap
 *  of a killed child is immediate). */
CC_EXTERN void cc_process_free(cc_process_t *p);

/** Number of usable CPUs (sched_getaffinity; at least 1). */
CC_EXTERN int cc_cpu_count(void);

/* ---- pipes: two connected ends (multiprocessing.Pipe) ----------------- */

typedef struct cc_conn cc_conn_t;

/** Default maximum message size of pipes and queues: 64 KiB. */
#define CC_MSG_MAX_DEFAULT (64 * 1024)

/** Makes a pipe: two connected ends. With `duplex` each end can send and
 *  receive; without, *a only receives and *b only sends (as Python's
 *  Pipe(duplex=False) returns (reader, writer)). `max_msg` is the largest
 *  message (0: CC_MSG_MAX_DEFAULT; at most what the kernel socket buffer
 *  allows, about 200 KiB, else -EMSGSIZE). The caller owns both ends and
 *  frees them with cc_conn_close() in every process that has them.
 *  Errors: -EMFILE, -ENOMEM, -EMSGSIZE. Never suspends. */
CC_EXTERN int cc_pipe_new(cc_conn_t **a, cc_conn_t **b, bool duplex, size_t max_msg);

/** Sends one message of `len` bytes (0 allowed). Waits while the channel is
 *  full, until `deadline`. Returns 0, -CC_ETOOBIG (len > max_msg), -EPIPE
 *  (the other end is closed in every process), -ETIMEDOUT, -ECANCELED,
 *  -EBADF (wrong direction). May suspend. */
CC_EXTERN int cc_conn_send(cc_conn_t *c, const void *buf, size_t len, int64_t deadline);

/** Receives one message into a new malloc'd buffer: *msg (caller frees
 *  with free(); never NULL on success) and *len. Returns 0, -CC_ECLOSED
 *  (every sender has closed: end of data), -ETIMEDOUT, -ECANCELED, -EBADF.
 *  May suspend. */
CC_EXTERN int cc_conn_recv(cc_conn_t *c, void **msg, size_t *len, int64_t deadline);

/** True if a message (or end of data) is ready now. Never blocks. */
CC_EXTERN bool cc_conn_poll(cc_conn_t *c);

/** Closes this process's copy of the end. NULL is ignored. */
CC_EXTERN void cc_conn_close(cc_conn_t *c);

/* ---- queues: many producers, many consumers (multiprocessing.Queue) --- */

typedef struct cc_mpqueue cc_mpqueue_t;

/** Makes a queue shared by the processes forked after this call: any of
 *  them may put and get; every message goes to exactly one getter.
 *  `max_msg` as for cc_pipe_new(). The caller owns the queue and frees it
 *  with cc_mpqueue_free() in each process. Errors: -EMFILE, -ENOMEM,
 *  -EMSGSIZE. Never suspends. */
CC_EXTERN int cc_mpqueue_new(cc_mpqueue_t **out, size_t max_msg);

/** Puts one message (copied). Waits while the queue is full (the kernel
 *  buffer), until `deadline`. Errors as cc_conn_send(). May suspend. */
CC_EXTERN int cc_mpqueue_put(cc_mpqueue_t *q, const void *buf, size_t len,
                             int64_t deadline);

/** Takes one message into a new malloc'd buffer (caller frees). Waits
 *  until one arrives or `deadline` passes: 0, -ETIMEDOUT, -ECANCELED.
 *  May suspend. */
CC_EXTERN int cc_mpqueue_get(cc_mpqueue_t *q, void **msg, size_t *len, int64_t deadline);

/** Frees this process's handle. NULL is ignored. */
CC_EXTERN void cc_mpqueue_free(cc_mpqueue_t *q);

/* ---- shared memory ---------------------------------------------------- */

typedef struct cc_shm cc_shm_t;

/** Makes a zero-filled shared memory block of `size` bytes (rounded up to
 *  whole pages), shared with every child forked afterwards (also the
 *  workers of a cc_pool created afterwards, which then map record arrays in
 *  the block in place, without copies). The caller owns it; it must not be
 *  freed while a map uses it.
 *  Errors: -EINVAL (size 0), -ENOMEM. Never suspends. */
CC_EXTERN int cc_shm_new(cc_shm_t **out, size_t size);

/** The block's address (the same in the parent and in its children). */
CC_EXTERN void *cc_shm_ptr(const cc_shm_t *s);

/** The size asked for at creation. */
CC_EXTERN size_t cc_shm_size(const cc_shm_t *s);

/** Unmaps the block in this process; the memory is released when the last
 *  process that maps it unmaps it or exits. NULL is ignored. */
CC_EXTERN void cc_shm_free(cc_shm_t *s);

CC_END_DECLS
#endif
