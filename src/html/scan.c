/* cc_html_scan, the crawler's fast path: title and links with no tree, from
 * concur's own tokenizer of the few states that matter (tokenize.c); and the
 * same on myhtml's tokenizer with no token processing
 * (MyHTML_TREE_PARSE_FLAGS_WITHOUT_PROCESS_TOKEN), the reference the fuzz
 * target holds the first to. Both hand raw byte ranges of the input to the
 * handlers below, which decode only the few values reported (decode.c).
 * docs/html.md has the measurement that chose this. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <myhtml/myhtml.h>
#include <myhtml/tree.h>

#include "html/html_int.h"

/* One tree per thread, reused from scan to scan (a tree costs tens of
 * microseconds to make), destroyed when its thread exits. */
static pthread_key_t scan_key;
static pthread_once_t scan_once = PTHREAD_ONCE_INIT;
static _Thread_local myhtml_tree_t *scan_tree;

static void scan_tree_free(void *p) {
  myhtml_tree_destroy(p);
}

static void scan_init(void) {
  pthread_key_create(&scan_key, scan_tree_free);
}

static myhtml_tree_t *thread_tree(void) {
  if (scan_tree)
    return scan_tree;
  myhtml_t *mh = cc__myhtml();
  if (!mh)
    return NULL;
  pthread_once(&scan_once, scan_init);
  myhtml_tree_t *t = myhtml_tree_create();
  if (!t)
    return NULL;
  if (myhtml_tree_init(t, mh) != MyHTML_STATUS_OK) {
    myhtml_tree_destroy(t);
    return NULL;
  }
  scan_tree = t;
  pthread_setspecific(scan_key, t);
  return t;
}

typedef struct scan {
  const char *base; /* the input */
  const cc_html_opts_t *opts;
  unsigned kinds, flags;
  cc_html_scan_fn fn;
  void *ctx;
  int stop; /* fn's non-zero value, or a negative error */
  int in_title, have_title, have_base;
  cc__urlbase_t url;
  cc__sbuf_t title, val, res;
} scan_t;

static void emit(scan_t *s, cc_html_event_t *ev) {
  if (s->stop)
    return;
  int r = s->fn(s->ctx, ev);
  if (r)
    s->stop = r;
}

static void end_title(scan_t *s) {
  if (!s->in_title)
    return;
  s->in_title = 0;
  cc__sb_put(&s->title, "", 0);
  if (s->title.oom) {
    s->stop = -ENOMEM;
    return;
  }
  cc_html_event_t ev = {
      .kind = CC_HTML_EV_TITLE, .value = s->title.p, .value_len = s->title.n};
  emit(s, &ev);
}

/* The attribute `name` of a start tag, or NULL. */
static myhtml_token_attr_t *raw_attr(scan_t *s, myhtml_token_node_t *t, const char *name,
                                     size_t n) {
  for (myhtml_token_attr_t *a = t->attr_first; a; a = a->next)
    if (a->raw_key_length == n && strncasecmp(s->base + a->raw_key_begin, name, n) == 0)
      return a; /* the first of duplicates wins, as in the tree */
  return NULL;
}

static void on_link(scan_t *s, unsigned kind, const char *raw, size_t len) {
  cc__html_decode(&s->val, raw, len, 1);
  if (s->val.oom) {
    s->stop = -ENOMEM;
    return;
  }
  cc_html_event_t ev = {.kind = CC_HTML_EV_LINK,
                        .link_kind = kind,
                        .value = s->val.p,
                        .value_len = s->val.n};
  if (s->flags & CC_HTML_RAW) {
    ev.url = ev.value;
    ev.url_len = ev.value_len;
  } else {
    int rc = cc__url_resolve(&s->url, s->val.p, s->val.n, s->flags, &s->res);
    if (rc == -ENOMEM)
      s->stop = rc;
    if (rc < 0)
      return;
    ev.url = s->res.p;
    ev.url_len = s->res.n;
  }
  emit(s, &ev);
}

static void on_base(scan_t *s, const char *raw, size_t len) {
  if (s->have_base)
    return;
  s->have_base = 1;
  cc__html_decode(&s->val, raw, len, 1);
  cc__urlbase_t page = {0};
  if (s->opts && s->opts->url)
    cc__urlbase_set(&page, s->opts->url);
  int rc = cc__url_resolve(&page, s->val.p, s->val.n, 0, &s->res);
  cc__urlbase_clear(&page);
  if (rc < 0 || s->res.oom)
    return;
  if (!(s->flags & CC_HTML_RAW) && cc__urlbase_set(&s->url, s->res.p) < 0 && s->opts &&
      s->opts->url)
    cc__urlbase_set(&s->url, s->opts->url);
  cc_html_event_t ev = {.kind = CC_HTML_EV_BASE,
                        .value = s->val.p,
                        .value_len = s->val.n,
                        .url = s->res.p,
                        .url_len = s->res.n};
  emit(s, &ev);
}

static void link(scan_t *s, myhtml_token_node_t *t, unsigned kind, const char *attr,
                 size_t n) {
  myhtml_token_attr_t *a = raw_attr(s, t, attr, n);
  if (a)
    on_link(s, kind, s->base + a->raw_value_begin, a->raw_value_length);
}

static void base_tag(scan_t *s, myhtml_token_node_t *t) {
  myhtml_token_attr_t *a = raw_attr(s, t, "href", 4);
  if (a)
    on_base(s, s->base + a->raw_value_begin, a->raw_value_length);
}

