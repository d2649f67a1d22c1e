/* The trace emitter: per-thread buffers of Chrome trace-event JSON, one
 * file shared by the process and its forked workers (see core/trace.h).
 *
 * File layout: one event per line, every line ending in ",\n", between a
 * header line and a footer that ends the array with a last metadata event:
 *
 *   {"displayTimeUnit":"ms","otherData":{...},"traceEvents":[
 *   {"ph":"M","name":"process_name",...},
 *   {"ph":"b","cat":"task",...},
 *   ...
 *   {"ph":"M","name":"process_name",...}]}
 *
 * Buffers. A thread formats each event straight into its own buffer and
 * publishes the new length with a release store; nothing is locked on that
 * path. Writing to the file always happens under g_mu, by the owner (its
 * buffer is full: it writes everything and resets the buffer) or by anyone
 * flushing every buffer (cc_run's end, exit, cc_trace_stop: it writes up to
 * the published length and remembers that as `flushed`). Only the owner
 * ever moves the length back to 0, and only under g_mu, so a flusher never
 * reads bytes being written: they are all beyond the length it loaded.
 *
 * Processes. The fd is opened with O_APPEND and inherited by fork(): a
 * worker's writes land whole after whatever is in the file (each write is a
 * whole number of lines). In a child the fork handler drops the parent's
 * pending events (the parent writes them itself) and the other threads'
 * buffers (those threads do not exist there). Only the process that
 * started the trace writes the footer, at its exit.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "concur/error.h"
#include "concur/trace.h"
#include "concur/version.h"
#include "core/trace.h"

#define BUF_CAP      (256 * 1024)
#define HEADROOM     (12 * 1024) /* more than the longest event (strings are capped) */
#define NAME_MAX_OUT 160
#define URL_MAX_OUT  1000

typedef struct tbuf {
  struct tbuf *next, *prev; /* registry, under g_mu */
  _Atomic size_t len;       /* written by the owner only */
  size_t flushed;           /* bytes [0, flushed) are in the file; under g_mu */
  pid_t tid;
  char ids[48]; /* ',"pid":P,"tid":T' of every event of this thread */
  size_t ids_len;
  unsigned named;      /* trace number whose thread_name this thread wrote */
  uint32_t seq;        /* ids of this thread's async slices */
  const void *last_fn; /* cache of the last job's symbol name */
  char last_name[48];
  char data[BUF_CAP];
} tbuf_t;

/* True until the first use has read CONCUR_TRACE (env_init), so that every
 * hook's slow path runs once and resolves it; then true only while a trace
 * is being written. */
_Atomic bool cc__trace_on = true;
static pthread_once_t g_env_once = PTHREAD_ONCE_INIT;
static void env_init(void);

/* Resolves CONCUR_TRACE on first use: the first task, job, chunk, request,
 * fork or trace call. A program that never uses the runtime (`concur trace`
 * itself) never opens the file, so `concur trace $CONCUR_TRACE` cannot
 * truncate its own input. */
static inline void ensure_init(void) {
  pthread_once(&g_env_once, env_init);
}
static _Atomic int g_fd = -1;
static _Atomic unsigned g_gen = 1; /* trace number: track names are per trace */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static tbuf_t *g_bufs;
static pid_t g_pid;       /* this process */
static pid_t g_start_pid; /* the process that opened the file: writes the footer */
static bool g_proc_named; /* process_name written by this process (under g_mu) */
static char g_proc_label[64];
static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static _Thread_local tbuf_t *tl_buf;

int64_t cc__trace_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- writing ------------------------------------------------------------ */

static void write_all(const char *p, size_t n) {
  int fd = atomic_load(&g_fd);
  while (fd >= 0 && n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return; /* disk full or closed: the trace is cut short, the program goes on */
    }
    p += k;
    n -= (size_t)k;
  }
}

/* g_mu held. */
static void flush_buf(tbuf_t *b) {
  size_t len = atomic_load_explicit(&b->len, memory_order_acquire);
  if (len > b->flushed)
    write_all(b->data + b->flushed, len - b->flushed);
  b->flushed = len;
}

/* The owner, its buffer full. */
static void flush_own(tbuf_t *b) {
  pthread_mutex_lock(&g_mu);
  flush_buf(b);
  b->flushed = 0;
  atomic_store_explicit(&b->len, 0, memory_order_relaxed);
  pthread_mutex_unlock(&g_mu);
}

