/* concur::mpi, rank 0: cutting a map into chunks, handing them to idle
 * worker ranks, putting the results in order, the checkpoint, progress and
 * the public map/imap calls (which, on a worker rank, go to worker.c).
 *
 * Scheduling: each worker rank has at most DEPTH chunks in flight, so that
 * the next one is already there when it finishes one. The first chunks hold
 * one item each and measure the cost of an item (the time the worker
 * reports for the chunk); later chunks hold about TARGET_NS of work, never
 * more than a share of what is left (so that the last chunks are small and
 * every rank stays busy to the end) nor more than CHUNK_BYTES of data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi_int.h"

#define DEPTH       2
#define TARGET_NS   10000000.0 /* 10 ms of work per chunk */
#define CHUNK_BYTES CC_MPI_CHUNK_BYTES

typedef struct chunk {
  chunk_hdr_t h;
  MPI_Request req[2];
  bool sent;     /* both sends completed */
  char *sendbuf; /* bytes: the packed items */
  struct chunk *next;
  char *res;                   /* bytes: the packed results */
  size_t res_len, cursor, off; /* imap: next item to give, and its data */
} chunk_t;

typedef struct job {
  cc_mpi_t *m;
  int kind;
  uint32_t map;
  cc_pool_rec_fn rfn;
  cc_pool_fn bfn;
  void *ctx;
  const char *in;
  char *out;
  size_t in_size, out_size;
  const cc_buf_t *items;
  cc_buf_t *results;
  int *status;
  bool imap, ordered;
  size_t n, done, given, nchunks;
  size_t *ta, *tb, nt, ti, next; /* ranges still to hand out */
  chunk_t **head, **tail;
  int *inflight;
  int total_inflight;
  size_t fixed;
  double cost_ns, cost_items;
  int64_t deadline_ns;
  bool stop, timed_out, ended;
  int fatal, first_err;
  size_t first_fail;
  chunk_t *ready, *ready_tail;
  size_t emit;
  int64_t last_progress;
  uint64_t next_id;
} job_t;

struct cc_mpi_iter {
  job_t *j;
};

/* ---- progress -------------------------------------------------------------- */

static void progress(job_t *j, bool final) {
  cc_mpi_t *m = j->m;
  int64_t now = cc__mpi_now_ns();
  if (!final && now - j->last_progress < 100000000)
    return;
  j->last_progress = now;
  if (m->o.progress)
    m->o.progress(j->done, j->n, m->o.progress_arg);
  if (m->o.progress_bar && isatty(2)) {
    char bar[41];
    size_t fill = j->n ? j->done * 40 / j->n : 40;
    for (size_t i = 0; i < 40; i++)
      bar[i] = i < fill ? '#' : '.';
    bar[40] = 0;
    fprintf(stderr, "\r[%s] %zu/%zu on %d ranks%s", bar, j->done, j->n, m->size,
            final ? "\n" : "");
  }
}

/* ---- results --------------------------------------------------------------- */

static void fail_at(job_t *j, size_t idx, int err) {
  if (err < 0 && idx < j->first_fail) {
    j->first_fail = idx;
    j->first_err = err;
  }
}

/* Bytes results of chunk c into results[] and status[] (cc_mpi_map). */
static void unpack(job_t *j, const chunk_t *c) {
  size_t count = c->h.count, off = cc__mpi_bytes_res_offset(count) + count * 8;
  const int32_t *st = (const int32_t *)c->res;
  const uint64_t *lens = (const uint64_t *)(c->res + cc__mpi_bytes_res_offset(count));
  for (size_t i = 0; i < count; i++) {
    size_t k = c->h.first + i;
    int s = st[i];
    cc_buf_t b = {NULL, 0};
    if (s == 0 && off + lens[i] <= c->res_len) {
      if ((b.data = malloc(lens[i] ? lens[i] : 1))) {
        memcpy(b.data, c->res + off, lens[i]);
        b.len = lens[i];
      } else {
        s = -ENOMEM;
      }
    } else if (s == 0) {
      s = -EBADMSG;
    }
    off += lens[i];
    j->results[k] = b;
    if (j->status)
      j->status[k] = s;
    fail_at(j, k, s);
  }
}

