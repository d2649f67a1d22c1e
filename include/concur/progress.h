/* concur: a progress display for long jobs (crawls, mining, long maps).
 *
 * On a terminal it is a live bar on one line, redrawn at most ten times a
 * second:
 *
 *   mine [##########..........] 612/1240 files 49.4% | 650/s | errors 0 | 0.9s, eta 1.0s
 *
 * When the output is not a terminal (a log file, CI) it prints a plain
 * stats line every few seconds instead, and a final summary line once it
 * has printed one (a job shorter than the interval prints nothing):
 *
 *   mine: 612/1240 files (49.4%), 650 files/s, errors 0, 0.9 s elapsed, eta 1.0 s
 *   mine: done, 1240/1240 files in 1.9 s (652 files/s), errors 0
 *
 * Besides done/total, rate and times, the caller adds its own counters
 * (in flight, queue, errors...) with cc_progress_field(). `concur mine`,
 * the process pool's `progress_bar` and `concur crawl` use it, so every
 * long job of concur looks the same.
 *
 * Python: tqdm (`for x in tqdm(items, unit="files"):`, `bar.set_postfix(
 * errors=3)`), or rich.progress; neither is in the standard library.
 *
 * Thread safety: every call may come from any thread or coroutine (a
 * mutex inside); none suspends. Output goes to stderr (or opts.out).
 */
#ifndef CONCUR_PROGRESS_H
#define CONCUR_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include "common.h"

CC_BEGIN_DECLS

typedef struct cc_progress cc_progress_t;

typedef enum cc_progress_mode {
  CC_PROGRESS_AUTO = 0, /**< a bar if the output is a terminal, else lines */
  CC_PROGRESS_BAR,      /**< always the live bar */
  CC_PROGRESS_LINES,    /**< always plain lines */
  CC_PROGRESS_OFF       /**< nothing at all (counting still works) */
} cc_progress_mode_t;

/** Options for cc_progress_new(); zero-fill (or NULL) for the defaults. */
typedef struct cc_progress_opts {
  const char *label;       /**< shown first ("mine"); copied; NULL: "progress" */
  const char *unit;        /**< what is counted ("files"); copied; NULL: "items" */
  cc_progress_mode_t mode; /**< see above */
  FILE *out;               /**< NULL: stderr */
  int64_t interval_ms;     /**< lines mode: one line at most this often; 0: 5000 */
  int64_t redraw_ms;       /**< bar mode: redraw at most this often; 0: 100 */
} cc_progress_opts_t;

/** One caller-supplied counter, as cc_progress_print() takes them. */
typedef struct cc_progress_field {
  const char *name;
  int64_t value;
} cc_progress_field_t;

/** Most fields one display shows. */
#define CC_PROGRESS_MAX_FIELDS 8

/** Starts a display for `total` units (0: unknown, no bar or percentage;
 *  cc_progress_set_total() may give it later). The clock starts now. The
 *  caller owns *out and frees it with cc_progress_free(). Errors: -ENOMEM. */
CC_EXTERN int cc_progress_new(cc_progress_t **out, uint64_t total,
                              const cc_progress_opts_t *opts);

/** Counts `n` more units done and redraws if it is due. */
CC_EXTERN void cc_progress_add(cc_progress_t *p, uint64_t n);

/** Changes the total (a crawl discovers its pages as it goes). */
CC_EXTERN void cc_progress_set_total(cc_progress_t *p, uint64_t total);

/** Sets counter `name` (a string that must live as long as `p`, usually a
 *  literal) to `value`; fields are shown in the order first set. Returns
 *  0, or -ENOSPC past CC_PROGRESS_MAX_FIELDS fields. Does not redraw. */
CC_EXTERN int cc_progress_field(cc_progress_t *p, const char *name, int64_t value);

/** Redraws if it is due, even when nothing new is done (call it from a
 *  timer when units are slow to come, so that the elapsed time moves). */
CC_EXTERN void cc_progress_tick(cc_progress_t *p);

/** Prints the final state: the bar completed and a newline on a terminal,
 *  the "done" summary line otherwise (if a stats line was printed before:
 *  a short job stays silent in a log). Later calls do nothing. */
CC_EXTERN void cc_progress_finish(cc_progress_t *p);

/** Finishes (if not done yet) and frees `p`. NULL is ignored. */
CC_EXTERN void cc_progress_free(cc_progress_t *p);

/** The stateless form: prints one bar (`bar`: "\r", the line, clear to the
 *  end of line, and "\n" if `final`) or one plain line, in the same style,
 *  from the values given. For code that keeps its own counters (the
 *  process pool's manager). */
CC_EXTERN void cc_progress_print(FILE *out, bool bar, const char *label, const char *unit,
                                 uint64_t done, uint64_t total, double elapsed_s,
                                 bool final, const cc_progress_field_t *fields,
                                 size_t nfields);

CC_END_DECLS

#endif