void cc__trace_flush(void) {
  ensure_init();
  pthread_mutex_lock(&g_mu);
  for (tbuf_t *b = g_bufs; b; b = b->next)
    flush_buf(b);
  pthread_mutex_unlock(&g_mu);
}

/* ---- formatting ----------------------------------------------------------- */

static char *put(char *p, const char *s) {
  size_t n = strlen(s);
  memcpy(p, s, n);
  return p + n;
}

/* Two digits at a time: timestamps are the bulk of what is formatted. */
static char *put_u64(char *p, uint64_t v) {
  static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                              "25262728293031323334353637383940414243444546474849"
                              "50515253545556575859606162636465666768697071727374"
                              "75767778798081828384858687888990919293949596979899";
  char tmp[24];
  int i = 24;
  while (v >= 100) {
    unsigned d = (unsigned)(v % 100) * 2;
    v /= 100;
    tmp[--i] = pairs[d + 1];
    tmp[--i] = pairs[d];
  }
  if (v >= 10) {
    tmp[--i] = pairs[v * 2 + 1];
    tmp[--i] = pairs[v * 2];
  } else {
    tmp[--i] = (char)('0' + v);
  }
  memcpy(p, tmp + i, (size_t)(24 - i));
  return p + (24 - i);
}

static char *put_i64(char *p, int64_t v) {
  if (v < 0) {
    *p++ = '-';
    return put_u64(p, (uint64_t)0 - (uint64_t)v);
  }
  return put_u64(p, (uint64_t)v);
}

static char *put_hex(char *p, uint64_t v) {
  static const char hex[] = "0123456789abcdef";
  char tmp[20];
  int i = 0;
  do {
    tmp[i++] = hex[v & 15];
    v >>= 4;
  } while (v);
  *p++ = '"', *p++ = '0', *p++ = 'x';
  while (i)
    *p++ = tmp[--i];
  *p++ = '"';
  return p;
}

/* Microseconds with three decimals: the format's unit, at ns resolution. */
static char *put_us(char *p, int64_t ns) {
  if (ns < 0)
    ns = 0;
  p = put_u64(p, (uint64_t)(ns / 1000));
  int f = (int)(ns % 1000);
  *p++ = '.';
  *p++ = (char)('0' + f / 100);
  *p++ = (char)('0' + f / 10 % 10);
  *p++ = (char)('0' + f % 10);
  return p;
}

/* Length of the valid UTF-8 sequence at s (0: invalid). */
static int utf8_len(const unsigned char *s) {
  unsigned c = s[0];
  int n = c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

/* The inside of a JSON string, from at most `max` input bytes; invalid
 * UTF-8 becomes '?'. */
static char *put_esc(char *p, const char *s, size_t max) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *u = (const unsigned char *)(s ? s : "");
  for (size_t i = 0; u[i] && i < max;) {
    unsigned c = u[i];
    if (c >= 0x80) {
      int n = utf8_len(u + i);
      if (n == 0 || i + (size_t)n > max) {
        *p++ = '?';
        i++;
        continue;
      }
      memcpy(p, u + i, (size_t)n);
      p += n;
      i += (size_t)n;
      continue;
    }
    if (c == '"' || c == '\\') {
      *p++ = '\\';
      *p++ = (char)c;
    } else if (c < 0x20 || c == 0x7f) {
      p = put(p, "\\u00");
      *p++ = hex[c >> 4];
      *p++ = hex[c & 15];
    } else {
      *p++ = (char)c;
    }
    i++;
  }
  return p;
}

static char *put_str(char *p, const char *s, size_t max) {
  *p++ = '"';
  p = put_esc(p, s, max);
  *p++ = '"';
  return p;
}

/* ---- buffers ---------------------------------------------------------------- */

static void buf_destroy(void *v) {
  tbuf_t *b = v;
  pthread_mutex_lock(&g_mu);
  flush_buf(b);
  if (b->prev)
    b->prev->next = b->next;
  else
    g_bufs = b->next;
  if (b->next)
    b->next->prev = b->prev;
  pthread_mutex_unlock(&g_mu);
  if (tl_buf == b)
    tl_buf = NULL;
  free(b);
}