/* Chunk c is finished (computed, or read from the checkpoint when `from_ck`). */
static void complete(job_t *j, chunk_t *c, int err, size_t fail_off, bool from_ck) {
  cc_mpi_t *m = j->m;
  ck_rec_t rec = {CK_REC_MAGIC, j->map,     (uint32_t)j->kind, err,      j->n, j->in_size,
                  j->out_size,  c->h.first, c->h.count,        fail_off, 0};
  if (j->kind == K_REC) {
    if (err < 0)
      fail_at(j, c->h.first + (fail_off < c->h.count ? fail_off : 0), err);
    rec.len = c->h.count * j->out_size;
    if (!from_ck && cc__mpi_ck_append(m, &rec, j->out + c->h.first * j->out_size) < 0)
      fprintf(stderr, "concur mpi: cannot write the checkpoint %s\n", m->ck_path);
  } else {
    rec.len = c->res_len;
    if (!from_ck && cc__mpi_ck_append(m, &rec, c->res) < 0)
      fprintf(stderr, "concur mpi: cannot write the checkpoint %s\n", m->ck_path);
    if (!j->imap)
      unpack(j, c);
  }
  j->done += c->h.count;
  j->nchunks++;
  if (from_ck)
    m->resumed += c->h.count;
  cc__mpi_note(m, j->map, j->done, j->n, j->nchunks, m->resumed);
  if (j->kind == K_BYTES && j->imap) {
    c->next = NULL;
    if (j->ready_tail)
      j->ready_tail->next = c;
    else
      j->ready = c;
    j->ready_tail = c;
  } else {
    free(c->res);
    free(c->sendbuf);
    free(c);
  }
  progress(j, j->done == j->n);
}

/* ---- handing out chunks ------------------------------------------------------ */

static size_t left_to_give(const job_t *j) {
  size_t left = 0;
  for (size_t t = j->ti; t < j->nt; t++)
    left += j->tb[t] - (t == j->ti ? j->next : j->ta[t]);
  return left;
}

static size_t chunk_count(job_t *j) {
  size_t room = j->tb[j->ti] - j->next, c;
  size_t w = j->m->size > 1 ? (size_t)j->m->size - 1 : 1;
  if (j->fixed) {
    c = j->fixed;
  } else if (j->cost_items == 0) {
    c = 1; /* probe */
  } else {
    double per = j->cost_ns / j->cost_items;
    double want = per > 0 ? TARGET_NS / per : 1e12;
    size_t share = (left_to_give(j) + 2 * w - 1) / (2 * w);
    c = want < (double)share ? (size_t)want : share;
  }
  if (j->kind == K_REC) {
    size_t rec = j->in_size > j->out_size ? j->in_size : j->out_size;
    size_t cap = rec ? CHUNK_BYTES / rec : room;
    if (c > cap)
      c = cap;
  } else {
    size_t bytes = 0, k = 0;
    while (k < c && k < room) {
      bytes += j->items[j->next + k].len + 8;
      if (k > 0 && bytes > CHUNK_BYTES)
        break;
      k++;
    }
    c = k;
  }
  if (c < 1)
    c = 1;
  return c < room ? c : room;
}

static chunk_t *make_chunk(job_t *j) {
  while (j->ti < j->nt && j->next >= j->tb[j->ti])
    if (++j->ti < j->nt)
      j->next = j->ta[j->ti];
  if (j->ti >= j->nt)
    return NULL;
  size_t count = chunk_count(j);
  chunk_t *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->h = (chunk_hdr_t){.magic = CC_MPI_MAGIC,
                       .map = j->map,
                       .kind = (uint32_t)j->kind,
                       .id = j->next_id++,
                       .first = j->next,
                       .count = count,
                       .in_size = j->in_size,
                       .out_size = j->out_size};
  if (j->kind == K_REC) {
    c->h.len = count * j->in_size;
  } else {
    size_t len = count * 8;
    for (size_t i = 0; i < count; i++)
      len += j->items[j->next + i].len;
    if (!(c->sendbuf = malloc(len ? len : 1))) {
      free(c);
      return NULL;
    }
    uint64_t *lens = (uint64_t *)c->sendbuf;
    size_t off = count * 8;
    for (size_t i = 0; i < count; i++) {
      const cc_buf_t *b = &j->items[j->next + i];
      lens[i] = b->len;
      if (b->len)
        memcpy(c->sendbuf + off, b->data, b->len);
      off += b->len;
    }
    c->h.len = len;
  }
  j->next += count;
  return c;
}

static const void *chunk_data(const job_t *j, const chunk_t *c) {
  return j->kind == K_REC ? (const void *)(j->in + c->h.first * j->in_size)
                          : (const void *)c->sendbuf;
}

