/* `concur trace FILE.json [-o timeline.svg] [--width PX]` (concur_cmd_trace): draws a
 * Chrome trace-event file (the one CONCUR_TRACE writes, or any other in the same format)
 * as a timeline picture, offline.
 *
 * The picture: a lane per thread, grouped under a header per process
 * (worker processes of a pool each get theirs), labelled with the track
 * names of the file's metadata; spans as bars coloured by kind (task,
 * thread job, pool chunk, HTTP client, HTTP server, user span); a time axis
 * with ticks and labels above and below; a legend with counts.
 *
 * Size. Overlapping spans of a lane (async slices: tasks, requests) are
 * stacked in up to MAX_ROWS rows. Spans narrower than a few pixels are not
 * drawn one by one: neighbours of the same kind in a row are merged into one
 * bar whose tooltip says how many it holds, so the SVG grows with the
 * picture's width, not with the number of events (600k events give well
 * under a megabyte). If the picture still comes out over the budget the
 * threshold is doubled and it is drawn again.
 *
 * Parsing: the emitter writes one event per line, so the file is read line
 * by line (memory stays proportional to the spans, not to a tree of the
 * whole document); any other layout is parsed as one JSON document. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define MAX_ROWS   8
#define MAX_LANES  96
#define ROW_H      14
#define LABEL_W    230
#define SVG_BUDGET (4500 * 1000)

enum { K_TASK, K_JOB, K_CHUNK, K_HTTPC, K_HTTPS, K_USER, K_OTHER, K_NKINDS };
static const char *kind_name[K_NKINDS] = {"task",        "thread job",  "pool chunk",
                                          "http client", "http server", "user span",
                                          "other"};
static const char *kind_color[K_NKINDS] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                           "#b07aa1", "#d4a718", "#9c755f"};

/* ---- a string table (interning and maps) --------------------------------------- */

typedef struct strmap {
  char **keys; /* NULL: empty, (char *)1: a deleted entry */
  long *vals;
  size_t cap, n, used; /* used: entries and deleted ones */
} strmap_t;

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz);
  if (!p) {
    fprintf(stderr, "concur trace: out of memory\n");
    exit(1);
  }
  return p;
}

static char *xstrdup(const char *s) {
  char *d = strdup(s ? s : "");
  if (!d) {
    fprintf(stderr, "concur trace: out of memory\n");
    exit(1);
  }
  return d;
}

static long *map_slot(strmap_t *m, const char *k, bool add);

static void map_grow(strmap_t *m) {
  strmap_t old = *m;
  m->cap = old.cap ? old.cap * 2 : 256;
  m->keys = xcalloc(m->cap, sizeof *m->keys);
  m->vals = xcalloc(m->cap, sizeof *m->vals);
  m->n = m->used = 0;
  for (size_t i = 0; i < old.cap; i++)
    if (old.keys[i] && old.keys[i] != (char *)1) {
      *map_slot(m, old.keys[i], true) = old.vals[i];
      free(old.keys[i]);
    }
  free(old.keys);
  free(old.vals);
}

/* The value slot of `k`, added (value -1) if `add`; NULL if absent. */
static long *map_slot(strmap_t *m, const char *k, bool add) {
  if (add && (m->used + 1) * 2 > m->cap)
    map_grow(m);
  if (!m->cap)
    return NULL;
  size_t i = hash(k) & (m->cap - 1), tomb = (size_t)-1;
  for (;; i = (i + 1) & (m->cap - 1)) {
    char *key = m->keys[i];
    if (!key)
      break;
    if (key == (char *)1) {
      if (tomb == (size_t)-1)
        tomb = i;
      continue;
    }
    if (strcmp(key, k) == 0)
      return &m->vals[i];
  }
  if (!add)
    return NULL;
  if (tomb != (size_t)-1)
    i = tomb;
  else
    m->used++;
  m->keys[i] = xstrdup(k);
  m->vals[i] = -1;
  m->n++;
  return &m->vals[i];
}

static void map_del(strmap_t *m, const char *k) {
  long *v = map_slot(m, k, false);
  if (!v)
    return;
  size_t i = (size_t)(v - m->vals);
  free(m->keys[i]);
  m->keys[i] = (char *)1; /* a tombstone */
  m->n--;
}

static void map_free(strmap_t *m) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->keys[i] != (char *)1)
      free(m->keys[i]);
  free(m->keys);
  free(m->vals);
}

