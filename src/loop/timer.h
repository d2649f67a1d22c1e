/* Internal: the loop's timers (one per parked task at most, plus the
 * callback timers of loop/io.h).
 *
 * Two structures, one ordering: a binary min-heap for arbitrary deadlines,
 * and a FIFO for deadlines that arrive in non-decreasing order. The common
 * case of many tasks sleeping for the same duration (a timeout per request,
 * cc_sleep(1000) in a loop) produces exactly such deadlines, so insertion
 * and expiry are O(1) for them; everything else costs O(log n) in the heap.
 * The earliest timer is the smaller of the two heads.
 */
#ifndef CC_LOOP_TIMER_H
#define CC_LOOP_TIMER_H

#include <stddef.h>
#include <stdint.h>

enum { CC__TIMER_NONE = 0, CC__TIMER_HEAP, CC__TIMER_FIFO };
/* What a timer is embedded in: a task (its park deadline) or a callback
 * timer (loop/io.h). */
enum { CC__TIMER_TASK = 0, CC__TIMER_CALLBACK };

typedef struct cc__timer {
  int64_t when;
  struct cc__timer *prev, *next; /* FIFO links */
  uint32_t idx;                  /* heap slot */
  uint8_t where;
  uint8_t kind; /* CC__TIMER_TASK or CC__TIMER_CALLBACK */
} cc__timer_t;

typedef struct cc__timers {
  cc__timer_t **heap;
  size_t n, cap;
  cc__timer_t *head, *tail; /* FIFO, non-decreasing `when` */
  size_t nfifo;
} cc__timers_t;

void cc__timers_init(cc__timers_t *ts);
void cc__timers_destroy(cc__timers_t *ts);
/* Returns 0 or -ENOMEM. */
int cc__timers_add(cc__timers_t *ts, cc__timer_t *t, int64_t when);
void cc__timers_del(cc__timers_t *ts, cc__timer_t *t);
/* The earliest timer, or NULL. */
cc__timer_t *cc__timers_min(cc__timers_t *ts);
static inline size_t cc__timers_count(const cc__timers_t *ts) {
  return ts->n + ts->nfifo;
}

#endif