static void cost(job_t *j, size_t count, uint64_t ns) {
  j->cost_ns += (double)ns;
  j->cost_items += (double)count;
}

/* A job of one rank: rank 0 runs the chunk itself. */
static int run_here(job_t *j, chunk_t *c) {
  int64_t t0 = cc__mpi_now_ns();
  size_t off = (size_t)-1;
  int err = 0;
  if (j->kind == K_REC) {
    err = cc__mpi_run_records(j->m, j->rfn, j->ctx, j->in + c->h.first * j->in_size,
                              j->in_size, j->out + c->h.first * j->out_size, j->out_size,
                              c->h.count, &off);
  } else {
    int r = cc__mpi_run_bytes(j->m, j->bfn, j->ctx, c->sendbuf, c->h.len, c->h.count,
                              &c->res, &c->res_len);
    if (r < 0)
      return r;
  }
  cost(j, c->h.count, (uint64_t)(cc__mpi_now_ns() - t0));
  free(c->sendbuf);
  c->sendbuf = NULL;
  complete(j, c, err, off, false);
  return 0;
}

static int fill(job_t *j) {
  if (j->stop)
    return 0;
  for (int depth = 1; depth <= DEPTH; depth++)
    for (int w = 1; w < j->m->size; w++) {
      if (j->inflight[w] >= depth)
        continue;
      chunk_t *c = make_chunk(j);
      if (!c)
        return j->ti >= j->nt ? 0 : -ENOMEM;
      if (MPI_Isend(&c->h, sizeof c->h, MPI_BYTE, w, T_CHUNK, j->m->comm, &c->req[0]) !=
              MPI_SUCCESS ||
          MPI_Isend(chunk_data(j, c), (int)c->h.len, MPI_BYTE, w, T_CDATA, j->m->comm,
                    &c->req[1]) != MPI_SUCCESS)
        return -CC_EMPI;
      if (j->tail[w])
        j->tail[w]->next = c;
      else
        j->head[w] = c;
      j->tail[w] = c;
      j->inflight[w]++;
      j->total_inflight++;
    }
  if (j->m->size == 1) {
    chunk_t *c = make_chunk(j);
    if (!c)
      return j->ti >= j->nt ? 0 : -ENOMEM;
    return run_here(j, c);
  }
  return 0;
}

static int receive(job_t *j, int w) {
  res_hdr_t rh;
  int e = cc__mpi_recv(&rh, sizeof rh, w, T_RHDR, j->m->comm);
  if (e < 0)
    return e;
  chunk_t *c = j->head[w];
  if (!c || rh.magic != CC_MPI_MAGIC || rh.id != c->h.id)
    return -EBADMSG;
  char *dst;
  size_t want = j->kind == K_REC ? c->h.count * j->out_size : rh.len;
  if (j->kind == K_REC && rh.len == want)
    dst = j->out + c->h.first * j->out_size; /* straight into place */
  else if (!(dst = c->res = malloc(rh.len ? rh.len : 1)))
    return -ENOMEM;
  if ((e = cc__mpi_recv(dst, rh.len, w, T_RDATA, j->m->comm)) < 0)
    return e;
  if (j->kind == K_REC && rh.len != want) {
    free(c->res);
    c->res = NULL;
    if (rh.err >= 0)
      rh.err = -EBADMSG;
  } else if (j->kind == K_BYTES) {
    c->res_len = rh.len;
  }
  if (!c->sent && (e = cc__mpi_wait(c->req, 2)) < 0)
    return e;
  if (!(j->head[w] = c->next))
    j->tail[w] = NULL;
  j->inflight[w]--;
  j->total_inflight--;
  cost(j, c->h.count, rh.compute_ns);
  free(c->sendbuf);
  c->sendbuf = NULL;
  complete(j, c, rh.err, rh.fail_off, false);
  return 0;
}

/* True while a send of ours is still moving (so do not nap for long). */
static bool sending(job_t *j) {
  bool busy = false;
  for (int w = 1; w < j->m->size; w++)
    for (chunk_t *c = j->head[w]; c; c = c->next)
      if (!c->sent) {
        int flag = 0;
        MPI_Testall(2, c->req, &flag, MPI_STATUSES_IGNORE);
        if (flag) {
          c->sent = true;
          free(c->sendbuf);
          c->sendbuf = NULL;
        } else {
          busy = true;
        }
      }
  return busy;
}