static char *head(char *p, const char *ph, const char *cat, pid_t pid, pid_t tid) {
  p = put(p, "{\"ph\":\"");
  p = put(p, ph);
  p = put(p, "\",\"cat\":\"");
  p = put(p, cat);
  p = put(p, "\",\"pid\":");
  p = put_u64(p, (uint64_t)pid);
  p = put(p, ",\"tid\":");
  return put_u64(p, (uint64_t)tid);
}

/* The start of an event of thread b: '{"ph":"X","cat":"job","pid":P,"tid":T'. */
static char *head_b(char *p, const char *ph, const char *cat, const tbuf_t *b) {
  p = put(p, "{\"ph\":\"");
  p = put(p, ph);
  p = put(p, "\",\"cat\":\"");
  p = put(p, cat);
  *p++ = '"';
  memcpy(p, b->ids, b->ids_len);
  return p + b->ids_len;
}

static void set_ids(tbuf_t *b) {
  b->tid = gettid();
  b->ids_len = (size_t)snprintf(b->ids, sizeof b->ids, ",\"pid\":%d,\"tid\":%d",
                                (int)getpid(), (int)b->tid);
}

static char *meta(char *p, const char *what, pid_t tid, const char *name) {
  p = head(p, "M", "__metadata", g_pid, tid);
  p = put(p, ",\"name\":\"");
  p = put(p, what);
  p = put(p, "\",\"args\":{\"name\":");
  p = put_str(p, name, NAME_MAX_OUT);
  return put(p, "}},\n");
}

static void proc_label(char *out, size_t cap) {
  if (g_proc_label[0]) {
    snprintf(out, cap, "%s", g_proc_label);
    return;
  }
  char comm[32] = "";
  FILE *f = fopen("/proc/self/comm", "re");
  if (f) {
    if (fgets(comm, sizeof comm, f))
      comm[strcspn(comm, "\n")] = 0;
    fclose(f);
  }
  snprintf(out, cap, "%s%s", comm[0] ? comm : "concur",
           g_pid == g_start_pid ? "" : " (child)");
}

/* Writes the track names: the process's once, the thread's once. */
static void name_tracks(tbuf_t *b) {
  char *p = b->data + atomic_load_explicit(&b->len, memory_order_relaxed);
  pthread_mutex_lock(&g_mu);
  bool proc = !g_proc_named;
  g_proc_named = true;
  pthread_mutex_unlock(&g_mu);
  char label[96];
  if (proc) {
    proc_label(label, sizeof label);
    p = meta(p, "process_name", b->tid, label);
  }
  char tname[64] = "";
  if (b->tid == g_pid)
    snprintf(tname, sizeof tname, "%s", g_proc_label[0] ? g_proc_label : "main");
  else if (pthread_getname_np(pthread_self(), tname, sizeof tname) != 0 || !tname[0])
    snprintf(tname, sizeof tname, "thread");
  snprintf(label, sizeof label, "%s %d", tname, (int)b->tid);
  p = meta(p, "thread_name", b->tid, label);
  b->named = atomic_load_explicit(&g_gen, memory_order_relaxed);
  atomic_store_explicit(&b->len, (size_t)(p - b->data), memory_order_release);
}

/* This thread's buffer with room for one event, or NULL (out of memory). */
static tbuf_t *get_buf(void) {
  tbuf_t *b = tl_buf;
  if (__builtin_expect(!b, 0)) {
    b = malloc(sizeof *b);
    if (!b)
      return NULL;
    atomic_init(&b->len, 0);
    b->flushed = 0;
    set_ids(b);
    b->named = 0;
    b->seq = 0;
    b->last_fn = NULL;
    b->prev = NULL;
    pthread_mutex_lock(&g_mu);
    b->next = g_bufs;
    if (g_bufs)
      g_bufs->prev = b;
    g_bufs = b;
    pthread_mutex_unlock(&g_mu);
    tl_buf = b;
    pthread_setspecific(g_key, b);
  }
  if (atomic_load_explicit(&b->len, memory_order_relaxed) + HEADROOM > BUF_CAP)
    flush_own(b);
  if (__builtin_expect(b->named != atomic_load_explicit(&g_gen, memory_order_relaxed), 0))
    name_tracks(b);
  return b;
}

static inline char *cursor(tbuf_t *b) {
  return b->data + atomic_load_explicit(&b->len, memory_order_relaxed);
}

