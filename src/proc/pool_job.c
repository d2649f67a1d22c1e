/* The process pool: job bookkeeping (see pool_int.h). Runs on whichever
 * thread holds pool->mu: the manager thread as it dispatches and collects
 * chunks, or a caller's thread as it queues, abandons or frees a job. */
#include <errno.h>
#include <stdlib.h>

#include "concur/future.h"
#include "proc/pool_int.h"

/* ---- jobs (mu held) ------------------------------------------------------------ */

void cc__job_free(job_t *j) {
  if (j->is_iter) {
    for (size_t i = 0; i < j->n; i++)
      free(j->results[i].data);
    free(j->results);
    free(j->status);
    free(j->ready);
    free(j->order);
  }
  free(j->own_result.data);
  free(j->own_item.data);
  free(j->retry);
  if (j->fut)
    cc_future_unref(j->fut);
  free(j);
}

void cc__job_unref(job_t *j) {
  if (--j->refs == 0)
    cc__job_free(j);
}

void cc__job_queue(cc_pool_t *p, job_t *j) {
  if (j->queued)
    return;
  j->queued = true;
  j->next_q = NULL;
  if (p->qtail)
    p->qtail->next_q = j;
  else
    p->qhead = j;
  p->qtail = j;
}

void cc__job_dequeue(cc_pool_t *p, job_t *j) {
  if (!j->queued)
    return;
  job_t *prev = NULL;
  for (job_t *x = p->qhead; x; prev = x, x = x->next_q)
    if (x == j) {
      if (prev)
        prev->next_q = x->next_q;
      else
        p->qhead = x->next_q;
      if (p->qtail == x)
        p->qtail = prev;
      break;
    }
  j->queued = false;
  j->next_q = NULL;
}

bool cc__job_has_work(const job_t *j) {
  return j->nretry > 0 || j->next < j->n;
}

void cc__job_finish(cc_pool_t *p, job_t *j, job_t **fin) {
  if (j->finished)
    return;
  j->finished = true;
  cc__job_dequeue(p, j);
  if (j->fut && fin) {
    /* Still active until cc__complete_futures() has completed the future, so
     * that cc_pool_join() returns only when every future is done. */
    j->refs++; /* held by the list until then */
    j->next_fin = *fin;
    *fin = j;
  } else {
    p->active--;
  }
}

/* Item i of j is finished (ok or with err). */
void cc__item_done(cc_pool_t *p, job_t *j, size_t i, int err) {
  if (err < 0) {
    if (j->first_err == 0 || i < j->first_err_idx) {
      j->first_err = err;
      j->first_err_idx = i;
    }
  }
  if (j->status)
    j->status[i] = err;
  if (j->is_iter) {
    j->ready[i] = true;
    if (!j->ordered)
      j->order[j->qtail++] = i;
  }
  j->done++;
}

/* Queues items [start, start+n) of j to run again. Without memory for the
 * range (a few bytes) they fail with -ENOMEM instead; the job may then be
 * complete. */
void cc__add_retry(cc_pool_t *p, job_t *j, size_t start, size_t n, job_t **fin) {
  if (n == 0)
    return;
  if (j->nretry == j->retry_cap) {
    size_t nc = j->retry_cap ? j->retry_cap * 2 : 8;
    range_t *r = realloc(j->retry, nc * sizeof *r);
    if (!r) {
      for (size_t i = start; i < start + n; i++)
        cc__item_done(p, j, i, -ENOMEM);
      if (j->done == j->n)
        cc__job_finish(p, j, fin);
      cc__pool_notify(p);
      return;
    }
    j->retry = r;
    j->retry_cap = nc;
  }
  j->retry[j->nretry++] = (range_t){start, n};
}