/* Tells every worker the map is over (once). */
static int end_map(job_t *j) {
  if (j->ended)
    return 0;
  j->ended = true;
  chunk_hdr_t h = {.magic = CC_MPI_MAGIC, .map = j->map, .kind = K_END};
  for (int w = 1; w < j->m->size; w++)
    if (cc__mpi_send(&h, sizeof h, w, T_CHUNK, j->m->comm) < 0)
      return -CC_EMPI;
  progress(j, true);
  cc__mpi_note_clear();
  return 0;
}

static bool have_ready(const job_t *j) {
  if (!j->ordered)
    return j->ready != NULL;
  for (const chunk_t *c = j->ready; c; c = c->next)
    if (c->h.first + c->cursor == j->emit)
      return true;
  return false;
}

/* Moves the job on until it is over, or (until_ready) a result can be given. */
static int pump(job_t *j, bool until_ready) {
  if (j->fatal)
    return j->fatal;
  unsigned idle = 0;
  int r = 0;
  for (;;) {
    if (!j->stop && j->deadline_ns && cc__mpi_now_ns() >= j->deadline_ns)
      j->stop = j->timed_out = true;
    if ((r = fill(j)) < 0)
      break;
    if (j->total_inflight == 0 && (j->stop || j->ti >= j->nt)) {
      r = end_map(j);
      break;
    }
    if (until_ready && have_ready(j))
      break;
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(MPI_ANY_SOURCE, T_RHDR, j->m->comm, &flag, &st) != MPI_SUCCESS) {
      r = -CC_EMPI;
      break;
    }
    if (flag) {
      if ((r = receive(j, st.MPI_SOURCE)) < 0)
        break;
      idle = 0;
      continue;
    }
    cc__mpi_backoff(&idle, sending(j));
  }
  if (r < 0)
    j->fatal = r;
  return r;
}

/* ---- starting and ending a job ------------------------------------------ */

static void job_free(job_t *j) {
  if (!j)
    return;
  for (chunk_t *c = j->ready, *nx; c; c = nx) {
    nx = c->next;
    free(c->res);
    free(c);
  }
  for (int w = 1; j->head && w < j->m->size; w++)
    for (chunk_t *c = j->head[w], *nx; c; c = nx) {
      nx = c->next;
      free(c->sendbuf);
      free(c->res);
      free(c);
    }
  free(j->head);
  free(j->tail);
  free(j->inflight);
  free(j->ta);
  free(j->tb);
  free(j);
}

static int by_first(const void *a, const void *b) {
  const ck_entry_t *x = *(const ck_entry_t *const *)a, *y = *(const ck_entry_t *const *)b;
  return x->rec.first < y->rec.first ? -1 : x->rec.first > y->rec.first;
}

/* Takes the chunks of this map from the checkpoint and makes the list of
 * ranges still to do. */
static int resume(job_t *j) {
  cc_mpi_t *m = j->m;
  size_t k = 0;
  ck_entry_t **mine = malloc((m->nck ? m->nck : 1) * sizeof *mine);
  if (!mine)
    return -ENOMEM;
  for (size_t i = 0; i < m->nck; i++) {
    const ck_rec_t *r = &m->ck[i].rec;
    if (r->map != j->map)
      continue;
    if (r->kind != (uint32_t)j->kind || r->n != j->n || r->in_size != j->in_size ||
        r->out_size != j->out_size || r->first + r->count > j->n ||
        (j->kind == K_REC && r->len != r->count * j->out_size)) {
      free(mine);
      return -CC_ECHECKPOINT;
    }
    mine[k++] = &m->ck[i];
  }
  qsort(mine, k, sizeof *mine, by_first);
  j->ta = malloc((k + 1) * sizeof *j->ta);
  j->tb = malloc((k + 1) * sizeof *j->tb);
  int err = 0;
  if (!j->ta || !j->tb)
    err = -ENOMEM;
  size_t at = 0;
  for (size_t i = 0; i < k && !err; i++) {
    const ck_rec_t *r = &mine[i]->rec;
    if (r->first < at) { /* overlapping records: keep the first */
      continue;
    }
    if (r->first > at) {
      j->ta[j->nt] = at;
      j->tb[j->nt++] = r->first;
    }
    chunk_t *c = calloc(1, sizeof *c);
    if (!c) {
      err = -ENOMEM;
      break;
    }
    c->h.first = r->first;
    c->h.count = r->count;
    if (j->kind == K_REC) {
      err = cc__mpi_ck_read(m, mine[i], j->out + r->first * j->out_size);
    } else if (!(c->res = malloc(r->len ? r->len : 1))) {
      err = -ENOMEM;
    } else {
      c->res_len = r->len;
      err = cc__mpi_ck_read(m, mine[i], c->res);
    }
    if (err < 0) {
      free(c->res);
      free(c);
      break;
    }
    complete(j, c, r->err, r->fail_off, true);
    at = r->first + r->count;
  }
  if (!err && at < j->n) {
    j->ta[j->nt] = at;
    j->tb[j->nt++] = j->n;
  }
  free(mine);
  return err;
}