static inline void commit(tbuf_t *b, char *p) {
  atomic_store_explicit(&b->len, (size_t)(p - b->data), memory_order_release);
}

/* ---- set-up ----------------------------------------------------------------- */

static void on_fork_child(void) {
  /* Only this thread exists here; locks another thread held are re-made. */
  pthread_mutex_init(&g_mu, NULL);
  g_pid = getpid();
  g_proc_named = false;
  g_proc_label[0] = 0;
  g_bufs = NULL;
  tbuf_t *b = tl_buf;
  if (b) {
    b->next = b->prev = NULL;
    b->flushed = 0;
    atomic_store_explicit(&b->len, 0, memory_order_relaxed); /* the parent's events */
    set_ids(b);
    b->named = 0;
    g_bufs = b;
  }
}

static void at_exit(void) {
  if (!atomic_load(&cc__trace_on))
    return;
  if (getpid() == g_start_pid)
    cc_trace_stop();
  else
    cc__trace_flush();
}

static void init_once(void) {
  pthread_key_create(&g_key, buf_destroy);
  atexit(at_exit);
}

static int trace_start(const char *path);

static void env_init(void) {
  atomic_store(&cc__trace_on, false);
  const char *path = getenv("CONCUR_TRACE");
  if (path && path[0]) {
    int r = trace_start(path);
    if (r < 0)
      fprintf(stderr, "concur: CONCUR_TRACE=%s: %s (not tracing)\n", path,
              cc_strerror(r));
  }
}

/* A fork resolves CONCUR_TRACE first (prepare), so that a child never opens
 * the file itself; the child handler drops what the parent's threads own.
 * Registered here, once: registering from inside a fork handler would
 * deadlock on glibc's atfork lock. */
__attribute__((constructor)) static void trace_atfork(void) {
  pthread_atfork(ensure_init, NULL, on_fork_child);
}

/* "%p" -> pid, "%%" -> "%". */
static int expand(char *out, size_t cap, const char *path) {
  size_t n = 0;
  for (const char *s = path; *s; s++) {
    char tmp[24];
    const char *add = tmp;
    if (s[0] == '%' && s[1] == 'p') {
      snprintf(tmp, sizeof tmp, "%d", (int)getpid());
      s++;
    } else if (s[0] == '%' && s[1] == '%') {
      tmp[0] = '%', tmp[1] = 0;
      s++;
    } else {
      tmp[0] = *s, tmp[1] = 0;
    }
    size_t k = strlen(add);
    if (n + k + 1 > cap)
      return -ENAMETOOLONG;
    memcpy(out + n, add, k);
    n += k;
  }
  out[n] = 0;
  return 0;
}

int cc_trace_start(const char *path) {
  ensure_init();
  return trace_start(path);
}

static int trace_start(const char *path) {
  if (!path || !path[0])
    return -EINVAL;
  char full[4096];
  int r = expand(full, sizeof full, path);
  if (r < 0)
    return r;
  pthread_once(&g_once, init_once);
  pthread_mutex_lock(&g_mu);
  if (atomic_load(&cc__trace_on) || atomic_load(&g_fd) >= 0) {
    pthread_mutex_unlock(&g_mu);
    return -EALREADY;
  }
  int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    r = -errno;
    pthread_mutex_unlock(&g_mu);
    return r;
  }
  atomic_store(&g_fd, fd);
  g_pid = g_start_pid = getpid();
  g_proc_named = false;
  /* Events left in buffers since a previous stop are not this trace's. */
  for (tbuf_t *b = g_bufs; b; b = b->next) {
    b->flushed = atomic_load_explicit(&b->len, memory_order_acquire);
  }
  atomic_fetch_add(&g_gen, 1); /* every thread names its track again */
  char hdr[160];
  int n =
      snprintf(hdr, sizeof hdr,
               "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"generator\":\"concur %s\","
               "\"clock\":\"CLOCK_MONOTONIC\"},\"traceEvents\":[\n",
               cc_version_string());
  write_all(hdr, (size_t)n);
  atomic_store(&cc__trace_on, true);
  pthread_mutex_unlock(&g_mu);
  return 0;
}

