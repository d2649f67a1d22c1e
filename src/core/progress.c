/* The progress display of include/concur/progress.h: a live bar on a
 * terminal, plain lines elsewhere, one formatter for both. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "concur/loop.h"
#include "concur/progress.h"

#define BAR_W 24

struct cc_progress {
  pthread_mutex_t mu;
  char *label, *unit;
  FILE *out;
  bool bar, off, finished, drawn;
  int64_t interval_ms, start, last;
  uint64_t done, total;
  cc_progress_field_t fields[CC_PROGRESS_MAX_FIELDS];
  size_t nfields;
};

/* "1.5s", "2m05s", "1h02m". */
static void fmt_time(char *buf, size_t cap, double s) {
  if (s < 0)
    s = 0;
  if (s < 60)
    snprintf(buf, cap, "%.1fs", s);
  else if (s < 3600)
    snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
  else
    snprintf(buf, cap, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}

static void fmt_rate(char *buf, size_t cap, double r) {
  snprintf(buf, cap, r >= 100 ? "%.0f" : r >= 10 ? "%.1f" : "%.2f", r);
}

static int term_width(FILE *out) {
  struct winsize ws;
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
    return ws.ws_col;
  return 0;
}

void cc_progress_print(FILE *out, bool bar, const char *label, const char *unit,
                       uint64_t done, uint64_t total, double elapsed_s, bool final,
                       const cc_progress_field_t *fields, size_t nfields) {
  if (!out)
    out = stderr;
  label = label ? label : "progress";
  unit = unit ? unit : "items";
  char line[512], el[16], eta[16], rate[24];
  size_t n = 0;
#define ADD(...)                                                                         \
  do {                                                                                   \
    int k_ = snprintf(line + n, sizeof line - n, __VA_ARGS__);                           \
    if (k_ > 0)                                                                          \
      n = n + (size_t)k_ < sizeof line ? n + (size_t)k_ : sizeof line - 1;               \
  } while (0)
  double r = elapsed_s > 0 ? (double)done / elapsed_s : 0;
  fmt_time(el, sizeof el, elapsed_s);
  fmt_rate(rate, sizeof rate, r);
  bool known = total > 0;
  double frac = known ? (double)done / (double)total : 0;
  if (frac > 1)
    frac = 1;
  fmt_time(eta, sizeof eta,
           r > 0 && known && done < total ? (double)(total - done) / r : 0);
  if (bar) {
    ADD("%s ", label);
    if (known) {
      char b[BAR_W + 1];
      int fill = (int)(frac * BAR_W + (final ? 0.5 : 0));
      for (int i = 0; i < BAR_W; i++)
        b[i] = i < fill ? '#' : '.';
      b[BAR_W] = 0;
      ADD("[%s] %llu/%llu %s %.1f%%", b, (unsigned long long)done,
          (unsigned long long)total, unit, 100 * frac);
    } else {
      ADD("%llu %s", (unsigned long long)done, unit);
    }
    ADD(" | %s/s", rate);
    for (size_t i = 0; i < nfields; i++)
      ADD(" | %s %lld", fields[i].name, (long long)fields[i].value);
    if (final || !known || done >= total)
      ADD(" | %s", el);
    else
      ADD(" | %s, eta %s", el, eta);
    int w = term_width(out);
    if (w && n >= (size_t)w)
      n = (size_t)w - 1, line[n] = 0; /* a wrapped line could not be redrawn */
    fprintf(out, "\r%s\033[K%s", line, final ? "\n" : "");
  } else if (final) {
    ADD("%s: done, ", label);
    if (known)
      ADD("%llu/%llu %s", (unsigned long long)done, (unsigned long long)total, unit);
    else
      ADD("%llu %s", (unsigned long long)done, unit);
    ADD(" in %s (%s %s/s)", el, rate, unit);
    for (size_t i = 0; i < nfields; i++)
      ADD(", %s %lld", fields[i].name, (long long)fields[i].value);
    fprintf(out, "%s\n", line);
  } else {
    ADD("%s: ", label);
    if (known)
      ADD("%llu/%llu %s (%.1f%%)", (unsigned long long)done, (unsigned long long)total,
          unit, 100 * frac);
    else
      ADD("%llu %s", (unsigned long long)done, unit);
    ADD(", %s %s/s", rate, unit);
    for (size_t i = 0; i < nfields; i++)
      ADD(", %s %lld", fields[i].name, (long long)fields[i].value);
    ADD(", %s elapsed", el);
    if (known && done < total && r > 0)
      ADD(", eta %s", eta);
    fprintf(out, "%s\n", line);
  }
#undef ADD
  fflush(out);
}

int cc_progress_new(cc_progress_t **out, uint64_t total, const cc_progress_opts_t *opts) {
  static const cc_progress_opts_t dflt;
  if (!out)
    return -EINVAL;
  if (!opts)
    opts = &dflt;
  cc_progress_t *p = calloc(1, sizeof *p);
  if (!p)
    return -ENOMEM;
  p->label = strdup(opts->label ? opts->label : "progress");
  p->unit = strdup(opts->unit ? opts->unit : "items");
  if (!p->label || !p->unit) {
    free(p->label);
    free(p->unit);
    free(p);
    return -ENOMEM;
  }
  pthread_mutex_init(&p->mu, NULL);
  p->out = opts->out ? opts->out : stderr;
  switch (opts->mode) {
  case CC_PROGRESS_BAR:
    p->bar = true;
    break;
  case CC_PROGRESS_LINES:
    break;
  case CC_PROGRESS_OFF:
    p->off = true;
    break;
  default:
    p->bar = isatty(fileno(p->out));
    break;
  }
  p->interval_ms = p->bar ? (opts->redraw_ms > 0 ? opts->redraw_ms : 100)
                          : (opts->interval_ms > 0 ? opts->interval_ms : 5000);
  p->total = total;
  p->start = p->last = cc_now();
  *out = p;
  return 0;
}

/* mu held. */
static void draw(cc_progress_t *p, bool final) {
  if (p->off)
    return;
  if (final && !p->bar && !p->drawn)
    return; /* a job too short for a stats line gets no summary line either */
  double el = (double)(cc_now() - p->start) / 1000.0;
  cc_progress_print(p->out, p->bar, p->label, p->unit, p->done, p->total, el, final,
                    p->fields, p->nfields);
  p->drawn = true;
}

/* mu held. */
static void maybe_draw(cc_progress_t *p) {
  if (p->finished || p->off)
    return;
  int64_t now = cc_now();
  if (now - p->last < p->interval_ms)
    return;
  p->last = now;
  draw(p, false);
}

void cc_progress_add(cc_progress_t *p, uint64_t n) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->done += n;
  maybe_draw(p);
  pthread_mutex_unlock(&p->mu);
}