static int job_start(job_t **out, cc_mpi_t *m, int kind, cc_pool_rec_fn rfn,
                     cc_pool_fn bfn, void *ctx, size_t n, const cc_pool_map_opts_t *opts,
                     bool imap) {
  job_t *j = calloc(1, sizeof *j);
  *out = j;
  if (!j)
    return -ENOMEM;
  *j = (job_t){.m = m,
               .kind = kind,
               .map = m->map_seq++,
               .rfn = rfn,
               .bfn = bfn,
               .ctx = ctx,
               .n = n,
               .imap = imap,
               .first_fail = (size_t)-1};
  m->failed_index = (size_t)-1;
  m->resumed = 0;
  if (opts) {
    j->fixed = opts->chunksize;
    if (opts->deadline > 0)
      j->deadline_ns = (opts->deadline - cc_now()) * 1000000 + cc__mpi_now_ns();
  }
  int w = m->size + 1;
  j->head = calloc((size_t)w, sizeof *j->head);
  j->tail = calloc((size_t)w, sizeof *j->tail);
  j->inflight = calloc((size_t)w, sizeof *j->inflight);
  if (!j->head || !j->tail || !j->inflight)
    return -ENOMEM;
  return 0;
}

/* After job_start: sets up the ranges (from the checkpoint if any). On an
 * error the workers are still told the map is over. */
static int job_begin(job_t *j) {
  int r = 0;
  if (j->m->nck) {
    r = resume(j);
  } else {
    j->ta = calloc(1, sizeof *j->ta);
    j->tb = calloc(1, sizeof *j->tb);
    if (!j->ta || !j->tb) {
      r = -ENOMEM;
    } else if (j->n) {
      j->ta[0] = 0;
      j->tb[0] = j->n;
      j->nt = 1;
    }
  }
  if (j->nt)
    j->next = j->ta[0];
  if (r < 0) {
    j->nt = 0;
    end_map(j);
  }
  return r;
}

static int job_result(job_t *j, int r) {
  if (!j)
    return r;
  if (r == 0 && j->timed_out)
    r = -ETIMEDOUT;
  if (r == 0 && j->first_err < 0) {
    r = j->first_err;
    j->m->failed_index = j->first_fail;
  }
  return r;
}

static bool serve_here(cc_mpi_t *m) {
  return m->rank != 0;
}

/* ---- public calls ----------------------------------------------------------- */

int cc_mpi_map_records(cc_mpi_t *m, cc_pool_rec_fn fn, void *ctx, const void *in,
                       size_t in_size, void *out, size_t out_size, size_t n,
                       const cc_pool_map_opts_t *opts) {
  if (!m || !fn || in_size > m->o.max_result || out_size > m->o.max_result)
    return -EINVAL;
  int r = cc__mpi_check_caller(m);
  if (r < 0)
    return r;
  if (serve_here(m)) {
    r = cc__mpi_serve(m, K_REC, fn, NULL, ctx);
    m->map_seq++;
    return r;
  }
  job_t *j;
  if (n && (!in || !out || !out_size))
    n = 0, r = -EINVAL; /* still end the map for the workers */
  int s = job_start(&j, m, K_REC, fn, NULL, ctx, n, opts, false);
  if (s == 0) {
    j->in = in;
    j->out = out;
    j->in_size = in_size;
    j->out_size = out_size;
    s = job_begin(j);
  }
  if (s == 0)
    s = pump(j, false);
  if (r == 0)
    r = job_result(j, s);
  job_free(j);
  return r;
}