/* Interned strings: equal names share storage (a million "tiny" tasks). */
static strmap_t interned;
static char **istr;
static size_t nistr, capistr;

static const char *intern(const char *s) {
  long *v = map_slot(&interned, s ? s : "", true);
  if (*v < 0) {
    if (nistr == capistr) {
      capistr = capistr ? capistr * 2 : 1024;
      istr = realloc(istr, capistr * sizeof *istr);
      if (!istr)
        exit(1);
    }
    istr[nistr] = xstrdup(s ? s : "");
    *v = (long)nistr++;
  }
  return istr[*v];
}

/* ---- the model ------------------------------------------------------------------- */

typedef struct span {
  double t0, t1; /* µs */
  int lane;
  int kind;
  const char *name;   /* interned */
  const char *detail; /* interned: site, items, status... */
  int row;
} span_t;

typedef struct lane {
  long long pid, tid;
  const char *tname; /* thread_name metadata, or NULL */
  double first;
  size_t nspans;
  int rows, overflow;
  int y;
} lane_t;

typedef struct proc {
  long long pid;
  const char *pname;
  double first;
} proc_t;

typedef struct pending {
  double ts;
  int lane, kind;
  const char *name, *detail;
  long prev; /* an enclosing open slice with the same key, or -1 */
} pending_t;

static span_t *spans;
static size_t nspans, capspans;
static lane_t lanes[4096];
static int nlanes;
static proc_t procs[1024];
static int nprocs;
static double *instants; /* ts, lane pairs */
static size_t ninst, capinst;
static pending_t *pend;
static size_t npend, cappend;
static strmap_t open_slices; /* key -> index in pend */
static size_t nevents, kind_count[K_NKINDS], unmatched;
static double tmin = INFINITY, tmax = -INFINITY;
static strmap_t lane_stack; /* per-lane B/E stacks: "pid/tid" -> pend index */

static int proc_of(long long pid) {
  for (int i = 0; i < nprocs; i++)
    if (procs[i].pid == pid)
      return i;
  if (nprocs == (int)(sizeof procs / sizeof *procs))
    return nprocs - 1;
  procs[nprocs] = (proc_t){pid, NULL, INFINITY};
  return nprocs++;
}

static int lane_of(long long pid, long long tid) {
  for (int i = nlanes - 1; i >= 0; i--)
    if (lanes[i].pid == pid && lanes[i].tid == tid)
      return i;
  if (nlanes == (int)(sizeof lanes / sizeof *lanes))
    return nlanes - 1;
  proc_of(pid);
  lanes[nlanes] = (lane_t){.pid = pid, .tid = tid, .first = INFINITY};
  return nlanes++;
}

static void see_time(double t, int lane) {
  if (t < tmin)
    tmin = t;
  if (t > tmax)
    tmax = t;
  if (t < lanes[lane].first)
    lanes[lane].first = t;
  proc_t *p = &procs[proc_of(lanes[lane].pid)];
  if (t < p->first)
    p->first = t;
}

static void add_span(double t0, double t1, int lane, int kind, const char *name,
                     const char *detail) {
  if (nspans == capspans) {
    capspans = capspans ? capspans * 2 : 4096;
    spans = realloc(spans, capspans * sizeof *spans);
    if (!spans)
      exit(1);
  }
  if (t1 < t0)
    t1 = t0;
  spans[nspans++] = (span_t){t0, t1, lane, kind, name, detail, 0};
  lanes[lane].nspans++;
  kind_count[kind]++;
  see_time(t0, lane);
  see_time(t1, lane);
}

static long push_pending(double ts, int lane, int kind, const char *name,
                         const char *detail, long prev) {
  if (npend == cappend) {
    cappend = cappend ? cappend * 2 : 1024;
    pend = realloc(pend, cappend * sizeof *pend);
    if (!pend)
      exit(1);
  }
  pend[npend] = (pending_t){ts, lane, kind, name, detail, prev};
  see_time(ts, lane);
  return (long)npend++;
}

static int kind_of(const char *cat) {
  if (!strcmp(cat, "task"))
    return K_TASK;
  if (!strcmp(cat, "job"))
    return K_JOB;
  if (!strcmp(cat, "chunk"))
    return K_CHUNK;
  if (!strcmp(cat, "http.client"))
    return K_HTTPC;
  if (!strcmp(cat, "http.server"))
    return K_HTTPS;
  if (!strcmp(cat, "user"))
    return K_USER;
  return K_OTHER;
}