static void *on_token(myhtml_tree_t *tree, myhtml_token_node_t *t, void *vs) {
  scan_t *s = vs;
  if (s->stop)
    return vs;
  int close = (t->type & MyHTML_TOKEN_TYPE_CLOSE) != 0;
  switch (t->tag_id) {
  case MyHTML_TAG__TEXT:
    if (s->in_title) {
      cc__html_decode(&s->val, s->base + t->raw_begin, t->raw_length, 0);
      cc__sb_put(&s->title, s->val.p, s->val.n);
    }
    return vs;
  case MyHTML_TAG__COMMENT:
  case MyHTML_TAG__DOCTYPE:
    return vs;
  case MyHTML_TAG_TITLE:
    if (!close && !s->have_title) {
      s->have_title = s->in_title = 1;
      return vs;
    }
    break;
  case MyHTML_TAG_A:
    if (!close && (s->kinds & CC_HTML_LINK_A))
      link(s, t, CC_HTML_LINK_A, "href", 4);
    break;
  case MyHTML_TAG_AREA:
    if (!close && (s->kinds & CC_HTML_LINK_AREA))
      link(s, t, CC_HTML_LINK_AREA, "href", 4);
    break;
  case MyHTML_TAG_LINK:
    if (!close && (s->kinds & CC_HTML_LINK_LINK))
      link(s, t, CC_HTML_LINK_LINK, "href", 4);
    break;
  case MyHTML_TAG_IMG:
    if (!close && (s->kinds & CC_HTML_LINK_IMG))
      link(s, t, CC_HTML_LINK_IMG, "src", 3);
    break;
  case MyHTML_TAG_SCRIPT:
    if (!close && (s->kinds & CC_HTML_LINK_SCRIPT))
      link(s, t, CC_HTML_LINK_SCRIPT, "src", 3);
    break;
  case MyHTML_TAG_BASE:
    if (!close)
      base_tag(s, t);
    break;
  default:
    break;
  }
  /* Any tag ends the title's text (RCDATA holds nothing but text). */
  end_title(s);
  return vs;
}

static int prepare(scan_t *s, cc__input_t *in, const void *data, size_t len,
                   const cc_html_opts_t *opts, unsigned kinds, unsigned flags,
                   cc_html_scan_fn fn, void *ctx) {
  int rc = cc__input_prepare(in, data ? data : "", len, opts);
  if (rc < 0)
    return rc;
  *s = (scan_t){.base = in->data,
                .opts = opts,
                .kinds = kinds ? kinds : CC_HTML_LINK_A,
                .flags = flags,
                .fn = fn,
                .ctx = ctx};
  if (!(flags & CC_HTML_RAW) && opts && opts->url)
    cc__urlbase_set(&s->url, opts->url);
  return 0;
}

static void finish(scan_t *s, cc__input_t *in) {
  cc__input_free(in);
  cc__urlbase_clear(&s->url);
  cc__sb_free(&s->title);
  cc__sb_free(&s->val);
  cc__sb_free(&s->res);
}

int cc__html_scan_myhtml(const void *data, size_t len, const cc_html_opts_t *opts,
                         unsigned kinds, unsigned flags, cc_html_scan_fn fn, void *ctx) {
  if ((!data && len) || !fn)
    return -EINVAL;
  myhtml_tree_t *tree = thread_tree();
  if (!tree)
    return -ENOMEM;
  cc__input_t in;
  scan_t s;
  int rc = prepare(&s, &in, data, len, opts, kinds, flags, fn, ctx);
  if (rc < 0)
    return rc;
  /* One chunk: raw positions are then offsets into in.data. */
  myhtml_tree_parse_flags_set(tree, MyHTML_TREE_PARSE_FLAGS_WITHOUT_PROCESS_TOKEN);
  myhtml_callback_before_token_done_set(tree, on_token, &s);
  mystatus_t st = myhtml_parse(tree, MyENCODING_UTF_8, in.data, in.len);
  myhtml_callback_before_token_done_set(tree, NULL, NULL);
  end_title(&s);
  /* Drop the tokens now rather than at the next scan: memory stays bounded
   * by the largest document, not kept at it. */
  myhtml_tree_clean(tree);
  finish(&s, &in);
  if (s.stop)
    return s.stop;
  return st == MyHTML_STATUS_OK ? 0 : -CC_EHTML;
}

static int on_tok(void *ctx, int ev, unsigned kind, const char *raw, size_t len) {
  scan_t *s = ctx;
  switch (ev) {
  case CC__TOK_TITLE:
    cc__html_decode(&s->val, raw, len, 0);
    cc__sb_put(&s->title, s->val.p, s->val.n);
    s->in_title = 1;
    end_title(s);
    break;
  case CC__TOK_BASE:
    on_base(s, raw, len);
    break;
  case CC__TOK_LINK:
    on_link(s, kind, raw, len);
    break;
  }
  return s->stop;
}

int cc_html_scan(const void *data, size_t len, const cc_html_opts_t *opts, unsigned kinds,
                 unsigned flags, cc_html_scan_fn fn, void *ctx) {
  if ((!data && len) || !fn)
    return -EINVAL;
  cc__input_t in;
  scan_t s;
  int rc = prepare(&s, &in, data, len, opts, kinds, flags, fn, ctx);
  if (rc < 0)
    return rc;
  cc__html_tokenize(in.data, in.len, s.kinds, on_tok, &s);
  finish(&s, &in);
  return s.stop;
}