int cc_mpi_map(cc_mpi_t *m, cc_pool_fn fn, void *ctx, const cc_buf_t *items, size_t n,
               cc_buf_t *results, int *status, const cc_pool_map_opts_t *opts) {
  if (!m || !fn)
    return -EINVAL;
  int r = cc__mpi_check_caller(m);
  if (r < 0)
    return r;
  if (serve_here(m)) {
    r = cc__mpi_serve(m, K_BYTES, NULL, fn, ctx);
    m->map_seq++;
    return r;
  }
  if (n && (!items || !results))
    n = 0, r = -EINVAL;
  for (size_t i = 0; i < n; i++) {
    results[i] = (cc_buf_t){NULL, 0};
    if (status)
      status[i] = -ECANCELED;
  }
  job_t *j;
  int s = job_start(&j, m, K_BYTES, NULL, fn, ctx, n, opts, false);
  if (s == 0) {
    j->items = items;
    j->results = results;
    j->status = status;
    s = job_begin(j);
  }
  if (s == 0)
    s = pump(j, false);
  if (r == 0)
    r = job_result(j, s);
  job_free(j);
  return r;
}

int cc_mpi_imap(cc_mpi_iter_t **out, cc_mpi_t *m, cc_pool_fn fn, void *ctx,
                const cc_buf_t *items, size_t n, bool ordered,
                const cc_pool_map_opts_t *opts) {
  if (!out || !m || !fn)
    return -EINVAL;
  *out = NULL;
  int r = cc__mpi_check_caller(m);
  if (r < 0)
    return r;
  cc_mpi_iter_t *it = calloc(1, sizeof *it);
  if (!it)
    return -ENOMEM;
  if (serve_here(m)) {
    r = cc__mpi_serve(m, K_BYTES, NULL, fn, ctx);
    m->map_seq++;
    if (r < 0) {
      free(it);
      return r;
    }
    *out = it; /* empty */
    return 0;
  }
  if (n && !items)
    n = 0, r = -EINVAL;
  int s = job_start(&it->j, m, K_BYTES, NULL, fn, ctx, n, opts, true);
  if (s == 0) {
    it->j->items = items;
    it->j->ordered = ordered;
    s = job_begin(it->j);
  }
  if (r == 0)
    r = s;
  if (r < 0) {
    job_free(it->j);
    free(it);
    return r;
  }
  *out = it;
  return 0;
}

int cc_mpi_iter_next(cc_mpi_iter_t *it, size_t *index, cc_buf_t *result, int *status) {
  if (!it || !index || !result)
    return -EINVAL;
  job_t *j = it->j;
  *result = (cc_buf_t){NULL, 0};
  if (!j)
    return -CC_ECLOSED;
  int r = cc__mpi_check_caller(j->m);
  if (r < 0)
    return r;
  if (j->given == j->n)
    return -CC_ECLOSED;
  if (!have_ready(j)) {
    if ((r = pump(j, true)) < 0)
      return r;
    if (!have_ready(j))
      return j->timed_out ? -ETIMEDOUT : -CC_ECLOSED;
  }
  chunk_t **pc = &j->ready, *c;
  if (j->ordered)
    while ((*pc)->h.first + (*pc)->cursor != j->emit)
      pc = &(*pc)->next;
  c = *pc;
  size_t i = c->cursor++, count = c->h.count;
  const int32_t *st = (const int32_t *)c->res;
  const uint64_t *lens = (const uint64_t *)(c->res + cc__mpi_bytes_res_offset(count));
  if (i == 0)
    c->off = cc__mpi_bytes_res_offset(count) + count * 8;
  size_t off = c->off;
  c->off += lens[i];
  int s = st[i];
  if (s == 0) {
    if (off + lens[i] > c->res_len) {
      s = -EBADMSG;
    } else if ((result->data = malloc(lens[i] ? lens[i] : 1))) {
      memcpy(result->data, c->res + off, lens[i]);
      result->len = lens[i];
    } else {
      s = -ENOMEM;
    }
  }
  *index = c->h.first + i;
  if (status)
    *status = s;
  j->given++;
  if (j->ordered)
    j->emit++;
  if (c->cursor == count) {
    *pc = c->next;
    if (j->ready_tail == c) {
      chunk_t *t = j->ready;
      while (t && t->next)
        t = t->next;
      j->ready_tail = t;
    }
    free(c->res);
    free(c);
  }
  return 0;
}

void cc_mpi_iter_free(cc_mpi_iter_t *it) {
  if (!it)
    return;
  job_t *j = it->j;
  if (j && !j->ended && !j->fatal) {
    j->stop = true;
    pump(j, false);
  }
  job_free(j);
  free(it);
}