static const char *str(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static long long num(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  if (json_is_integer(v))
    return (long long)json_integer_value(v);
  if (json_is_real(v))
    return (long long)json_real_value(v);
  if (json_is_string(v))
    return atoll(json_string_value(v));
  return 0;
}

/* A short description of a span from its args, for the tooltip. */
static const char *detail_of(int kind, json_t *args) {
  char buf[1200];
  buf[0] = 0;
  if (!json_is_object(args))
    return NULL;
  switch (kind) {
  case K_TASK:
    if (json_object_get(args, "site"))
      snprintf(buf, sizeof buf, "task %lld spawned at %s", num(args, "task"),
               str(args, "site"));
    break;
  case K_CHUNK:
    snprintf(buf, sizeof buf, "items %s (worker %lld)", str(args, "items"),
             num(args, "worker"));
    break;
  case K_HTTPC:
  case K_HTTPS:
    snprintf(buf, sizeof buf, "%s %s -> %lld%s%s", str(args, "method"), str(args, "url"),
             num(args, "status"), json_object_get(args, "error") ? " " : "",
             str(args, "error"));
    break;
  default:
    break;
  }
  return buf[0] ? intern(buf) : NULL;
}

static void handle(json_t *e) {
  if (!json_is_object(e))
    return;
  const char *ph = str(e, "ph");
  if (!ph[0])
    return;
  nevents++;
  long long pid = num(e, "pid"), tid = num(e, "tid");
  if (ph[0] == 'M') {
    json_t *args = json_object_get(e, "args");
    const char *name = str(e, "name"), *v = str(args, "name");
    if (!strcmp(name, "process_name") && v[0])
      procs[proc_of(pid)].pname = intern(v);
    else if (!strcmp(name, "thread_name") && v[0])
      lanes[lane_of(pid, tid)].tname = intern(v);
    return;
  }
  json_t *tsv = json_object_get(e, "ts");
  if (!json_is_number(tsv))
    return;
  double ts = json_number_value(tsv);
  int lane = lane_of(pid, tid);
  const char *cat = str(e, "cat");
  int kind = kind_of(cat);
  const char *name = str(e, "name");
  switch (ph[0]) {
  case 'X': {
    double dur = json_number_value(json_object_get(e, "dur"));
    add_span(ts, ts + dur, lane, kind, intern(name),
             detail_of(kind, json_object_get(e, "args")));
    break;
  }
  case 'b':
  case 'S':
  case 'e':
  case 'F': {
    char key[600], idbuf[64];
    json_t *id = json_object_get(e, "id");
    if (!id) {
      json_t *id2 = json_object_get(e, "id2");
      id = json_object_get(id2, "local") ? json_object_get(id2, "local")
                                         : json_object_get(id2, "global");
    }
    if (json_is_string(id))
      snprintf(idbuf, sizeof idbuf, "%s", json_string_value(id));
    else
      snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(id));
    snprintf(key, sizeof key, "%s\x1f%s\x1f%lld", cat, idbuf, pid);
    long *slot = map_slot(&open_slices, key, ph[0] == 'b' || ph[0] == 'S');
    if (ph[0] == 'b' || ph[0] == 'S') {
      *slot = push_pending(ts, lane, kind, intern(name),
                           detail_of(kind, json_object_get(e, "args")), *slot);
    } else if (slot && *slot >= 0) {
      pending_t *p = &pend[*slot];
      add_span(p->ts, ts, p->lane, p->kind, p->name, p->detail);
      if (p->prev >= 0)
        *slot = p->prev;
      else
        map_del(&open_slices, key);
    } else {
      unmatched++;
    }
    break;
  }
  case 'B':
  case 'E': {
    char key[64];
    snprintf(key, sizeof key, "%lld/%lld", pid, tid);
    long *slot = map_slot(&lane_stack, key, ph[0] == 'B');
    if (ph[0] == 'B') {
      *slot = push_pending(ts, lane, kind, intern(name), NULL, *slot);
    } else if (slot && *slot >= 0) {
      pending_t *p = &pend[*slot];
      add_span(p->ts, ts, p->lane, p->kind, p->name, p->detail);
      *slot = p->prev;
    }
    break;
  }
  case 'i':
  case 'I':
  case 'n':
    if (ninst + 2 > capinst) {
      capinst = capinst ? capinst * 2 : 1024;
      instants = realloc(instants, capinst * sizeof *instants);
      if (!instants)
        exit(1);
    }
    instants[ninst++] = ts;
    instants[ninst++] = lane;
    see_time(ts, lane);
    break;
  default:
    break;
  }
}