int cc_trace_stop(void) {
  ensure_init();
  pthread_mutex_lock(&g_mu);
  if (!atomic_load(&cc__trace_on)) {
    pthread_mutex_unlock(&g_mu);
    return -EALREADY;
  }
  atomic_store(&cc__trace_on, false);
  for (tbuf_t *b = g_bufs; b; b = b->next)
    flush_buf(b);
  char label[80], end[256];
  proc_label(label, sizeof label);
  char *p = meta(end, "process_name", g_pid, label);
  p -= 2; /* the last event: no comma */
  p = put(p, "]}\n");
  write_all(end, (size_t)(p - end));
  int fd = atomic_exchange(&g_fd, -1);
  close(fd);
  pthread_mutex_unlock(&g_mu);
  return 0;
}

bool cc_trace_enabled(void) {
  ensure_init();
  return CC__TRACING();
}

/* ---- events ----------------------------------------------------------------- */

static const char *base_name(const char *file) {
  const char *s = file ? strrchr(file, '/') : NULL;
  return s ? s + 1 : file ? file : "?";
}

static char *task_id(char *p, tbuf_t *b, uint64_t id) {
  p = put(p, ",\"id\":");
  return put_hex(p, ((uint64_t)b->tid << 32) | (id & 0xffffffffu));
}

/* The slow path of every hook: resolve CONCUR_TRACE, then check again. */
#define READY(...)                                                                       \
  do {                                                                                   \
    ensure_init();                                                                       \
    if (!CC__TRACING())                                                                  \
      return __VA_ARGS__;                                                                \
  } while (0)

void cc__trace_task_begin(uint64_t id, const char *name, const char *file, int line) {
  READY();
  tbuf_t *b = get_buf();
  if (!b)
    return;
  char *p = head_b(cursor(b), "b", "task", b);
  p = put(p, ",\"ts\":");
  p = put_us(p, cc__trace_now());
  p = task_id(p, b, id);
  p = put(p, ",\"name\":");
  p = put_str(p, name, NAME_MAX_OUT);
  p = put(p, ",\"args\":{\"task\":");
  p = put_u64(p, id);
  p = put(p, ",\"site\":\"");
  p = put_esc(p, base_name(file), NAME_MAX_OUT);
  *p++ = ':';
  p = put_i64(p, line);
  commit(b, put(p, "\"}},\n"));
}

void cc__trace_task_end(uint64_t id, const char *name, intptr_t result) {
  READY();
  tbuf_t *b = get_buf();
  if (!b)
    return;
  char *p = head_b(cursor(b), "e", "task", b);
  p = put(p, ",\"ts\":");
  p = put_us(p, cc__trace_now());
  p = task_id(p, b, id);
  p = put(p, ",\"name\":");
  p = put_str(p, name, NAME_MAX_OUT);
  if (result < 0 && result >= INT32_MIN) {
    p = put(p, ",\"args\":{\"error\":\"");
    p = put(p, cc_err_name((int)result));
    p = put(p, "\"}");
  }
  commit(b, put(p, "},\n"));
}

static const char *fn_name(tbuf_t *b, const void *fn) {
  if (fn != b->last_fn) {
    Dl_info di;
    b->last_fn = fn;
    if (dladdr(fn, &di) && di.dli_sname)
      snprintf(b->last_name, sizeof b->last_name, "%s", di.dli_sname);
    else
      snprintf(b->last_name, sizeof b->last_name, "job");
  }
  return b->last_name;
}

intptr_t cc__trace_call(intptr_t (*fn)(void *), void *arg) {
  READY(fn(arg));
  int64_t t0 = cc__trace_now();
  intptr_t r = fn(arg);
  int64_t t1 = cc__trace_now();
  if (!CC__TRACING())
    return r;
  tbuf_t *b = get_buf();
  if (!b)
    return r;
  char *p = head_b(cursor(b), "X", "job", b);
  p = put(p, ",\"ts\":");
  p = put_us(p, t0);
  p = put(p, ",\"dur\":");
  p = put_us(p, t1 - t0);
  p = put(p, ",\"name\":");
  p = put_str(p, fn_name(b, (const void *)fn), NAME_MAX_OUT);
  p = put(p, ",\"args\":{\"fn\":");
  p = put_hex(p, (uint64_t)(uintptr_t)fn);
  commit(b, put(p, "}},\n"));
  return r;
}

