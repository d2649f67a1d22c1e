/* Internal: the trace emitter (Chrome trace-event JSON, see docs/trace.md).
 *
 * Every hook in the runtime is one line that costs one predictable branch
 * on a flag while tracing is off:
 *
 *   CC__TRACE(cc__trace_task_begin(t->id, t->name, file, line));
 *   r = CC__TRACE_CALL(f->fn, f->arg);        (a thread-pool job)
 *
 * Tracing is switched on by CONCUR_TRACE=path, read at the first use (the
 * flag starts true so that the first hook of any kind takes the slow path
 * and resolves it once; a fork resolves it first), or by cc_trace_start(). Each thread
 * appends formatted events to its own buffer without taking a lock; a buffer goes to the
 * file in one write(2) when it fills up, at the end of cc_run, when its thread exits, at
 * exit() and at cc_trace_stop(). The file is opened with O_APPEND and inherited by forked
 * children: the process pool's workers write their events into the same file themselves
 * (each write is a whole number of events, and O_APPEND makes each write land whole), so
 * nothing is merged at exit. Timestamps are CLOCK_MONOTONIC in
 * microseconds, one clock for every thread and process of the machine.
 *
 * This file is in the lowest layer (core): it knows nothing of loops or
 * tasks, the hooks pass what it needs as plain values.
 */
#ifndef CC_CORE_TRACE_H
#define CC_CORE_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Hooks are cold: the compiler keeps them out of the hot path's layout and
 * inlining budget. */
#define CC__TRACE_COLD __attribute__((cold, noinline))

/* True while a trace is being written. Read with a relaxed load: on x86 and
 * arm64 that is a plain load, so a hook costs a load and a not-taken branch. */
extern _Atomic bool cc__trace_on;

#define CC__TRACING()                                                                    \
  __builtin_expect(atomic_load_explicit(&cc__trace_on, memory_order_relaxed), 0)

/* Runs `call` (a cc__trace_* call) only while tracing. */
#define CC__TRACE(call) (CC__TRACING() ? (void)(call) : (void)0)

/* fn(arg) as a thread-pool job: timed and written as a complete event on
 * the calling thread while tracing, a plain call otherwise. */
#define CC__TRACE_CALL(fn, arg) (CC__TRACING() ? cc__trace_call((fn), (arg)) : (fn)(arg))

/* The clock of the trace, in nanoseconds (CLOCK_MONOTONIC). */
int64_t cc__trace_now(void);

/* A task's life as an async slice (ph "b" at spawn, "e" when it ends), keyed
 * by the task's id and the thread of its loop. `name` and `file` must live
 * until the call returns; `result` < 0 is written as the task's error. */
CC__TRACE_COLD void cc__trace_task_begin(uint64_t id, const char *name, const char *file,
                                         int line);
CC__TRACE_COLD void cc__trace_task_end(uint64_t id, const char *name, intptr_t result);

/* Runs fn(arg) and writes a complete event ("X", cat "job") on this thread. */
CC__TRACE_COLD intptr_t cc__trace_call(intptr_t (*fn)(void *), void *arg);

/* A process-pool chunk, from the worker process that ran it: items
 * [base, base+n) of a map, started at t0_ns and run for dur_ns. Worker
 * `index` names the process's track ("pool worker <index>"). The event is
 * written to the file at once, so that a worker that _exit()s or is killed
 * later loses nothing. */
CC__TRACE_COLD void cc__trace_chunk(int index, int64_t t0_ns, int64_t dur_ns,
                                    uint64_t base, uint32_t n);

/* One HTTP request as an async slice, written when it ends.
 *   side:   CC__TRACE_CLIENT or CC__TRACE_SERVER
 *   method: "GET" ...; url: the full URL (client) or the request target
 *   (server); status: the HTTP status, or a negative error code (client
 *   side: the request failed before a status was read);
 *   t0_ns:  cc__trace_now() when the request started; bytes: body bytes
 *   received (client) or sent (server), -1 if unknown.
 * Strings are copied; they may be freed after the call. Call it from the
 * thread that handled the request (the slice goes on that thread's lane).
 * Does nothing if tracing is off now or t0_ns is 0 (the request began
 * untraced), so the pattern is two lines (docs/trace.md):
 *   int64_t t0 = CC__TRACING() ? cc__trace_now() : 0;
 *   ... the request ...
 *   if (t0) cc__trace_http(CC__TRACE_CLIENT, "GET", url, status, t0, nbytes); */
enum { CC__TRACE_CLIENT = 0, CC__TRACE_SERVER = 1 };
CC__TRACE_COLD void cc__trace_http(int side, const char *method, const char *url,
                                   int status, int64_t t0_ns, int64_t bytes);

/* Writes every thread's pending events to the file (end of cc_run, before a
 * forked child's _exit). The trace stays open. */
CC__TRACE_COLD void cc__trace_flush(void);

#endif
