/* concur: tracing - what ran when, as a Chrome trace-event file.
 *
 * Run any concur program with CONCUR_TRACE=file.json and it writes a trace
 * that opens in Perfetto (ui.perfetto.dev, "Open trace file") and in
 * chrome://tracing: every task as a slice from spawn to end (with its name
 * and spawn site), every thread-pool job on its worker thread, every
 * process-pool chunk on its worker process (with the items it ran), HTTP
 * requests on both sides, and the spans you mark yourself with the calls
 * below. `concur trace file.json -o timeline.svg` draws it offline.
 * CONCUR_TRACE is read at the first use of the runtime (first task, job,
 * pool or trace call). A "%p" in the path is replaced by the process id (one file per
 * program when a traced program starts others). docs/trace.md tells the costs.
 *
 * Python: asyncio has nothing built in (its debug mode only logs slow
 * callbacks); the nearest tool is viztracer (`viztracer script.py`, same
 * file format, opened in Perfetto), and cc_trace_span_begin/end are its
 * `with get_tracer().log_event("name"):` / VizTracer's custom events.
 *
 * All functions here may be called from any thread or coroutine, never
 * suspend, and cost one branch while tracing is off.
 */
#ifndef CONCUR_TRACE_H
#define CONCUR_TRACE_H

#include <stdbool.h>

#include "common.h"

CC_BEGIN_DECLS

/** Starts writing a trace to `path` (created or truncated; "%p" is replaced
 *  by the pid). Returns 0, -EALREADY if a trace is being written (also the
 *  one CONCUR_TRACE started), -EINVAL for a NULL or empty path, or -errno
 *  from open(2). Call it before starting the threads and pools to be
 *  traced: a task spawned before the start has no begin event. */
CC_EXTERN int cc_trace_start(const char *path);

/** Writes every thread's pending events, closes the JSON and the file.
 *  Returns 0, or -EALREADY if no trace is being written. Threads still
 *  running keep working untraced. Called by itself at exit(). Worker
 *  processes of a pool must have exited first (cc_pool_free) or their
 *  later events are lost. */
CC_EXTERN int cc_trace_stop(void);

/** Whether a trace is being written now. */
CC_EXTERN bool cc_trace_enabled(void);

/** A span of user code, on the lane of the thread that ends it. Storage
 *  is the caller's (a local variable); zero-fill is not needed. */
typedef struct cc_trace_span {
  const char *name; /**< as given to cc_trace_span_begin */
  int64_t t0;       /**< start in ns, 0 when tracing was off */
} cc_trace_span_t;

/** Marks the start of a span called `name` (a string that must live until
 *  cc_trace_span_end). Spans may nest and may stay open across
 *  suspensions: each is written as an async slice when it ends. */
CC_EXTERN void cc_trace_span_begin(cc_trace_span_t *span, const char *name);

/** Ends the span and writes it (does nothing if tracing was off at its
 *  begin, or is off now). */
CC_EXTERN void cc_trace_span_end(cc_trace_span_t *span);

/** Marks one instant called `name` on this thread's lane (an "i" event). */
CC_EXTERN void cc_trace_instant(const char *name);

CC_END_DECLS

#endif
