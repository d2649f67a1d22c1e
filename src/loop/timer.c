/* Timer heap + monotonic FIFO; see timer.h for why there are two. */
#include <errno.h>
#include <stdlib.h>

#include "loop/timer.h"

void cc__timers_init(cc__timers_t *ts) {
  ts->heap = NULL;
  ts->n = ts->cap = 0;
  ts->head = ts->tail = NULL;
  ts->nfifo = 0;
}

void cc__timers_destroy(cc__timers_t *ts) {
  free(ts->heap);
  cc__timers_init(ts);
}

static void heap_set(cc__timers_t *ts, size_t i, cc__timer_t *t) {
  ts->heap[i] = t;
  t->idx = (uint32_t)i;
}

static void sift_up(cc__timers_t *ts, size_t i) {
  cc__timer_t *t = ts->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (ts->heap[parent]->when <= t->when)
      break;
    heap_set(ts, i, ts->heap[parent]);
    i = parent;
  }
  heap_set(ts, i, t);
}

static void sift_down(cc__timers_t *ts, size_t i) {
  cc__timer_t *t = ts->heap[i];
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l >= ts->n)
      break;
    m = l;
    if (l + 1 < ts->n && ts->heap[l + 1]->when < ts->heap[l]->when)
      m = l + 1;
    if (t->when <= ts->heap[m]->when)
      break;
    heap_set(ts, i, ts->heap[m]);
    i = m;
  }
  heap_set(ts, i, t);
}

int cc__timers_add(cc__timers_t *ts, cc__timer_t *t, int64_t when) {
  t->when = when;
  if (!ts->tail || ts->tail->when <= when) {
    t->next = NULL;
    t->prev = ts->tail;
    if (ts->tail)
      ts->tail->next = t;
    else
      ts->head = t;
    ts->tail = t;
    ts->nfifo++;
    t->where = CC__TIMER_FIFO;
    return 0;
  }
  if (ts->n == ts->cap) {
    size_t cap = ts->cap ? ts->cap * 2 : 64;
    cc__timer_t **h = realloc(ts->heap, cap * sizeof *h);
    if (!h)
      return -ENOMEM;
    ts->heap = h;
    ts->cap = cap;
  }
  ts->heap[ts->n] = t;
  t->idx = (uint32_t)ts->n;
  ts->n++;
  t->where = CC__TIMER_HEAP;
  sift_up(ts, ts->n - 1);
  return 0;
}

void cc__timers_del(cc__timers_t *ts, cc__timer_t *t) {
  if (t->where == CC__TIMER_FIFO) {
    if (t->prev)
      t->prev->next = t->next;
    else
      ts->head = t->next;
    if (t->next)
      t->next->prev = t->prev;
    else
      ts->tail = t->prev;
    ts->nfifo--;
  } else if (t->where == CC__TIMER_HEAP) {
    size_t i = t->idx;
    ts->n--;
    if (i != ts->n) {
      cc__timer_t *moved = ts->heap[ts->n];
      heap_set(ts, i, moved);
      sift_down(ts, i);
      sift_up(ts, moved->idx);
    }
  }
  t->where = CC__TIMER_NONE;
}

cc__timer_t *cc__timers_min(cc__timers_t *ts) {
  cc__timer_t *h = ts->n ? ts->heap[0] : NULL;
  cc__timer_t *f = ts->head;
  if (!h)
    return f;
  if (!f)
    return h;
  return f->when <= h->when ? f : h;
}
