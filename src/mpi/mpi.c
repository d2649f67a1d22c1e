/* concur::mpi: starting and ending a rank, running a chunk inside a rank
 * (local pool or threads), the checkpoint file and the note rank 0 leaves
 * when the job is stopped. The scheduling of rank 0 is in parent.c, the
 * serving loop of the worker ranks in worker.c. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mpi_int.h"

int64_t cc__mpi_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Polling with back-off: MPI's blocking calls spin at 100% CPU, which on a
 * machine whose cores run the items would steal one from them. A caller
 * with transfers in flight (busy) only yields the CPU between progress calls,
 * because Open MPI moves a large message in fragments, each of which needs a
 * progress call on both sides; an idle one naps, backing off to 1 ms. */
void cc__mpi_backoff(unsigned *idle, bool busy) {
  unsigned k = (*idle)++;
  if (k < 64)
    return;
  if (busy) {
    sched_yield();
    return;
  }
  long ns = 20000L << (k - 64 < 6 ? k - 64 : 6);
  if (ns > 1000000)
    ns = 1000000;
  struct timespec ts = {0, ns};
  nanosleep(&ts, NULL);
}

int cc__mpi_wait(MPI_Request *reqs, int n) {
  unsigned idle = 0;
  for (;;) {
    int flag = 0;
    if (MPI_Testall(n, reqs, &flag, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
      return -CC_EMPI;
    if (flag)
      return 0;
    cc__mpi_backoff(&idle, true);
  }
}

int cc__mpi_send(const void *buf, size_t len, int to, int tag, MPI_Comm comm) {
  MPI_Request r;
  if (MPI_Isend(buf, (int)len, MPI_BYTE, to, tag, comm, &r) != MPI_SUCCESS)
    return -CC_EMPI;
  return cc__mpi_wait(&r, 1);
}

int cc__mpi_recv(void *buf, size_t len, int from, int tag, MPI_Comm comm) {
  MPI_Request r;
  if (MPI_Irecv(buf, (int)len, MPI_BYTE, from, tag, comm, &r) != MPI_SUCCESS)
    return -CC_EMPI;
  return cc__mpi_wait(&r, 1);
}

/* ---- the note of what is done (rank 0, read by a signal handler) ------- */

static char note_buf[2][512];
static atomic_int note_cur = -1;
static struct sigaction old_term;
static bool term_installed;

static void on_term(int sig) {
  int c = atomic_load(&note_cur);
  if (c >= 0) {
    ssize_t w = write(2, note_buf[c], strlen(note_buf[c]));
    (void)w;
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

static const char *ck_name;

void cc__mpi_note(cc_mpi_t *m, uint32_t map, size_t done, size_t n, size_t chunks,
                  size_t resumed) {
  int next = atomic_load(&note_cur) == 0 ? 1 : 0;
  char *b = note_buf[next];
  int len;
  if (ck_name)
    len = snprintf(b, sizeof note_buf[0],
                   "concur mpi: job stopped during map #%u: %zu of %zu items done "
                   "(%zu chunks, %zu items from an earlier run) and saved in checkpoint "
                   "%s; rerun with --resume to do only the other %zu\n",
                   map, done, n, chunks, resumed, ck_name, n - done);
  else
    len = snprintf(b, sizeof note_buf[0],
                   "concur mpi: job stopped during map #%u: %zu of %zu items done "
                   "(%zu chunks); no checkpoint file, a rerun starts again\n",
                   map, done, n, chunks);
  (void)len;
  (void)m;
  atomic_store(&note_cur, next);
}

void cc__mpi_note_clear(void) {
  atomic_store(&note_cur, -1);
}

/* ---- checkpoint ---------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t len) {
  const char *c = p;
  while (len) {
    ssize_t w = write(fd, c, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    c += w;
    len -= (size_t)w;
  }
  return 0;
}

/* Reads the records of an existing checkpoint; a record cut short by a
 * crash in the middle of its write is dropped (and overwritten). */
static int ck_load(cc_mpi_t *m) {
  struct stat st;
  if (fstat(m->ck_fd, &st) < 0)
    return -errno;
  if (st.st_size == 0)
    return write_all(m->ck_fd, CK_FILE_MAGIC, 8);
  char magic[8];
  if (pread(m->ck_fd, magic, 8, 0) != 8 || memcmp(magic, CK_FILE_MAGIC, 8) != 0)
    return -CC_ECHECKPOINT;
  off_t off = 8;
  size_t cap = 0;
  while (off + (off_t)sizeof(ck_rec_t) <= st.st_size) {
    ck_rec_t r;
    if (pread(m->ck_fd, &r, sizeof r, off) != (ssize_t)sizeof r ||
        r.magic != CK_REC_MAGIC)
      break;
    if (off + (off_t)sizeof r + (off_t)r.len > st.st_size)
      break;
    if (m->nck == cap) {
      cap = cap ? cap * 2 : 64;
      ck_entry_t *e = realloc(m->ck, cap * sizeof *e);
      if (!e)
        return -ENOMEM;
      m->ck = e;
    }
    m->ck[m->nck++] = (ck_entry_t){r, off + (off_t)sizeof r};
    off += (off_t)sizeof r + (off_t)r.len;
  }
  if (ftruncate(m->ck_fd, off) < 0)
    return -errno;
  if (lseek(m->ck_fd, off, SEEK_SET) < 0)
    return -errno;
  return 0;
}

static int ck_open(cc_mpi_t *m) {
  m->ck_fd = open(m->o.checkpoint,
                  O_RDWR | O_CREAT | O_CLOEXEC | (m->o.resume ? 0 : O_TRUNC), 0644);
  if (m->ck_fd < 0)
    return -errno;
  if (!(m->ck_path = strdup(m->o.checkpoint)))
    return -ENOMEM;
  ck_name = m->ck_path;
  return ck_load(m);
}

int cc__mpi_ck_append(cc_mpi_t *m, const ck_rec_t *rec, const void *data) {
  if (m->ck_fd < 0)
    return 0;
  /* The header last would be safer against a torn write, but a record is
   * only trusted when its whole length is in the file (ck_load). */
  int r = write_all(m->ck_fd, rec, sizeof *rec);
  return r < 0 ? r : write_all(m->ck_fd, data, rec->len);
}

int cc__mpi_ck_read(cc_mpi_t *m, const ck_entry_t *e, void *buf) {
  size_t got = 0;
  while (got < e->rec.len) {
    ssize_t r =
        pread(m->ck_fd, (char *)buf + got, e->rec.len - got, e->data_off + (off_t)got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r < 0 ? -errno : -CC_ECHECKPOINT;
    got += (size_t)r;
  }
  return 0;
}

/* ---- running a chunk inside this rank -------------------------------- */

typedef struct slice {
  cc_mpi_t *m;
  cc_pool_rec_fn rfn;
  cc_pool_fn bfn;
  void *ctx;
  const char *in;
  char *out;
  size_t in_size, out_size, a, b;
  const cc_buf_t *items;
  cc_buf_t *results;
  int *status;
  int err;
  size_t fail;
} slice_t;

static void *run_slice(void *arg) {
  slice_t *s = arg;
  s->err = 0;
  s->fail = (size_t)-1;
  if (s->rfn) {
    for (size_t i = s->a; i < s->b; i++) {
      int r = s->rfn(s->in + i * s->in_size, s->out + i * s->out_size, s->ctx);
      if (r < 0 && s->fail == (size_t)-1) {
        s->err = r;
        s->fail = i;
      }
    }
    return NULL;
  }
  size_t cap = s->m->o.max_result;
  char *buf = malloc(cap);
  for (size_t i = s->a; i < s->b; i++) {
    s->results[i] = (cc_buf_t){NULL, 0};
    ssize_t r =
        buf ? s->bfn(s->items[i].data, s->items[i].len, buf, cap, s->ctx) : -ENOMEM;
    if (r >= 0 && (size_t)r > cap)
      r = -CC_ETOOBIG;
    if (r >= 0) {
      void *d = malloc(r ? (size_t)r : 1);
      if (!d) {
        r = -ENOMEM;
      } else {
        memcpy(d, buf, (size_t)r);
        s->results[i] = (cc_buf_t){d, (size_t)r};
      }
    }
    s->status[i] = r < 0 ? (int)r : 0;
  }
  free(buf);
  return NULL;
}

/* Splits [0, count) over the rank's threads (the caller's thread takes the
 * first slice) and returns the lowest failure. */
static int run_threads(cc_mpi_t *m, slice_t *proto, size_t count, size_t *fail_off) {
  int t = m->threads > 0 ? m->threads : 1;
  if ((size_t)t > count)
    t = count ? (int)count : 1;
  slice_t s[t];
  pthread_t th[t];
  bool started[t];
  for (int i = 0; i < t; i++) {
    s[i] = *proto;
    s[i].a = count * (size_t)i / (size_t)t;
    s[i].b = count * (size_t)(i + 1) / (size_t)t;
    started[i] = i > 0 && pthread_create(&th[i], NULL, run_slice, &s[i]) == 0;
  }
  for (int i = 0; i < t; i++)
    if (!started[i])
      run_slice(&s[i]);
  int err = 0;
  *fail_off = (size_t)-1;
  for (int i = 0; i < t; i++) {
    if (started[i])
      pthread_join(th[i], NULL);
    if (s[i].err < 0 && s[i].fail < *fail_off) {
      err = s[i].err;
      *fail_off = s[i].fail;
    }
  }
  return err;
}

int cc__mpi_run_records(cc_mpi_t *m, cc_pool_rec_fn fn, void *ctx, const char *in,
                        size_t in_size, char *out, size_t out_size, size_t count,
                        size_t *fail_off) {
  *fail_off = (size_t)-1;
  if (count == 0)
    return 0;
  if (m->pool) {
    size_t f = (size_t)-1;
    int r = cc_pool_map_records(m->pool, fn, ctx, in, in_size, out, out_size, count, &f,
                                NULL);
    if (r == -CC_ECLOSED)
      r = -CC_EWORKER; /* the local pool gave up: its workers die at start */
    if (r < 0)
      *fail_off = f < count ? f : 0;
    return r;
  }
  slice_t proto = {.m = m,
                   .rfn = fn,
                   .ctx = ctx,
                   .in = in,
                   .out = out,
                   .in_size = in_size,
                   .out_size = out_size};
  return run_threads(m, &proto, count, fail_off);
}

size_t cc__mpi_bytes_res_offset(size_t count) {
  return (count * sizeof(int32_t) + 7) & ~(size_t)7;
}

int cc__mpi_run_bytes(cc_mpi_t *m, cc_pool_fn fn, void *ctx, const char *data, size_t len,
                      size_t count, char **res, size_t *res_len) {
  *res = NULL;
  cc_buf_t *items = malloc((count ? count : 1) * sizeof *items);
  cc_buf_t *results = calloc(count ? count : 1, sizeof *results);
  int *status = calloc(count ? count : 1, sizeof *status);
  int err = 0;
  if (!items || !results || !status) {
    err = -ENOMEM;
    goto out;
  }
  const uint64_t *lens = (const uint64_t *)data;
  size_t off = count * sizeof(uint64_t);
  for (size_t i = 0; i < count; i++) {
    if (lens[i] > len - off) {
      err = -EBADMSG;
      goto out;
    }
    items[i] = (cc_buf_t){(void *)(data + off), lens[i]};
    off += lens[i];
  }
  if (m->pool) {
    int r = cc_pool_map(m->pool, fn, ctx, items, count, results, status, NULL, NULL);
    if (r == -CC_ECLOSED)
      r = -CC_EWORKER; /* the local pool gave up: its workers die at start */
    for (size_t i = 0; i < count; i++)
      if (status[i] == -CC_ECLOSED)
        status[i] = -CC_EWORKER;
    if (r < 0)
      for (size_t i = 0; i < count; i++)
        if (!results[i].data && status[i] == 0)
          status[i] = r; /* the whole map failed (pool closed, ...) */
  } else {
    slice_t proto = {.m = m,
                     .bfn = fn,
                     .ctx = ctx,
                     .items = items,
                     .results = results,
                     .status = status};
    size_t f;
    run_threads(m, &proto, count, &f);
  }
  size_t head = cc__mpi_bytes_res_offset(count) + count * sizeof(uint64_t), total = head;
  for (size_t i = 0; i < count; i++)
    total += results[i].len;
  char *b = malloc(total ? total : 1);
  if (!b) {
    err = -ENOMEM;
    goto out;
  }
  memset(b, 0, head);
  int32_t *st = (int32_t *)b;
  uint64_t *ol = (uint64_t *)(b + cc__mpi_bytes_res_offset(count));
  off = head;
  for (size_t i = 0; i < count; i++) {
    st[i] = status[i];
    ol[i] = results[i].len;
    if (results[i].len)
      memcpy(b + off, results[i].data, results[i].len);
    off += results[i].len;
  }
  *res = b;
  *res_len = total;
out:
  if (results)
    for (size_t i = 0; i < count; i++)
      free(results[i].data);
  free(items);
  free(results);
  free(status);
  return err;
}

/* ---- life cycle ---------------------------------------------------------- */

static int env_int(const char *name, int dflt) {
  const char *v = getenv(name);
  return v && *v ? atoi(v) : dflt;
}

int cc__mpi_check_caller(cc_mpi_t *m) {
  if (m->provided < MPI_THREAD_SERIALIZED && !pthread_equal(m->thread, pthread_self()))
    return -EPERM;
  return 0;
}

int cc_mpi_init(cc_mpi_t **out, int *argc, char ***argv, const cc_mpi_opts_t *opts) {
  if (!out || (opts && (opts->workers < 0 || opts->threads < 0)))
    return -EINVAL;
  cc_mpi_t *m = calloc(1, sizeof *m);
  if (!m)
    return -ENOMEM;
  if (opts)
    m->o = *opts;
  if (!m->o.max_result)
    m->o.max_result = 1 << 20;
  m->ck_fd = -1;
  m->failed_index = (size_t)-1;
  m->thread = pthread_self();
  int inited = 0, r = 0;
  MPI_Initialized(&inited);

  /* Before MPI_Init, mpirun's environment already says who we are: rank 0
   * of a job of several ranks runs no items and needs no pool. */
  int rank = env_int("OMPI_COMM_WORLD_RANK", 0),
      size = env_int("OMPI_COMM_WORLD_SIZE", 1);
  int lsize = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1);
  int lrank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", 0);
  bool runs_items = !(rank == 0 && size > 1);
  if (runs_items) {
    int local = m->o.threads ? m->o.threads : m->o.workers;
    if (!local) {
      /* Ranks are placed by slot: this node holds rank 0 when its first
       * local rank is rank 0; that rank does no work, so it is not counted. */
      int others = lsize - (size > 1 && rank - lrank == 0 ? 1 : 0);
      local = cc_cpu_count() / (others > 0 ? others : 1);
      if (local < 1)
        local = 1;
    }
    if (m->o.threads || inited) {
      /* Threads: never fork. Also the only choice if MPI is already up. */
      m->threads = local;
      if (m->o.initializer && (r = m->o.initializer(m->o.initargs)) < 0) {
        free(m);
        return r;
      }
    } else {
      if (cc_shm_new(&m->shm_in, CC_MPI_CHUNK_BYTES) < 0 ||
          cc_shm_new(&m->shm_out, CC_MPI_CHUNK_BYTES) < 0) {
        cc_shm_free(m->shm_in); /* optional: chunks then go through the rings */
        m->shm_in = NULL;
      }
      cc_pool_opts_t po = {.workers = local,
                           .initializer = m->o.initializer,
                           .initargs = m->o.initargs,
                           .max_result = m->o.max_result};
      if ((r = cc_pool_new(&m->pool, &po)) < 0) {
        cc_shm_free(m->shm_in);
        cc_shm_free(m->shm_out);
        free(m);
        return r;
      }
    }
    m->local = local;
  }

  if (!inited) {
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &m->provided) != MPI_SUCCESS) {
      r = -CC_EMPI;
      goto fail;
    }
    m->we_init = true;
  } else {
    MPI_Query_thread(&m->provided);
  }
  /* The local pool's manager thread, or the item threads, exist beside the
   * one that calls MPI: that is MPI_THREAD_FUNNELED at least. */
  if (m->provided < MPI_THREAD_FUNNELED && (m->pool || m->threads > 1)) {
    fprintf(stderr, "concur mpi: MPI granted thread level %d only (FUNNELED needed)\n",
            m->provided);
    r = -CC_EMPI;
    goto fail;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (MPI_Comm_dup(MPI_COMM_WORLD, &m->comm) != MPI_SUCCESS) {
    r = -CC_EMPI;
    goto fail;
  }
  MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(m->comm, &m->rank);
  MPI_Comm_size(m->comm, &m->size);
  if (m->rank == 0 && m->size > 1) {
    m->local = 0; /* a pool started by mistake (other launcher) just idles */
  } else if (!m->pool && !m->threads) {
    m->threads = 1; /* not foreseen from the environment: run on this thread */
    m->local = 1;
  }
  if (m->rank == 0) {
    if (m->o.checkpoint && (r = ck_open(m)) < 0)
      goto fail_comm;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    term_installed = sigaction(SIGTERM, &sa, &old_term) == 0;
  }
  *out = m;
  return 0;

fail_comm:
  MPI_Comm_free(&m->comm);
fail:
  if (m->we_init) {
    /* The other ranks wait for this one in MPI_Finalize: say why first. */
    fprintf(stderr, "concur mpi: rank %d: %s\n", m->rank, cc_strerror(r));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (m->ck_fd >= 0)
    close(m->ck_fd);
  free(m->ck);
  free(m->ck_path);
  ck_name = NULL;
  cc_pool_free(m->pool);
  cc_shm_free(m->shm_in);
  cc_shm_free(m->shm_out);
  free(m);
  return r;
}

int cc_mpi_rank(const cc_mpi_t *m) {
  return m->rank;
}

int cc_mpi_size(const cc_mpi_t *m) {
  return m->size;
}

bool cc_mpi_is_root(const cc_mpi_t *m) {
  return m->rank == 0;
}

int cc_mpi_thread_level(const cc_mpi_t *m) {
  return m->provided;
}

int cc_mpi_local_workers(const cc_mpi_t *m) {
  return m->local;
}

size_t cc_mpi_failed_index(const cc_mpi_t *m) {
  return m->failed_index;
}

size_t cc_mpi_resumed_items(const cc_mpi_t *m) {
  return m->resumed;
}

void cc_mpi_finalize(cc_mpi_t *m) {
  if (!m)
    return;
  if (m->rank == 0 && term_installed) {
    sigaction(SIGTERM, &old_term, NULL);
    term_installed = false;
  }
  cc__mpi_note_clear();
  if (m->ck_fd >= 0)
    close(m->ck_fd);
  ck_name = NULL;
  MPI_Comm_free(&m->comm);
  if (m->we_init)
    MPI_Finalize();
  cc_pool_free(m->pool);
  cc_shm_free(m->shm_in);
  cc_shm_free(m->shm_out);
  free(m->ck);
  free(m->ck_path);
  free(m);
}