/* Slices still open at the end of the file run to its end. */
static void close_open(void) {
  for (size_t i = 0; i < open_slices.cap; i++) {
    if (!open_slices.keys[i] || open_slices.keys[i] == (char *)1)
      continue;
    for (long k = open_slices.vals[i]; k >= 0; k = pend[k].prev) {
      pending_t *p = &pend[k];
      add_span(p->ts, tmax, p->lane, p->kind, p->name, p->detail);
      unmatched++;
    }
  }
}

static int load(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "concur trace: %s: %s\n", path, strerror(errno));
    return -1;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *data = malloc((size_t)(size > 0 ? size : 0) + 1);
  if (!data || (size > 0 && fread(data, 1, (size_t)size, f) != (size_t)size)) {
    fprintf(stderr, "concur trace: %s: cannot read\n", path);
    fclose(f);
    free(data);
    return -1;
  }
  fclose(f);
  data[size] = 0;
  /* One event per line? */
  size_t bad = 0, good = 0;
  for (char *line = data; line && *line;) {
    char *nl = strchr(line, '\n');
    char *end = nl ? nl : line + strlen(line);
    char *s = line, *t = end;
    while (s < t && (*s == ' ' || *s == '\t' || *s == '\r'))
      s++;
    while (t > s && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r' || t[-1] == ','))
      t--;
    if (t - s >= 4 && t[-2] == ']' && t[-1] == '}')
      t -= 2; /* the footer's last event: "...}]}" */
    if (t > s && *s == '{' && t[-1] == '}') {
      json_t *e = json_loadb(s, (size_t)(t - s), JSON_ALLOW_NUL, NULL);
      if (e && json_object_get(e, "ph")) {
        handle(e);
        good++;
      } else {
        bad++;
      }
      json_decref(e);
    }
    if (bad > 2 && good == 0)
      break;
    line = nl ? nl + 1 : NULL;
  }
  if (good == 0) {
    /* Any other layout: the whole document. */
    nevents = 0;
    json_error_t err;
    json_t *root = json_loadb(data, (size_t)size, 0, &err);
    if (!root) {
      fprintf(stderr, "concur trace: %s: not JSON: %s (line %d)\n", path, err.text,
              err.line);
      free(data);
      return -1;
    }
    json_t *evs = json_is_array(root) ? root : json_object_get(root, "traceEvents");
    if (!json_is_array(evs)) {
      fprintf(stderr, "concur trace: %s: no traceEvents array\n", path);
      json_decref(root);
      free(data);
      return -1;
    }
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e) handle(e);
    json_decref(root);
  }
  free(data);
  if (nevents == 0 || !isfinite(tmin)) {
    fprintf(stderr, "concur trace: %s: no timed events\n", path);
    return -1;
  }
  close_open();
  return 0;
}

/* ---- layout ----------------------------------------------------------------------- */

static long long main_pid;