void cc__trace_chunk(int index, int64_t t0_ns, int64_t dur_ns, uint64_t base,
                     uint32_t n) {
  READY();
  if (!g_proc_label[0])
    snprintf(g_proc_label, sizeof g_proc_label, "pool worker %d", index);
  tbuf_t *b = get_buf();
  if (!b)
    return;
  char *p = head_b(cursor(b), "X", "chunk", b);
  p = put(p, ",\"ts\":");
  p = put_us(p, t0_ns);
  p = put(p, ",\"dur\":");
  p = put_us(p, dur_ns);
  p = put(p, ",\"name\":\"chunk\",\"args\":{\"items\":\"");
  p = put_u64(p, base);
  *p++ = '-';
  p = put_u64(p, base + (n ? n - 1 : 0));
  p = put(p, "\",\"n\":");
  p = put_u64(p, n);
  p = put(p, ",\"worker\":");
  p = put_i64(p, index);
  commit(b, put(p, "}},\n"));
  flush_own(b); /* a worker may _exit() or be killed at any time */
}

/* An async slice [t0, now) written at once: "b" then "e". */
static void slice(const char *cat, const char *name, size_t name_max, int64_t t0,
                  char *(*args)(char *, const void *), const void *ctx) {
  tbuf_t *b = get_buf();
  if (!b)
    return;
  int64_t t1 = cc__trace_now();
  uint64_t id = (1ull << 63) | ((uint64_t)b->tid << 32) | ++b->seq;
  char *p = cursor(b);
  for (int k = 0; k < 2; k++) {
    p = head_b(p, k ? "e" : "b", cat, b);
    p = put(p, ",\"ts\":");
    p = put_us(p, k ? t1 : t0);
    p = put(p, ",\"id\":");
    p = put_hex(p, id);
    p = put(p, ",\"name\":");
    p = put_str(p, name, name_max);
    if (!k && args)
      p = args(p, ctx);
    p = put(p, "},\n");
  }
  commit(b, p);
}

typedef struct http_ctx {
  const char *method, *url;
  int status;
  int64_t bytes;
} http_ctx_t;

static char *http_args(char *p, const void *v) {
  const http_ctx_t *h = v;
  p = put(p, ",\"args\":{\"method\":");
  p = put_str(p, h->method, 16);
  p = put(p, ",\"url\":");
  p = put_str(p, h->url, URL_MAX_OUT);
  p = put(p, ",\"status\":");
  p = put_i64(p, h->status);
  if (h->status < 0) {
    p = put(p, ",\"error\":\"");
    p = put(p, cc_err_name(h->status));
    *p++ = '"';
  }
  if (h->bytes >= 0) {
    p = put(p, ",\"bytes\":");
    p = put_i64(p, h->bytes);
  }
  return put(p, "}");
}

void cc__trace_http(int side, const char *method, const char *url, int status,
                    int64_t t0_ns, int64_t bytes) {
  READY();
  if (t0_ns <= 0)
    return; /* began untraced */
  char name[NAME_MAX_OUT + 24];
  snprintf(name, sizeof name, "%s %s", method ? method : "?", url ? url : "");
  http_ctx_t h = {method ? method : "?", url ? url : "", status, bytes};
  slice(side == CC__TRACE_SERVER ? "http.server" : "http.client", name, NAME_MAX_OUT,
        t0_ns, http_args, &h);
}

/* ---- public: user spans --------------------------------------------------- */

void cc_trace_span_begin(cc_trace_span_t *span, const char *name) {
  if (!span)
    return;
  ensure_init();
  span->name = name;
  span->t0 = CC__TRACING() ? cc__trace_now() : 0;
}

void cc_trace_span_end(cc_trace_span_t *span) {
  if (!span || !span->t0 || !CC__TRACING())
    return;
  slice("user", span->name, NAME_MAX_OUT, span->t0, NULL, NULL);
  span->t0 = 0;
}

void cc_trace_instant(const char *name) {
  READY();
  tbuf_t *b = get_buf();
  if (!b)
    return;
  char *p = head_b(cursor(b), "i", "user", b);
  p = put(p, ",\"s\":\"t\",\"ts\":");
  p = put_us(p, cc__trace_now());
  p = put(p, ",\"name\":");
  p = put_str(p, name, NAME_MAX_OUT);
  commit(b, put(p, "},\n"));
}