void cc_progress_set_total(cc_progress_t *p, uint64_t total) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->total = total;
  pthread_mutex_unlock(&p->mu);
}

int cc_progress_field(cc_progress_t *p, const char *name, int64_t value) {
  if (!p || !name)
    return -EINVAL;
  pthread_mutex_lock(&p->mu);
  int r = 0;
  size_t i = 0;
  while (i < p->nfields && strcmp(p->fields[i].name, name) != 0)
    i++;
  if (i == p->nfields) {
    if (i == CC_PROGRESS_MAX_FIELDS)
      r = -ENOSPC;
    else
      p->fields[p->nfields++].name = name;
  }
  if (r == 0)
    p->fields[i].value = value;
  pthread_mutex_unlock(&p->mu);
  return r;
}

void cc_progress_tick(cc_progress_t *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  maybe_draw(p);
  pthread_mutex_unlock(&p->mu);
}

void cc_progress_finish(cc_progress_t *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  if (!p->finished) {
    p->finished = true;
    draw(p, true);
  }
  pthread_mutex_unlock(&p->mu);
}

void cc_progress_free(cc_progress_t *p) {
  if (!p)
    return;
  cc_progress_finish(p);
  pthread_mutex_destroy(&p->mu);
  free(p->label);
  free(p->unit);
  free(p);
}