static int cmp_lane(const void *a, const void *b) {
  const lane_t *x = a, *y = b;
  if (x->pid != y->pid) {
    const proc_t *px = &procs[proc_of(x->pid)], *py = &procs[proc_of(y->pid)];
    if ((x->pid == main_pid) != (y->pid == main_pid))
      return x->pid == main_pid ? -1 : 1;
    if (px->first != py->first)
      return px->first < py->first ? -1 : 1;
    return x->pid < y->pid ? -1 : 1;
  }
  if ((x->tid == x->pid) != (y->tid == y->pid))
    return x->tid == x->pid ? -1 : 1;
  if (x->first != y->first)
    return x->first < y->first ? -1 : 1;
  return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static int cmp_span(const void *a, const void *b) {
  const span_t *x = a, *y = b;
  if (x->lane != y->lane)
    return x->lane - y->lane;
  if (x->t0 != y->t0)
    return x->t0 < y->t0 ? -1 : 1;
  if (x->t1 != y->t1)
    return x->t1 > y->t1 ? -1 : 1; /* the longer first: it encloses */
  return 0;
}

/* Sorts lanes (the main process first, then by first event), renumbers the
 * spans' and instants' lanes, and gives every span a row. */
static void layout(void) {
  /* The main process: the one that opened the file writes the first event. */
  double best = INFINITY;
  for (int i = 0; i < nprocs; i++)
    if (procs[i].first < best)
      best = procs[i].first, main_pid = procs[i].pid;
  int order[4096], where[4096];
  lane_t sorted[4096];
  memcpy(sorted, lanes, (size_t)nlanes * sizeof *lanes);
  for (int i = 0; i < nlanes; i++)
    sorted[i].y = i; /* remember the old index */
  qsort(sorted, (size_t)nlanes, sizeof *sorted, cmp_lane);
  for (int i = 0; i < nlanes; i++) {
    order[i] = sorted[i].y;
    where[order[i]] = i;
  }
  memcpy(lanes, sorted, (size_t)nlanes * sizeof *lanes);
  for (size_t i = 0; i < nspans; i++)
    spans[i].lane = where[spans[i].lane];
  for (size_t i = 1; i < ninst; i += 2)
    instants[i] = where[(int)instants[i]];
  qsort(spans, nspans, sizeof *spans, cmp_span);
  double row_end[MAX_ROWS];
  int cur = -1;
  for (size_t i = 0; i < nspans; i++) {
    span_t *s = &spans[i];
    if (s->lane != cur) {
      cur = s->lane;
      for (int r = 0; r < MAX_ROWS; r++)
        row_end[r] = -INFINITY;
    }
    int r = 0;
    while (r < MAX_ROWS && row_end[r] > s->t0)
      r++;
    if (r == MAX_ROWS) {
      r = MAX_ROWS - 1;
      lanes[cur].overflow++;
    }
    s->row = r;
    if (s->t1 > row_end[r])
      row_end[r] = s->t1;
    if (r + 1 > lanes[cur].rows)
      lanes[cur].rows = r + 1;
  }
}

/* ---- drawing ------------------------------------------------------------------------
 */

typedef struct out {
  char *p;
  size_t n, cap;
} out_t;

__attribute__((format(printf, 2, 3))) static void emit(out_t *o, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int k = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k < o->cap - o->n) {
      o->n += (size_t)k;
      return;
    }
    o->cap = o->cap * 2 + (size_t)(k > 0 ? k : 0) + 4096;
    o->p = realloc(o->p, o->cap);
    if (!o->p)
      exit(1);
  }
}

/* Text with XML's special characters escaped, cut to `max` bytes. */
static void emit_text(out_t *o, const char *s, size_t max) {
  char buf[2048];
  size_t n = 0;
  for (size_t i = 0; s && s[i] && n + 8 < sizeof buf; i++) {
    if (i == max) {
      memcpy(buf + n, "...", 3);
      n += 3;
      break;
    }
    const char *r = NULL;
    switch (s[i]) {
    case '<':
      r = "&lt;";
      break;
    case '>':
      r = "&gt;";
      break;
    case '&':
      r = "&amp;";
      break;
    case '"':
      r = "&quot;";
      break;
    default:
      break;
    }
    if (r) {
      memcpy(buf + n, r, strlen(r));
      n += strlen(r);
    } else if ((unsigned char)s[i] >= 0x20) {
      buf[n++] = s[i];
    }
  }
  buf[n] = 0;
  emit(o, "%s", buf);
}

static void fmt_dur(char *buf, size_t cap, double us) {
  if (us < 1)
    snprintf(buf, cap, "%.0f ns", us * 1000);
  else if (us < 1000)
    snprintf(buf, cap, "%.1f µs", us);
  else if (us < 1e6)
    snprintf(buf, cap, "%.2f ms", us / 1000);
  else
    snprintf(buf, cap, "%.3f s", us / 1e6);
}

static double nice_step(double range, int want) {
  double raw = range / want, p = pow(10, floor(log10(raw)));
  double m = raw / p;
  return p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
}

static void fmt_tick(char *buf, size_t cap, double us, double step) {
  if (step >= 1e6)
    snprintf(buf, cap, "%.*f s", step >= 1e7 ? 0 : 1, us / 1e6);
  else if (step >= 1000)
    snprintf(buf, cap, "%.*f ms", step >= 1e4 ? 0 : 1, us / 1000);
  else
    snprintf(buf, cap, "%.*f µs", step >= 10 ? 0 : 1, us);
}

