/* `concur crawl URL [options]`: a polite breadth-first web crawler (Scrapy,
 * colly, `wget --mirror` without the files), with the words of the pages
 * counted on every core (--mine). See docs/crawl.md.
 *
 * One loop runs --concurrency worker coroutines over one HTTP session. The
 * frontier is a FIFO of (URL, depth); every URL is normalised
 * (cc_url_normalize) before it goes into the seen set, so that it is
 * fetched once. Links are read from each text/html page by the streaming
 * scanner (cc_html_scan: title and <a href>, resolved, fragment dropped).
 * Redirects are followed here, not by libcurl, so that each hop is checked
 * against the allowed domains and the seen set. robots.txt is fetched once
 * per host (RFC 9309: 4xx allows all, 5xx or unreachable disallows all).
 * Bodies kept for --mine are counted after the crawl by a process pool
 * (each worker parses the page with cc_html_parse and counts the words of
 * cc_html_text). Public API only.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <concur.h>

#include "cmd.h"
#include "counts.h"

#define URL_MAX    4096
#define MAX_ALLOW  16
#define MAX_ACCEPT 8

/* ---- the crawl's state -------------------------------------------------------- */

typedef struct item {
  char *url;
  int depth;
} item_t;

typedef struct rule {
  char *path;
  bool allow;
} rule_t;

typedef struct host {
  char *origin; /* scheme://host[:port] */
  int inflight;
  int64_t next_ok; /* cc_now() before which no request starts (--delay) */
  int robots;      /* 0 unknown, 1 being fetched, 2 known */
  bool deny_all;
  rule_t *rules;
  size_t nrules;
  cc_event_t *robots_ready;
} host_t;

/* A page handed to the pool (--mine): its word count, as a future. */
typedef struct kept {
  cc_future_t *f;
} kept_t;

typedef struct crawl {
  /* options */
  const char *start;
  int concurrency, per_host, max_depth, retries, top;
  long max_pages;
  uint64_t max_bytes;
  int64_t max_time_ms, delay_ms, timeout_ms;
  const char *allow[MAX_ALLOW];
  int nallow;
  const char *accept[MAX_ACCEPT];
  int naccept;
  bool no_parent, ignore_robots, mine, quiet;
  const char *out_path, *state_path, *user_agent;
  int workers;
  /* run */
  char start_origin[URL_MAX], start_dir[URL_MAX], start_host[512];
  cc_http_session_t *s;
  item_t *q;
  size_t qhead, qlen, qcap;
  counts_t seen;
  counts_t done; /* from --state: fetched before */
  host_t *hosts;
  size_t nhosts;
  cc_event_t *changed;
  int inflight;
  bool stop, finished;
  int64_t t0, deadline;
  FILE *out, *state;
  /* results */
  long started, pages, fetched, cut_by_time, skipped_type, skipped_robots, skipped_scope;
  uint64_t bytes;
  counts_t errors; /* kind -> count */
  counts_t memo;   /* (base directory, href) -> index in memo_vals */
  char **memo_vals;
  size_t nmemo_vals, capmemo_vals;
  kept_t *kept;
  size_t nkept, capkept;
  cc_pool_t *pool;
  cc_progress_t *prog;
} crawl_t;

static const char *DEFAULT_UA = "concur-crawl";