/* What a row has pending: one span, or spans merged because they were too
 * small to see apart or overlapped (the overflow row). */
typedef struct run {
  double x0, x1;
  int kind, row;
  size_t count;
  const span_t *first;
  const char *name; /* the name all merged spans share, or NULL */
  bool open;
} run_t;

static int W, PW;
static double span_us;

static double xof(double t) {
  return LABEL_W + (t - tmin) / span_us * PW;
}

static void draw_span(out_t *o, const span_t *s, double x0, double x1, int y0) {
  char d[32];
  fmt_dur(d, sizeof d, s->t1 - s->t0);
  emit(o,
       "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" "
       "stroke=\"#fff\" stroke-width=\"0.5\"><title>",
       x0, y0 + s->row * ROW_H + 1, x1 - x0, ROW_H - 2, kind_color[s->kind]);
  emit_text(o, s->name, 200);
  emit(o, " (%s, %s)", kind_name[s->kind], d);
  if (s->detail) {
    emit(o, ": ");
    emit_text(o, s->detail, 300);
  }
  emit(o, "</title></rect>");
  if (x1 - x0 > 40) {
    emit(o, "<text x=\"%.1f\" y=\"%d\" fill=\"#fff\" font-size=\"10\">", x0 + 3,
         y0 + s->row * ROW_H + ROW_H - 4);
    emit_text(o, s->name, (size_t)((x1 - x0 - 6) / 6.2));
    emit(o, "</text>");
  }
  emit(o, "\n");
}

static void flush_run(out_t *o, run_t *r, int y0, double min_px) {
  if (!r->open)
    return;
  r->open = false;
  double w = r->x1 - r->x0;
  if (r->count == 1 && w >= min_px) {
    draw_span(o, r->first, r->x0, r->x1, y0);
    return;
  }
  if (w < 1)
    w = 1;
  emit(o,
       "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>%zu "
       "%s%s",
       r->x0, y0 + r->row * ROW_H + 1, w, ROW_H - 2, kind_color[r->kind], r->count,
       kind_name[r->kind], r->count == 1 ? "" : "s");
  if (r->name) {
    emit(o, " (");
    emit_text(o, r->name, 60);
    emit(o, ")");
  }
  emit(o, ", merged: too short or too many to draw one by one</title></rect>\n");
}

static void draw(out_t *o, const char *path, double min_px) {
  o->n = 0;
  int y = 0;
  /* Heights first: a process header before each process's lanes. */
  int header_h = 86, lane_gap = 4, proc_h = 18;
  y = header_h + 22;
  long long last_pid = -1;
  int drawn_lanes = nlanes < MAX_LANES ? nlanes : MAX_LANES;
  for (int i = 0; i < drawn_lanes; i++) {
    if (lanes[i].pid != last_pid) {
      y += proc_h;
      last_pid = lanes[i].pid;
    }
    lanes[i].y = y;
    int rows = lanes[i].rows ? lanes[i].rows : 1;
    y += rows * ROW_H + lane_gap;
  }
  int H = y + 40 + (drawn_lanes < nlanes ? 16 : 0);
  emit(
      o,
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 "
      "0 %d "
      "%d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"11\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
      W, H, W, H);
  /* Title and summary. */
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char dur[32];
  fmt_dur(dur, sizeof dur, span_us);
  emit(o, "<text x=\"12\" y=\"22\" font-size=\"16\" font-weight=\"bold\">concur trace: ");
  emit_text(o, base, 80);
  int nlaneprocs = 0; /* processes with a lane (one only named has none) */
  for (int i = 0; i < nlanes; i++)
    nlaneprocs += i == 0 || lanes[i].pid != lanes[i - 1].pid;
  emit(o,
       "</text>\n<text x=\"12\" y=\"40\" fill=\"#555\">%zu events, %zu spans over %s, "
       "%d threads in %d processes",
       nevents, nspans, dur, nlanes, nlaneprocs);
  if (unmatched)
    emit(o, ", %zu slices without their begin or end", unmatched);
  emit(o, "</text>\n");
  /* Legend. */
  int lx = 12;
  for (int k = 0; k < K_NKINDS; k++) {
    if (k == K_OTHER && !kind_count[k])
      continue;
    emit(o, "<rect x=\"%d\" y=\"52\" width=\"12\" height=\"12\" fill=\"%s\"/>", lx,
         kind_color[k]);
    char lab[64];
    int len = snprintf(lab, sizeof lab, "%s (%zu)", kind_name[k], kind_count[k]);
    emit(o, "<text x=\"%d\" y=\"62\">%s</text>\n", lx + 16, lab);
    lx += 16 + len * 7 + 18; /* about 6.5 px a character at 11 px */
  }
  if (ninst) {
    emit(o, "<path d=\"M%d 52 l5 10 l5 -10 z\" fill=\"#222\"/>", lx);
    emit(o, "<text x=\"%d\" y=\"62\">instant (%zu)</text>\n", lx + 14, ninst / 2);
  }
  /* Axis and grid. */
  int top = header_h + 10, bottom = H - 34;
  double step = nice_step(span_us, PW / 110);
  emit(o, "<g stroke=\"#e3e3e3\">");
  for (double t = 0; t <= span_us + step / 1e6; t += step)
    emit(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", xof(tmin + t), top,
         xof(tmin + t), bottom);
  emit(o, "</g>\n<g fill=\"#333\" text-anchor=\"middle\">");
  for (double t = 0; t <= span_us + step / 1e6; t += step) {
    char lab[32];
    fmt_tick(lab, sizeof lab, t, step);
    emit(o, "<text x=\"%.1f\" y=\"%d\">%s</text><text x=\"%.1f\" y=\"%d\">%s</text>",
         xof(tmin + t), top - 2, lab, xof(tmin + t), bottom + 14, lab);
  }
  emit(o,
       "</g>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>"
       "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n",
       LABEL_W, top, LABEL_W + PW, top, LABEL_W, bottom, LABEL_W + PW, bottom);
  emit(o,
       "<text x=\"%d\" y=\"%d\" fill=\"#555\" text-anchor=\"end\">time since the first "
       "event</text>\n",
       LABEL_W + PW, H - 6);
  /* Lanes: background, labels. */
  last_pid = -1;
  for (int i = 0; i < drawn_lanes; i++) {
    lane_t *l = &lanes[i];
    int rows = l->rows ? l->rows : 1;
    if (l->pid != last_pid) {
      last_pid = l->pid;
      const proc_t *p = &procs[proc_of(l->pid)];
      emit(o, "<text x=\"8\" y=\"%d\" font-weight=\"bold\">", l->y - 5);
      emit_text(o, p->pname ? p->pname : "process", 40);
      emit(o,
           " (pid %lld)</text><line x1=\"8\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
           "stroke=\"#bbb\"/>\n",
           l->pid, l->y - 2, LABEL_W + PW, l->y - 2);
    }
    emit(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>", LABEL_W,
         l->y, PW, rows * ROW_H, i % 2 ? "#f6f6f6" : "#fbfbfb");
    emit(o, "<text x=\"18\" y=\"%d\">", l->y + ROW_H - 3);
    char tn[48];
    if (l->tname)
      snprintf(tn, sizeof tn, "%s", l->tname);
    else
      snprintf(tn, sizeof tn, "thread %lld", l->tid);
    emit_text(o, tn, 30);
    emit(o, "</text>");
    if (l->overflow)
      emit(o,
           "<text x=\"18\" y=\"%d\" fill=\"#888\" font-size=\"9\">+%d overlapping, "
           "drawn in the last row</text>",
           l->y + 2 * ROW_H - 3, l->overflow);
    emit(o, "\n");
  }
  if (drawn_lanes < nlanes)
    emit(o, "<text x=\"8\" y=\"%d\" fill=\"#888\">%d more lanes not drawn</text>\n",
         bottom + 28, nlanes - drawn_lanes);
  /* Spans, row by row, merging what is too small to see apart and what
   * overlaps (only the overflow row has overlaps). */
  double gap = min_px > 3 ? min_px - 2 : 1;
  run_t runs[MAX_ROWS];
  int cur = -1;
  for (size_t i = 0; i < nspans; i++) {
    const span_t *s = &spans[i];
    if (s->lane >= drawn_lanes)
      break;
    if (s->lane != cur) {
      if (cur >= 0)
        for (int r = 0; r < MAX_ROWS; r++)
          flush_run(o, &runs[r], lanes[cur].y, min_px);
      cur = s->lane;
      memset(runs, 0, sizeof runs);
    }
    double x0 = xof(s->t0), x1 = xof(s->t1);
    run_t *r = &runs[s->row];
    bool tiny = x1 - x0 < min_px;
    bool r_tiny = r->open && (r->count > 1 || r->x1 - r->x0 < min_px);
    if (r->open && r->kind == s->kind &&
        (x0 < r->x1 || (tiny && r_tiny && x0 <= r->x1 + gap))) {
      if (x1 > r->x1)
        r->x1 = x1;
      r->count++;
      if (r->name != s->name)
        r->name = NULL;
      continue;
    }
    flush_run(o, r, lanes[cur].y, min_px);
    *r = (run_t){x0, x1, s->kind, s->row, 1, s, s->name, true};
  }
  if (cur >= 0 && cur < drawn_lanes)
    for (int r = 0; r < MAX_ROWS; r++)
      flush_run(o, &runs[r], lanes[cur].y, min_px);
  /* Instants: a small dark triangle on top of the lane, one per pixel. */
  double last_x = -1;
  int last_lane = -1;
  for (size_t i = 0; i < ninst; i += 2) {
    int ln = (int)instants[i + 1];
    if (ln >= drawn_lanes)
      continue;
    double x = xof(instants[i]);
    if (ln == last_lane && fabs(x - last_x) < 1)
      continue;
    last_x = x, last_lane = ln;
    emit(o, "<path d=\"M%.1f %d l-4 -6 h8 z\" fill=\"#222\"/>\n", x, lanes[ln].y + 6);
  }
  emit(o, "</svg>\n");
}