static void json_str(FILE *f, const char *s) {
  if (!s) {
    fputs("null", f);
    return;
  }
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", f);
    else if (*p == '\r')
      fputs("\\r", f);
    else if (*p == '\t')
      fputs("\\t", f);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

static void count_error(crawl_t *c, const char *kind) {
  counts_add(&c->errors, kind, strlen(kind), 1);
}

/* scheme://host[:port] of a normalised URL into out; its path in *path. */
static void split_origin(const char *url, char *out, size_t cap, const char **path) {
  const char *p = strstr(url, "://");
  p = p ? p + 3 : url;
  const char *slash = strchr(p, '/');
  size_t n = slash ? (size_t)(slash - url) : strlen(url);
  if (n >= cap)
    n = cap - 1;
  memcpy(out, url, n);
  out[n] = 0;
  if (path)
    *path = slash ? slash : "/";
}

static bool host_allowed(const crawl_t *c, const char *url) {
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
    return false;
  const char *h = strstr(url, "://") + 3;
  size_t hl = strcspn(h, ":/?");
  if (hl == strlen(c->start_host) && strncmp(h, c->start_host, hl) == 0)
    return true;
  for (int i = 0; i < c->nallow; i++) {
    size_t al = strlen(c->allow[i]);
    if (hl == al && strncasecmp(h, c->allow[i], hl) == 0)
      return true;
    if (hl > al && h[hl - al - 1] == '.' &&
        strncasecmp(h + hl - al, c->allow[i], al) == 0)
      return true;
  }
  return false;
}

/* The link rules beyond the host: --no-parent and --accept. */
static bool path_allowed(const crawl_t *c, const char *url) {
  if (c->no_parent && strncmp(url, c->start_dir, strlen(c->start_dir)) != 0)
    return false;
  if (c->naccept == 0)
    return true;
  const char *path;
  char origin[URL_MAX];
  split_origin(url, origin, sizeof origin, &path);
  size_t pl = strcspn(path, "?");
  for (int i = 0; i < c->naccept; i++) {
    size_t sl = strlen(c->accept[i]);
    if (pl >= sl && strncmp(path + pl - sl, c->accept[i], sl) == 0)
      return true;
  }
  return false;
}

static void state_line(crawl_t *c, char kind, int depth, const char *url) {
  if (!c->state)
    return;
  if (kind == 'S')
    fprintf(c->state, "S\t%d\t%s\n", depth, url);
  else
    fprintf(c->state, "%c\t%s\n", kind, url);
  fflush(c->state);
}

/* Adds a normalised URL to the frontier unless seen. */
static int enqueue(crawl_t *c, const char *url, int depth, bool write_state) {
  size_t len = strlen(url);
  if (counts_find(&c->seen, url, len))
    return 0;
  if (!counts_add(&c->seen, url, len, 1))
    return -ENOMEM;
  if (c->qlen == c->qcap) {
    size_t nc = c->qcap ? c->qcap * 2 : 1024;
    item_t *nq = realloc(c->q, nc * sizeof *nq);
    if (!nq)
      return -ENOMEM;
    c->q = nq;
    c->qcap = nc;
  }
  if (!(c->q[c->qlen].url = strdup(url)))
    return -ENOMEM;
  c->q[c->qlen++].depth = depth;
  if (write_state)
    state_line(c, 'S', depth, url);
  if (c->changed)
    cc_event_set(c->changed);
  return 1;
}

static host_t *get_host(crawl_t *c, const char *origin) {
  for (size_t i = 0; i < c->nhosts; i++)
    if (strcmp(c->hosts[i].origin, origin) == 0)
      return &c->hosts[i];
  host_t *nh = realloc(c->hosts, (c->nhosts + 1) * sizeof *nh);
  if (!nh)
    return NULL;
  c->hosts = nh;
  host_t *h = &c->hosts[c->nhosts];
  *h = (host_t){.origin = strdup(origin)};
  if (!h->origin || cc_event_new(&h->robots_ready) < 0)
    return NULL;
  c->nhosts++;
  return h;
}

/* ---- robots.txt (RFC 9309) -------------------------------------------------- */

static bool agent_matches(const char *ua, size_t len, const char *ours) {
  if (len == 1 && ua[0] == '*')
    return true;
  size_t ol = strlen(ours);
  /* "concur" matches our product token "concur-crawl" and "concur". */
  for (size_t i = 0; i + len <= ol; i++)
    if (i == 0 && strncasecmp(ours, ua, len) == 0)
      return true;
  return false;
}

/* Keeps the rules of the most specific group (ours, else "*"). */
static void robots_parse(host_t *h, const char *txt, const char *ua) {
  rule_t *star = NULL, *mine = NULL;
  size_t nstar = 0, nmine = 0;
  bool in_agents = false, grp_star = false, grp_mine = false, any_mine = false;
  const char *p = txt;
  while (*p) {
    const char *eol = p + strcspn(p, "\r\n");
    const char *hash_ = memchr(p, '#', (size_t)(eol - p));
    const char *end = hash_ ? hash_ : eol;
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (colon) {
      const char *k = p, *ke = colon;
      while (k < ke && isspace((unsigned char)*k))
        k++;
      while (ke > k && isspace((unsigned char)ke[-1]))
        ke--;
      const char *v = colon + 1, *ve = end;
      while (v < ve && isspace((unsigned char)*v))
        v++;
      while (ve > v && isspace((unsigned char)ve[-1]))
        ve--;
      size_t kl = (size_t)(ke - k), vl = (size_t)(ve - v);
      if (kl == 10 && strncasecmp(k, "user-agent", 10) == 0) {
        if (!in_agents)
          grp_star = grp_mine = false;
        in_agents = true;
        if (vl == 1 && *v == '*')
          grp_star = true;
        else if (agent_matches(v, vl, ua))
          grp_mine = any_mine = true;
      } else if ((kl == 8 && strncasecmp(k, "disallow", 8) == 0) ||
                 (kl == 5 && strncasecmp(k, "allow", 5) == 0)) {
        in_agents = false;
        bool allow = kl == 5;
        if (vl == 0) /* "Disallow:" with no path allows all */
          goto next;
        char *path = strndup(v, vl);
        if (!path)
          goto next;
        if (grp_mine) {
          rule_t *r = realloc(mine, (nmine + 1) * sizeof *r);
          if (r) {
            mine = r;
            mine[nmine++] = (rule_t){strdup(path), allow};
          }
        }
        if (grp_star) {
          rule_t *r = realloc(star, (nstar + 1) * sizeof *r);
          if (r) {
            star = r;
            star[nstar++] = (rule_t){strdup(path), allow};
          }
        }
        free(path);
      } else {
        in_agents = false;
      }
    }
  next:
    p = *eol ? eol + 1 : eol;
  }
  if (any_mine) {
    h->rules = mine;
    h->nrules = nmine;
    for (size_t i = 0; i < nstar; i++)
      free(star[i].path);
    free(star);
  } else {
    h->rules = star;
    h->nrules = nstar;
    for (size_t i = 0; i < nmine; i++)
      free(mine[i].path);
    free(mine);
  }
}

/* Does pattern (with * and a final $) match the start of path? */
static bool rule_match(const char *pat, const char *path) {
  if (!*pat)
    return true;
  if (*pat == '$' && pat[1] == 0)
    return *path == 0;
  if (*pat == '*') {
    for (const char *p = path;; p++) {
      if (rule_match(pat + 1, p))
        return true;
      if (!*p)
        return false;
    }
  }
  return *path == *pat && rule_match(pat + 1, path + 1);
}

static bool robots_allows(const host_t *h, const char *path) {
  if (h->deny_all)
    return false;
  if (strcmp(path, "/robots.txt") == 0)
    return true;
  size_t best = 0;
  bool allow = true, found = false;
  for (size_t i = 0; i < h->nrules; i++) {
    size_t l = strlen(h->rules[i].path);
    if (rule_match(h->rules[i].path, path) &&
        (!found || l > best || (l == best && h->rules[i].allow))) {
      best = l;
      allow = h->rules[i].allow;
      found = true;
    }
  }
  return allow;
}

/* Makes sure h's robots.txt is known (fetching it if this task is first). */
static int robots_ensure(crawl_t *c, host_t *h) {
  while (h->robots == 1) {
    int r = cc_event_wait(h->robots_ready);
    if (r < 0)
      return r;
  }
  if (h->robots == 2)
    return 0;
  h->robots = 1;
  char url[URL_MAX];
  snprintf(url, sizeof url, "%s/robots.txt", h->origin);
  cc_http_request_t req = {.url = url, .timeout_ms = c->timeout_ms, .max_body = 1 << 20};
  cc_http_response_t *r = NULL;
  int rc = cc_http_request(c->s, &req, &r);
  if (rc == -ECANCELED) {
    h->robots = 0;
    cc_event_set(h->robots_ready);
    return rc;
  }
  if (rc < 0 || r->status >= 500) {
    h->deny_all = true; /* unreachable or 5xx: disallow all (RFC 9309 2.3.1.4) */
  } else if (r->status >= 200 && r->status < 300) {
    robots_parse(h, r->body, c->user_agent ? c->user_agent : DEFAULT_UA);
  } /* 3xx (not followed) and 4xx: allow all */
  cc_http_response_free(r);
  h->robots = 2;
  cc_event_set(h->robots_ready);
  return 0;
}

/* ---- one page ------------------------------------------------------------------ */

typedef struct scan_ctx {
  crawl_t *c;
  int depth;
  long links;
  char *title;
  char base[URL_MAX]; /* the page's URL, or its <base href> resolved */
  size_t dir_len;     /* base up to its last '/' before any query */
} scan_ctx_t;

static void set_base(scan_ctx_t *sc, const char *url) {
  snprintf(sc->base, sizeof sc->base, "%s", url);
  size_t q = strcspn(sc->base, "?#");
  size_t d = q;
  while (d > 0 && sc->base[d - 1] != '/')
    d--;
  sc->dir_len = d;
}

/* The normalised URL a link leads to, or NULL (not hierarchical, bad, or
 * out of scope). Pages share most of their links, written the same way:
 * the answer is memoised by (base directory, href without fragment), so
 * that libcurl's URL parser runs once per distinct link, not per link. */
static const char *resolve(scan_ctx_t *sc, const char *href) {
  crawl_t *c = sc->c;
  while (*href == ' ' || *href == '\t' || *href == '\n' || *href == '\r' || *href == '\f')
    href++; /* as browsers do, and the URL parser's leading C0/space rule */
  size_t hl = strcspn(href, "#");
  while (hl > 0 && (href[hl - 1] == ' ' || href[hl - 1] == '\t' || href[hl - 1] == '\n' ||
                    href[hl - 1] == '\r' || href[hl - 1] == '\f'))
    hl--;
  char key[2 * URL_MAX];
  /* "" and "?q" depend on the whole base, the rest on its directory */
  size_t bl = (hl == 0 || href[0] == '?') ? strlen(sc->base) : sc->dir_len;
  if (bl + 1 + hl >= sizeof key)
    return NULL;
  memcpy(key, sc->base, bl);
  key[bl] = '\x01';
  memcpy(key + bl + 1, href, hl);
  size_t kl = bl + 1 + hl;
  counts_entry_t *e = counts_find(&c->memo, key, kl);
  if (e)
    return e->count ? c->memo_vals[e->count] : NULL;
  char ref[URL_MAX], abs[URL_MAX], norm[URL_MAX];
  const char *val = NULL;
  if (hl < sizeof ref) {
    memcpy(ref, href, hl);
    ref[hl] = 0;
    if (cc_html_urljoin(sc->base, ref, CC_HTML_NO_FRAGMENT, abs, sizeof abs) >= 0 &&
        cc_url_normalize(abs, norm, sizeof norm) >= 0 && host_allowed(c, norm) &&
        path_allowed(c, norm))
      val = norm;
  }
  size_t idx = 0;
  if (val) {
    if (c->nmemo_vals == c->capmemo_vals) {
      size_t nc = c->capmemo_vals ? c->capmemo_vals * 2 : 1024;
      char **nv = realloc(c->memo_vals, nc * sizeof *nv);
      if (!nv)
        return NULL;
      c->memo_vals = nv;
      c->capmemo_vals = nc;
      if (c->nmemo_vals == 0)
        c->memo_vals[c->nmemo_vals++] = NULL; /* index 0: rejected */
    }
    if (!(c->memo_vals[c->nmemo_vals] = strdup(val)))
      return NULL;
    idx = c->nmemo_vals++;
  }
  if (!counts_add(&c->memo, key, kl, idx))
    return NULL;
  return idx ? c->memo_vals[idx] : NULL;
}

static int on_event(void *arg, const cc_html_event_t *ev) {
  scan_ctx_t *sc = arg;
  crawl_t *c = sc->c;
  if (ev->kind == CC_HTML_EV_TITLE) {
    if (!sc->title)
      sc->title = strdup(ev->value);
    return 0;
  }
  if (ev->kind == CC_HTML_EV_BASE) {
    char abs[URL_MAX];
    if (cc_html_urljoin(sc->base, ev->value, 0, abs, sizeof abs) >= 0)
      set_base(sc, abs);
    return 0;
  }
  if (ev->kind != CC_HTML_EV_LINK || !ev->value)
    return 0;
  sc->links++;
  if (c->max_depth >= 0 && sc->depth + 1 > c->max_depth)
    return 0;
  const char *norm = resolve(sc, ev->value);
  if (!norm)
    return 0;
  return enqueue(c, norm, sc->depth + 1, true) == -ENOMEM ? -ENOMEM : 0;
}

/* The value of response header `name` copied into buf (NUL-terminated,
 * cut to fit), or NULL if absent. */
static const char *header(const cc_http_response_t *r, const char *name, char *buf,
                          size_t cap) {
  const cc_http_header_t *h = cc_http_header_find(r->headers, r->nheaders, name);
  if (!h)
    return NULL;
  size_t n = h->value_len < cap - 1 ? h->value_len : cap - 1;
  memcpy(buf, h->value, n);
  buf[n] = 0;
  return buf;
}

static int64_t retry_after_ms(const cc_http_response_t *r, int attempt) {
  char hb[128];
  const char *ra = header(r, "Retry-After", hb, sizeof hb);
  if (ra) {
    char *end;
    long v = strtol(ra, &end, 10);
    if (end != ra && v >= 0)
      return (v > 60 ? 60 : v) * 1000;
    return 1000;
  }
  return (int64_t)100 << (attempt < 8 ? attempt : 8);
}

static void record(crawl_t *c, const char *url, int status, const char *title, long links,
                   size_t bytes, double secs, int depth, const char *error) {
  if (!c->out)
    return;
  fputs("{\"url\":", c->out);
  json_str(c->out, url);
  fprintf(c->out, ",\"status\":%d,\"title\":", status);
  json_str(c->out, title);
  fprintf(c->out,
          ",\"links\":%ld,\"bytes\":%zu,\"time\":%.4f,\"depth\":%d,\"error\":", links,
          bytes, secs, depth);
  json_str(c->out, error);
  fputs("}\n", c->out);
  fflush(c->out);
}

static bool is_html(const cc_http_response_t *r) {
  char hb[256];
  const char *ct = header(r, "Content-Type", hb, sizeof hb);
  if (!ct)
    return false;
  while (*ct == ' ')
    ct++;
  return strncasecmp(ct, "text/html", 9) == 0 ||
         strncasecmp(ct, "application/xhtml+xml", 21) == 0;
}

static ssize_t count_words(const void *in, size_t in_len, void *out, size_t cap,
                           void *ctx);

/* Hands the page to the pool as "<content type>\0<body>" (copied by the
 * pool): its words are counted while the crawl goes on. */
static int keep_body(crawl_t *c, const cc_http_response_t *r) {
  if (c->nkept == c->capkept) {
    size_t nc = c->capkept ? c->capkept * 2 : 256;
    kept_t *nk = realloc(c->kept, nc * sizeof *nk);
    if (!nk)
      return -ENOMEM;
    c->kept = nk;
    c->capkept = nc;
  }
  char hb[256];
  const char *ct = header(r, "Content-Type", hb, sizeof hb);
  if (!ct)
    ct = "";
  size_t cl = strlen(ct);
  char *b = malloc(cl + 1 + r->body_len);
  if (!b)
    return -ENOMEM;
  memcpy(b, ct, cl + 1);
  memcpy(b + cl + 1, r->body, r->body_len);
  cc_future_t *f;
  int rc = cc_pool_submit(c->pool, count_words, NULL, b, cl + 1 + r->body_len, &f);
  free(b);
  if (rc < 0)
    return rc;
  c->kept[c->nkept++] = (kept_t){f};
  return 0;
}

static int fetch_one(crawl_t *c, item_t it) {
  char origin[URL_MAX];
  const char *path;
  split_origin(it.url, origin, sizeof origin, &path);
  host_t *h = get_host(c, origin);
  if (!h)
    return -ENOMEM;
  if (!c->ignore_robots) {
    int r = robots_ensure(c, h);
    if (r < 0)
      return r;
    if (!robots_allows(h, path)) {
      c->skipped_robots++;
      record(c, it.url, 0, NULL, 0, 0, 0, it.depth, "robots.txt");
      state_line(c, 'D', 0, it.url);
      return 0;
    }
  }
  /* the per-host cap and delay */
  for (;;) {
    int64_t now = cc_now();
    if (h->inflight < c->per_host && now >= h->next_ok)
      break;
    if (c->deadline && now >= c->deadline) {
      c->cut_by_time++;
      return 0;
    }
    int r = cc_sleep(now < h->next_ok ? h->next_ok - now : 2);
    if (r < 0)
      return r;
  }
  h->inflight++;
  h->next_ok = cc_now() + c->delay_ms;
  state_line(c, 'F', 0, it.url);
  int64_t t0 = cc_now_ns();
  cc_http_response_t *r = NULL;
  int rc = 0;
  for (int attempt = 0;; attempt++) {
    int64_t left = c->deadline ? c->deadline - cc_now() : 0;
    if (c->deadline && left <= 0) {
      rc = -ETIMEDOUT;
      break;
    }
    cc_http_request_t req = {.url = it.url, .timeout_ms = c->timeout_ms};
    if (left && (!req.timeout_ms || left < req.timeout_ms))
      req.timeout_ms = left;
    rc = cc_http_request(c->s, &req, &r);
    if (rc == -ECANCELED)
      break;
    bool again = rc == -ECONNREFUSED || rc == -ECONNRESET || rc == -CC_EHTTP_PARTIAL ||
                 rc == -CC_EPROTO_HTTP ||
                 (rc == 0 && (r->status == 429 || r->status >= 500));
    if (!again || attempt >= c->retries)
      break;
    int64_t wait = rc == 0 ? retry_after_ms(r, attempt) : (int64_t)100 << attempt;
    if (rc == 0) {
      cc_http_response_free(r);
      r = NULL;
    }
    if (c->deadline && cc_now() + wait > c->deadline) {
      rc = -ETIMEDOUT;
      break;
    }
    h->next_ok = cc_now() + wait; /* the whole host waits (Retry-After) */
    if ((rc = cc_sleep(wait)) < 0)
      break;
  }
  h->inflight--;
  double secs = (double)(cc_now_ns() - t0) / 1e9;
  if (rc == -ECANCELED)
    return rc; /* not finished: not recorded, fetched again on resume */
  if (rc == -ETIMEDOUT && c->deadline && cc_now() >= c->deadline) {
    c->cut_by_time++; /* --max-time: not an error of the page */
    return 0;
  }
  c->fetched++;
  if (rc < 0) {
    count_error(c, cc_err_name(rc));
    record(c, it.url, 0, NULL, 0, 0, secs, it.depth, cc_err_name(rc));
    state_line(c, 'D', 0, it.url);
    return 0;
  }
  c->bytes += r->body_len;
  char err[64] = "";
  char *title = NULL;
  long links = 0;
  if (r->status >= 300 && r->status < 400) {
    char lb[URL_MAX];
    const char *loc = header(r, "Location", lb, sizeof lb);
    char abs[URL_MAX], norm[URL_MAX];
    if (loc && cc_html_urljoin(it.url, loc, 0, abs, sizeof abs) >= 0 &&
        cc_url_normalize(abs, norm, sizeof norm) >= 0) {
      links = 1;
      if (!host_allowed(c, norm)) {
        c->skipped_scope++;
        snprintf(err, sizeof err, "redirect off-site");
      } else if (enqueue(c, norm, it.depth, true) < 0) {
        rc = -ENOMEM;
      }
    }
  } else if (r->status != 200) {
    snprintf(err, sizeof err, "http %d", r->status);
    char kind[16];
    snprintf(kind, sizeof kind, "http_%d", r->status);
    count_error(c, kind);
  } else if (!is_html(r)) {
    c->skipped_type++;
  } else {
    c->pages++;
    char hb[256];
    const char *ct = header(r, "Content-Type", hb, sizeof hb);
    scan_ctx_t sc = {c, it.depth, 0, NULL, "", 0};
    set_base(&sc, r->url);
    cc_html_opts_t ho = {.content_type = ct};
    int sr = cc_html_scan(r->body, r->body_len, &ho, CC_HTML_LINK_A, CC_HTML_RAW,
                          on_event, &sc);
    if (sr < 0)
      rc = sr;
    title = sc.title;
    links = sc.links;
    if (c->mine && rc == 0)
      rc = keep_body(c, r);
  }
  record(c, it.url, r->status, title, links, r->body_len, secs, it.depth,
         *err ? err : NULL);
  state_line(c, 'D', 0, it.url);
  free(title);
  cc_http_response_free(r);
  return rc;
}

static bool limits_reached(crawl_t *c) {
  if (c->max_pages > 0 && c->started >= c->max_pages)
    return true;
  if (c->max_bytes > 0 && c->bytes >= c->max_bytes)
    return true;
  if (c->deadline && cc_now() >= c->deadline)
    return true;
  return false;
}

static void progress_update(crawl_t *c);

static intptr_t worker(void *arg) {
  crawl_t *c = arg;
  for (;;) {
    if (c->stop || limits_reached(c))
      break;
    if (c->qhead == c->qlen) {
      if (c->inflight == 0)
        break;
      cc_event_clear(c->changed);
      int r = cc_event_wait(c->changed);
      if (r < 0)
        return r;
      continue;
    }
    item_t it = c->q[c->qhead++];
    c->started++;
    c->inflight++;
    int r = fetch_one(c, it);
    c->inflight--;
    free(it.url);
    if (c->prog) {
      cc_progress_add(c->prog, 1);
      progress_update(c);
    }
    cc_event_set(c->changed);
    if (r < 0) {
      if (r != -ECANCELED)
        fprintf(stderr, "concur crawl: %s\n", cc_strerror(r));
      return r;
    }
  }
  cc_event_set(c->changed); /* let the others see the end too */
  return 0;
}

/* ---- progress (the shared display of include/concur/progress.h) --------------- */

static long error_count(const crawl_t *c) {
  long errs = 0;
  for (size_t i = 0; i < c->errors.cap; i++)
    if (c->errors.e[i].key)
      errs += (long)c->errors.e[i].count;
  return errs;
}

static void progress_update(crawl_t *c) {
  if (!c->prog)
    return;
  cc_progress_set_total(c->prog, (uint64_t)c->fetched + (c->qlen - c->qhead) +
                                     (uint64_t)c->inflight);
  cc_progress_field(c->prog, "in flight", c->inflight);
  cc_progress_field(c->prog, "queued", (int64_t)(c->qlen - c->qhead));
  cc_progress_field(c->prog, "errors", error_count(c));
  cc_progress_tick(c->prog);
}

/* Keeps the elapsed time moving when pages are slow to come. */
static intptr_t progress_task(void *arg) {
  crawl_t *c = arg;
  while (!c->finished) {
    if (cc_sleep(250) < 0)
      break;
    progress_update(c);
  }
  return 0;
}

static intptr_t crawl_main(void *arg) {
  crawl_t *c = arg;
  cc_http_session_opts_t so = {
      .max_conns = c->concurrency,
      .max_redirects = -1, /* followed here, each hop checked */
      .user_agent = c->user_agent ? c->user_agent : DEFAULT_UA,
      .max_body = 256 << 20,
  };
  int rc = cc_http_session_new(&c->s, &so);
  if (rc < 0)
    return rc;
  if ((rc = cc_event_new(&c->changed)) < 0) {
    cc_http_session_free(c->s);
    return rc;
  }
  c->t0 = cc_now();
  if (c->max_time_ms > 0)
    c->deadline = c->t0 + c->max_time_ms;
  cc_task_t *prog = NULL;
  if (!c->quiet)
    cc_spawn(&prog, progress_task, c);
  cc_task_t **ts = calloc((size_t)c->concurrency, sizeof *ts);
  size_t n = 0;
  if (!ts)
    rc = -ENOMEM;
  for (; ts && n < (size_t)c->concurrency; n++)
    if ((rc = cc_spawn(&ts[n], worker, c)) < 0)
      break;
  int grc = cc_gather(ts, n, NULL);
  c->finished = true;
  if (prog) {
    cc_cancel(prog);
    cc_join(prog, NULL);
  }
  free(ts);
  cc_http_session_free(c->s);
  c->s = NULL;
  cc_event_free(c->changed);
  c->changed = NULL;
  return rc < 0 ? rc : grc;
}

/* ---- --mine: the words, in the process pool --------------------------------- */

/* --mine's text: W9's rule asks for the words ([a-z]+ of the lower-cased
 * text, 3 letters or more) of the text nodes outside <script>, <style> and
 * <noscript>, joined by a space. Only ASCII letters make words, and every
 * tag, comment or character reference separates text nodes or decodes to
 * a non-letter, so for any ASCII-compatible charset the words can be read
 * from the bytes with the HTML tokenizer's rules for where markup is, with
 * no tree and no decoding: letters_fast() copies the letters (lower-cased)
 * and turns everything else into spaces. --tree-text (or a UTF-16/32 page)
 * takes the exact path instead: cc_html_parse + cc_html_text. */
static bool g_tree_text;

static bool ascii_compatible(const char *ct, const char *b, size_t n) {
  if (n >= 2 && (((unsigned char)b[0] == 0xFE && (unsigned char)b[1] == 0xFF) ||
                 ((unsigned char)b[0] == 0xFF && (unsigned char)b[1] == 0xFE)))
    return false;
  if (strcasestr(ct, "utf-16") || strcasestr(ct, "utf-32"))
    return false;
  size_t head = n < 1024 ? n : 1024;
  for (size_t i = 0; i + 6 <= head; i++)
    if ((b[i] == 'u' || b[i] == 'U') && strncasecmp(b + i, "utf-16", 6) == 0)
      return false;
  return true;
}

static bool letter(unsigned char c) {
  return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static char *letters_fast(const char *b, size_t n, size_t *out_len) {
  char *t = malloc(n + 1);
  if (!t)
    return NULL;
  size_t i = 0;
  while (i < n) {
    unsigned char c = (unsigned char)b[i];
    if (c == '<' && i + 1 < n && (b[i + 1] == '!' || b[i + 1] == '?')) {
      size_t j;
      if (i + 3 < n && b[i + 2] == '-' && b[i + 3] == '-') { /* comment */
        const char *e = memmem(b + i + 4, n - i - 4, "-->", 3);
        j = e ? (size_t)(e - b) + 3 : n;
      } else { /* doctype, bogus comment */
        const char *e = memchr(b + i, '>', n - i);
        j = e ? (size_t)(e - b) + 1 : n;
      }
      memset(t + i, ' ', j - i);
      i = j;
      continue;
    }
    if (c == '<' && i + 1 < n && (letter((unsigned char)b[i + 1]) || b[i + 1] == '/')) {
      bool end = b[i + 1] == '/';
      size_t j = i + 1 + end, ns = j;
      while (j < n && (letter((unsigned char)b[j]) || (b[j] >= '0' && b[j] <= '9')))
        j++;
      size_t nl = j - ns;
      if (end && nl == 0) { /* "</" + non-letter: a bogus comment up to '>' */
        const char *e = memchr(b + i, '>', n - i);
        j = e ? (size_t)(e - b) + 1 : n;
        memset(t + i, ' ', j - i);
        i = j;
        continue;
      }
      /* attributes, with quoted values, up to '>' */
      char q = 0;
      for (; j < n; j++) {
        if (q) {
          if (b[j] == q)
            q = 0;
        } else if (b[j] == '"' || b[j] == '\'') {
          if (j > 0 && b[j - 1] == '=') /* a quote opens a value only after '=' */
            q = b[j];
          else if (j > 0 && (b[j - 1] == ' ' || b[j - 1] == '\t' || b[j - 1] == '\n') &&
                   j > 1 && b[j - 2] == '=')
            q = b[j];
        } else if (b[j] == '>') {
          break;
        }
      }
      j = j < n ? j + 1 : n;
      memset(t + i, ' ', j - i);
      i = j;
      /* raw text elements whose contents are not text for W9 (script,
       * style, noscript) or not markup (textarea, title: RCDATA, kept) */
      const char *raw = NULL;
      if (!end && nl == 6 && strncasecmp(b + ns, "script", 6) == 0)
        raw = "</script";
      else if (!end && nl == 5 && strncasecmp(b + ns, "style", 5) == 0)
        raw = "</style";
      else if (!end && nl == 8 && strncasecmp(b + ns, "noscript", 8) == 0)
        raw = "</noscript";
      if (raw) {
        size_t rl = strlen(raw), k = i;
        while (k + rl <= n && strncasecmp(b + k, raw, rl) != 0)
          k++;
        k = k + rl <= n ? k : n;
        memset(t + i, ' ', k - i);
        i = k;
      }
      continue;
    }
    if (c == '&' && i + 1 < n) {
      /* a character reference "&name;" or "&#...;": a non-letter, unless
       * it is a numeric reference to an ASCII letter */
      size_t j = i + 1;
      bool num = b[j] == '#';
      if (num)
        j++;
      bool hex = num && j < n && (b[j] == 'x' || b[j] == 'X');
      if (hex)
        j++;
      size_t ds = j;
      while (j < n && (letter((unsigned char)b[j]) || (b[j] >= '0' && b[j] <= '9')))
        j++;
      if (j < n && b[j] == ';' && j > ds) {
        char ch = ' ';
        if (num) {
          long v = strtol(b + ds, NULL, hex ? 16 : 10);
          if (v < 128 && letter((unsigned char)v))
            ch = (char)(v | 0x20);
        }
        memset(t + i, ' ', j + 1 - i);
        t[i] = ch;
        i = j + 1;
        continue;
      }
    }
    t[i++] = letter(c) ? (char)(c | 0x20) : ' ';
  }
  t[n] = 0;
  *out_len = n;
  return t;
}

static ssize_t count_words(const void *in, size_t in_len, void *out, size_t cap,
                           void *ctx) {
  (void)ctx;
  const char *ct = in;
  size_t cl = strnlen(ct, in_len);
  if (cl == in_len)
    return -EINVAL;
  const char *body = ct + cl + 1;
  size_t blen = in_len - cl - 1;
  size_t len = 0;
  char *text = NULL;
  if (!g_tree_text && ascii_compatible(ct, body, blen)) {
    text = letters_fast(body, blen, &len);
  } else {
    cc_html_doc_t *doc;
    cc_html_opts_t ho = {.content_type = *ct ? ct : NULL};
    int r = cc_html_parse(&doc, body, blen, &ho);
    if (r < 0)
      return r;
    text = cc_html_text(doc, NULL, " ", 0, &len);
    cc_html_free(doc);
  }
  if (!text)
    return -ENOMEM;
  counts_t t;
  if (counts_init(&t, 1024) < 0) {
    free(text);
    return -ENOMEM;
  }
  size_t start = 0, wl = 0;
  for (size_t i = 0; i <= len; i++) {
    unsigned char ch = i < len ? (unsigned char)text[i] : ' ';
    if (ch >= 'A' && ch <= 'Z')
      text[i] = (char)(ch | 0x20), ch |= 0x20;
    if (ch >= 'a' && ch <= 'z') {
      if (!wl)
        start = i;
      wl++;
      continue;
    }
    if (wl >= 3 && !counts_add(&t, text + start, wl, 1)) {
      counts_free(&t);
      free(text);
      return -ENOMEM;
    }
    wl = 0;
  }
  free(text);
  ssize_t ret = counts_write(&t, out, cap);
  counts_free(&t);
  return ret;
}

/* Merges the pages' word counts (waiting for those still in the pool) and
 * prints the totals and the top words. Called on a plain thread. */
static int mine(crawl_t *c, cc_pool_t *pool, double *secs) {
  int64_t t0 = cc_now_ns();
  counts_t total = {0};
  if (counts_init(&total, 1 << 16) < 0)
    return -ENOMEM;
  uint64_t words = 0;
  size_t failed = 0;
  for (size_t i = 0; i < c->nkept; i++) {
    intptr_t v = 0;
    int r = cc_future_result(c->kept[i].f, CC_FOREVER, &v);
    if (r < 0) {
      failed++;
      continue;
    }
    const cc_buf_t *res = (const cc_buf_t *)v;
    int64_t k = counts_merge(&total, res->data, res->len);
    if (k < 0) {
      counts_free(&total);
      return (int)k;
    }
    words += (uint64_t)k;
  }
  counts_entry_t *all = counts_sorted(&total);
  size_t m = all ? total.n : 0;
  *secs = (double)(cc_now_ns() - t0) / 1e9;
  printf("words: %llu (%zu distinct) over %zu pages, counted by %d worker processes "
         "during the crawl (%.3f s more after it)%s\n",
         (unsigned long long)words, total.n, c->nkept, cc_pool_workers(pool), *secs,
         failed ? " (some pages failed)" : "");
  printf("top%d: ", c->top);
  for (size_t i = 0; all && i < m && i < (size_t)c->top; i++)
    printf("%s%s:%llu", i ? "," : "", all[i].key, (unsigned long long)all[i].count);
  printf("\n");
  free(all);
  counts_free(&total);
  return 0;
}

/* ---- --state ----------------------------------------------------------------- */

/* Reads a state file: the seen set and the frontier (seen, not done). */
static int load_state(crawl_t *c, bool *resumed) {
  FILE *f = fopen(c->state_path, "r");
  if (!f)
    return errno == ENOENT ? 0 : -errno;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    if (line[n - 1] == '\n')
      line[--n] = 0;
    if (line[0] == 'S' && line[1] == '\t') {
      char *tab = strchr(line + 2, '\t');
      if (tab && enqueue(c, tab + 1, atoi(line + 2), false) < 0)
        break;
    } else if (line[0] == 'D' && line[1] == '\t') {
      counts_add(&c->done, line + 2, strlen(line + 2), 1);
    }
  }
  free(line);
  fclose(f);
  /* drop what was done from the frontier */
  size_t k = 0;
  for (size_t i = 0; i < c->qlen; i++) {
    if (counts_find(&c->done, c->q[i].url, strlen(c->q[i].url)))
      free(c->q[i].url);
    else
      c->q[k++] = c->q[i];
  }
  *resumed = c->qlen > 0;
  c->qlen = k;
  return 0;
}

/* ---- main ---------------------------------------------------------------------- */

static int number(const char *cmd, const char *opt, const char *v, long *out) {
  char *end;
  errno = 0;
  long x = v ? strtol(v, &end, 10) : 0;
  if (!v || errno || *end || x < 0)
    return concur_usage_error(cmd, "%s needs a non-negative number", opt);
  *out = x;
  return 0;
}

static int crawl_cmd(int argc, char **argv) {
  crawl_t c = {
      .concurrency = 32, .max_depth = -1, .retries = 3, .top = 10, .timeout_ms = 30000};
  long per_host = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long x;
#define NUM(opt, field)                                                                  \
  if (strcmp(a, opt) == 0) {                                                             \
    if (number(argv[0], opt, v, &x))                                                     \
      return 2;                                                                          \
    field = x;                                                                           \
    i++;                                                                                 \
    continue;                                                                            \
  }
    NUM("--concurrency", c.concurrency)
    NUM("--per-host", per_host)
    NUM("--max-pages", c.max_pages)
    NUM("--max-depth", c.max_depth)
    NUM("--max-bytes", c.max_bytes)
    NUM("--max-time", c.max_time_ms)
    NUM("--delay", c.delay_ms)
    NUM("--timeout", c.timeout_ms)
    NUM("--retries", c.retries)
    NUM("--workers", c.workers)
    NUM("--top", c.top)
#undef NUM
    if (strcmp(a, "--allow-domain") == 0 || strcmp(a, "--accept") == 0 ||
        strcmp(a, "--out") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "--state") == 0 ||
        strcmp(a, "--user-agent") == 0) {
      if (!v)
        return concur_usage_error(argv[0], "%s needs a value", a);
      i++;
      if (strcmp(a, "--allow-domain") == 0) {
        if (c.nallow == MAX_ALLOW)
          return concur_usage_error(argv[0], "at most %d --allow-domain", MAX_ALLOW);
        c.allow[c.nallow++] = v;
      } else if (strcmp(a, "--accept") == 0) {
        if (c.naccept == MAX_ACCEPT)
          return concur_usage_error(argv[0], "at most %d --accept", MAX_ACCEPT);
        c.accept[c.naccept++] = v;
      } else if (strcmp(a, "--state") == 0) {
        c.state_path = v;
      } else if (strcmp(a, "--user-agent") == 0) {
        c.user_agent = v;
      } else {
        c.out_path = v;
      }
    } else if (strcmp(a, "--no-parent") == 0) {
      c.no_parent = true;
    } else if (strcmp(a, "--ignore-robots") == 0) {
      c.ignore_robots = true;
    } else if (strcmp(a, "--mine") == 0) {
      c.mine = true;
    } else if (strcmp(a, "--tree-text") == 0) {
      g_tree_text = true;
    } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
      c.quiet = true;
    } else if (a[0] == '-') {
      return concur_usage_error(argv[0], "unknown option '%s'", a);
    } else if (c.start) {
      return concur_usage_error(argv[0], "unexpected argument '%s'", a);
    } else {
      c.start = a;
    }
  }
  if (!c.start)
    return concur_usage_error(argv[0], "a start URL is needed");
  if (c.concurrency < 1)
    c.concurrency = 1;
  if (c.concurrency > 4096)
    c.concurrency = 4096;
  c.per_host = per_host > 0 ? (int)per_host : c.concurrency;
  char start[URL_MAX];
  if (cc_url_normalize(c.start, start, sizeof start) < 0 ||
      (strncmp(start, "http://", 7) != 0 && strncmp(start, "https://", 8) != 0)) {
    fprintf(stderr, "concur crawl: not an http(s) URL: %s\n", c.start);
    return 2;
  }
  const char *path;
  split_origin(start, c.start_origin, sizeof c.start_origin, &path);
  const char *h = strstr(start, "://") + 3;
  size_t hl = strcspn(h, ":/?");
  snprintf(c.start_host, sizeof c.start_host, "%.*s", (int)hl, h);
  snprintf(c.start_dir, sizeof c.start_dir, "%s", start);
  char *q = strchr(c.start_dir + (size_t)(path - start), '?');
  if (q)
    *q = 0;
  *(strrchr(c.start_dir, '/') + 1) = 0;

  if (counts_init(&c.seen, 1 << 12) < 0 || counts_init(&c.done, 1 << 10) < 0 ||
      counts_init(&c.errors, 64) < 0 || counts_init(&c.memo, 1 << 14) < 0)
    return 1;
  bool resumed = false;
  if (c.state_path) {
    int r = load_state(&c, &resumed);
    if (r < 0) {
      fprintf(stderr, "concur crawl: %s: %s\n", c.state_path, cc_strerror(r));
      return 1;
    }
    if (!(c.state = fopen(c.state_path, "a"))) {
      fprintf(stderr, "concur crawl: %s: %s\n", c.state_path, strerror(errno));
      return 1;
    }
  }
  if (!resumed && c.seen.n == 0)
    enqueue(&c, start, 0, true);
  if (c.out_path && !(c.out = fopen(c.out_path, resumed ? "a" : "w"))) {
    fprintf(stderr, "concur crawl: %s: %s\n", c.out_path, strerror(errno));
    return 1;
  }
  if (resumed)
    fprintf(stderr, "concur crawl: resuming: %zu URLs seen, %zu done, %zu to fetch\n",
            c.seen.n, c.done.n, c.qlen);
  if (!c.quiet) {
    cc_progress_opts_t po = {.label = "crawl", .unit = "pages", .interval_ms = 3000};
    if (cc_progress_new(&c.prog, 1, &po) < 0)
      c.prog = NULL;
  }
  /* The pool's workers are forked before the loop's threads exist. */
  cc_pool_t *pool = NULL;
  if (c.mine) {
    cc_pool_opts_t po = {.workers = c.workers, .max_result = 64 << 20};
    int r = cc_pool_new(&pool, &po);
    c.pool = pool;
    if (r < 0) {
      fprintf(stderr, "concur crawl: pool: %s\n", cc_strerror(r));
      return 1;
    }
  }
  cc_loop_opts_t lo = {.handle_signals = true, .dump_on_sigusr1 = true};
  intptr_t res = 0;
  int rc = cc_run_opts(&lo, crawl_main, &c, &res);
  bool interrupted = rc == -ECANCELED || res == -ECANCELED;
  if (rc == 0 && res < 0 && !interrupted) {
    rc = (int)res;
  }
  if (c.prog) {
    progress_update(&c);
    cc_progress_free(c.prog);
    c.prog = NULL;
  }
  double el = (double)(cc_now() - c.t0) / 1e3;
  printf("%s%ld pages in %.3f s (%.0f pages/s), %ld fetched, %.1f MB\n",
         interrupted ? "interrupted: " : "", c.pages, el,
         el > 0 ? (double)c.pages / el : 0, c.fetched, (double)c.bytes / 1e6);
  printf("skipped: %ld not html, %ld by robots.txt, %ld redirects off-site; %zu left in "
         "the queue%s\n",
         c.skipped_type, c.skipped_robots, c.skipped_scope,
         c.qlen - c.qhead + (size_t)c.cut_by_time, c.cut_by_time ? " (--max-time)" : "");
  printf("errors:");
  size_t nerr = 0;
  for (size_t i = 0; i < c.errors.cap; i++)
    if (c.errors.e[i].key)
      printf(" %s=%llu", c.errors.e[i].key, (unsigned long long)c.errors.e[i].count),
          nerr++;
  printf("%s\n", nerr ? "" : " none");
  fflush(stdout);
  int status = rc < 0 && !interrupted ? 1 : 0;
  if (rc < 0 && !interrupted)
    fprintf(stderr, "concur crawl: %s\n", cc_strerror(rc));
  if (pool) {
    double secs = 0;
    if (!interrupted) {
      int r = mine(&c, pool, &secs);
      if (r < 0) {
        fprintf(stderr, "concur crawl: --mine: %s\n", cc_strerror(r));
        status = 1;
      }
    }
    cc_pool_free(pool);
    double all = (double)(cc_now() - c.t0) / 1e3;
    if (!interrupted)
      printf("total: %ld pages crawled and mined in %.3f s (%.0f pages/s)\n", c.pages,
             all, all > 0 ? (double)c.pages / all : 0);
  }
  if (c.out)
    fclose(c.out);
  if (c.state)
    fclose(c.state);
  for (size_t i = c.qhead; i < c.qlen; i++)
    free(c.q[i].url);
  free(c.q);
  for (size_t i = 0; i < c.nkept; i++)
    cc_future_unref(c.kept[i].f);
  free(c.kept);
  for (size_t i = 0; i < c.nhosts; i++) {
    free(c.hosts[i].origin);
    for (size_t j = 0; j < c.hosts[i].nrules; j++)
      free(c.hosts[i].rules[j].path);
    free(c.hosts[i].rules);
    cc_event_free(c.hosts[i].robots_ready);
  }
  free(c.hosts);
  counts_free(&c.seen);
  counts_free(&c.done);
  counts_free(&c.errors);
  counts_free(&c.memo);
  for (size_t i = 0; i < c.nmemo_vals; i++)
    free(c.memo_vals[i]);
  free(c.memo_vals);
  return interrupted ? 130 : status;
}