/* ---- main ---------------------------------------------------------------------------
 */

static int trace_main(int argc, char **argv) {
  const char *in = NULL, *outp = "timeline.svg";
  W = 1200;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--width")) {
      if (i + 1 == argc)
        return concur_usage_error("trace", "%s needs a value", argv[i]);
      if (argv[i][1] == 'o') {
        outp = argv[++i];
        continue;
      }
      char *end;
      long w = strtol(argv[++i], &end, 10);
      if (*end || w < 600 || w > 20000)
        return concur_usage_error("trace", "bad --width '%s' (600 to 20000 pixels)",
                                  argv[i]);
      W = (int)w;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return concur_usage_error("trace", "unknown option '%s'", argv[i]);
    } else if (in) {
      return concur_usage_error("trace", "one trace file at a time ('%s')", argv[i]);
    } else {
      in = argv[i];
    }
  }
  if (!in)
    return concur_usage_error("trace", "which trace file?");
  if (load(in) < 0)
    return 1;
  layout();
  PW = W - LABEL_W - 16;
  span_us = tmax > tmin ? tmax - tmin : 1;
  out_t o = {malloc(1 << 20), 0, 1 << 20};
  if (!o.p)
    return 1;
  double min_px = 3;
  draw(&o, in, min_px);
  while (o.n > SVG_BUDGET && min_px < PW) {
    min_px *= 2;
    draw(&o, in, min_px);
  }
  FILE *f = fopen(outp, "wb");
  if (!f || fwrite(o.p, 1, o.n, f) != o.n || fclose(f) != 0) {
    fprintf(stderr, "concur trace: %s: %s\n", outp, strerror(errno));
    return 1;
  }
  printf("concur trace: %zu events, %zu spans, %d lanes -> %s (%.1f KB)\n", nevents,
         nspans, nlanes, outp, (double)o.n / 1024.0);
  free(o.p);
  free(spans);
  free(pend);
  free(instants);
  for (size_t i = 0; i < nistr; i++)
    free(istr[i]);
  free(istr);
  map_free(&interned);
  map_free(&open_slices);
  map_free(&lane_stack);
  return 0;
}

const concur_cmd_t concur_cmd_trace = {
    .name = "trace",
    .args = "FILE [-o SVG]",
    .summary = "draw a CONCUR_TRACE file as an SVG timeline",
    .help =
        "Draws a trace written with CONCUR_TRACE=FILE.json (or any Chrome trace-event\n"
        "file) as a picture: a lane per thread and per worker process, spans\n"
        "coloured by kind (task, thread job, pool chunk, HTTP client and server,\n"
        "user span), a time axis and a legend. Open the SVG in a browser (each\n"
        "bar has a tooltip); the JSON itself opens in Perfetto.\n"
        "\n"
        "  FILE.json      the trace to draw\n"
        "  -o SVG         where to write the picture (default timeline.svg)\n"
        "  --width PX     its width in pixels, 600 to 20000 (default 1200)\n",
    .main = trace_main,
};