const concur_cmd_t concur_cmd_crawl = {
    .name = "crawl",
    .args = "URL [options]",
    .summary = "crawl a web site breadth-first, politely; count its words (--mine)",
    .help =
        "Fetches URL, then every same-site <a href> link breadth-first, each URL once\n"
        "(normalised first), honouring robots.txt. Prints a summary at the end.\n"
        "\n"
        "  --concurrency N    requests in flight (default 32)\n"
        "  --per-host N       requests in flight to one host (default: --concurrency)\n"
        "  --delay MS         pause between two requests to one host (default 0)\n"
        "  --max-pages N      stop after N requests (default: no limit)\n"
        "  --max-depth N      follow links at most N levels from URL\n"
        "  --max-bytes N      stop after N bytes of bodies\n"
        "  --max-time MS      stop after MS milliseconds\n"
        "  --timeout MS       time allowed per request (default 30000)\n"
        "  --retries N        retries after 5xx, 429, connection errors (default 3)\n"
        "  --allow-domain D   also follow links to D and its subdomains (repeatable)\n"
        "  --no-parent        only URLs under URL's directory (wget -np)\n"
        "  --accept SUFFIX    only links whose path ends in SUFFIX (wget -A; "
        "repeatable)\n"
        "  --ignore-robots    do not fetch or honour robots.txt\n"
        "  --user-agent UA    User-Agent, also the robots.txt group (default "
        "concur-crawl)\n"
        "  --out FILE, -o     one JSON object per page (JSON Lines)\n"
        "  --state FILE       resumable: frontier and seen set kept in FILE\n"
        "  --mine             count the words of the pages in the process pool\n"
        "  --workers N        worker processes for --mine (default: one per core)\n"
        "  --top N            words shown by --mine (default 10)\n"
        "  --tree-text        --mine reads each page's text from its parsed tree\n"
        "                     (cc_html_text) instead of its bytes (same words, slower)\n"
        "  --quiet, -q        no progress on stderr\n"
        "Ctrl-C stops cleanly (exit status 130); --state lets a later run go on.\n",
    .main = crawl_cmd,
};
