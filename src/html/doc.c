/* Documents: myhtml's tree behind cc_html_*; text, find_all and links walk
 * the tree iteratively (no recursion: depth is capped at CC_HTML_MAX_DEPTH
 * anyway), select goes through modest's finder. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <modest/finder/finder.h>
#include <mycss/mycss.h>
#include <mycss/selectors/init.h>
#include <mycss/selectors/list.h>
#include <myhtml/myhtml.h>
#include <myhtml/tree.h>

#include "html/html_int.h"

/* ---- the shared parser instance --------------------------------------- */

static myhtml_t *g_myhtml;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void myhtml_once(void) {
  myhtml_t *mh = myhtml_create();
  if (mh && myhtml_init(mh, MyHTML_OPTIONS_PARSE_MODE_SINGLE, 1, 0) != MyHTML_STATUS_OK) {
    myhtml_destroy(mh);
    mh = NULL;
  }
  g_myhtml = mh;
}

void *cc__myhtml(void) {
  pthread_once(&g_once, myhtml_once);
  return g_myhtml;
}

/* ---- documents -------------------------------------------------------- */

struct cc_html_doc {
  myhtml_tree_t *tree;
  cc__input_t in;
  char *url; /* opts->url, copied */
  char *title;
  int title_done;
  char *base;
  int base_done;
  cc_html_link_t *links;
  size_t nlinks;
  char **link_strs; /* what links' strings point into */
  /* The selector machinery, made on the first select. */
  mycss_t *css;
  mycss_entry_t *css_entry;
  modest_finder_t *finder;
};

#define N(p)  ((myhtml_tree_node_t *)(p))
#define CN(p) ((cc_html_node_t *)(p))

/* Elements nested deeper than CC_HTML_MAX_DEPTH: before a start tag is
 * processed at that depth, the current element is closed, so that the new
 * element becomes its sibling rather than its child. Without this the tree
 * builder's scope checks make 100,000 nested <div>s quadratic (12 s). Only
 * in the "in body" insertion mode, where closing an ordinary element leaves
 * the builder's state consistent. */
static void *depth_guard(myhtml_tree_t *tree, myhtml_token_node_t *t, void *ctx) {
  if (tree->open_elements->length > CC_HTML_MAX_DEPTH &&
      !(t->type & MyHTML_TOKEN_TYPE_CLOSE) && t->tag_id >= MyHTML_TAG_A &&
      t->tag_id != MyHTML_TAG__END_OF_FILE &&
      tree->insert_mode == MyHTML_INSERTION_MODE_IN_BODY) {
    myhtml_tree_node_t *cur = myhtml_tree_list_current_node(tree->open_elements);
    if (cur && cur->tag_id != MyHTML_TAG_HTML && cur->tag_id != MyHTML_TAG_BODY &&
        cur->tag_id != MyHTML_TAG_TEMPLATE && cur->tag_id != MyHTML_TAG_TABLE &&
        cur->tag_id != MyHTML_TAG_SELECT && cur->tag_id != MyHTML_TAG_FORM) {
      /* A formatting element (<b>, <a>, ...) leaves the list of active
       * formatting elements too, or the builder would reopen a copy. */
      size_t idx = 0;
      if (myhtml_tree_active_formatting_find(tree, cur, &idx))
        myhtml_tree_active_formatting_remove_by_index(tree, idx);
      myhtml_tree_open_elements_pop(tree);
    }
  }
  return ctx;
}

int cc_html_parse(cc_html_doc_t **out, const void *data, size_t len,
                  const cc_html_opts_t *opts) {
  if (!out || (!data && len))
    return -EINVAL;
  *out = NULL;
  myhtml_t *mh = cc__myhtml();
  if (!mh)
    return -ENOMEM;
  cc_html_doc_t *d = calloc(1, sizeof *d);
  if (!d)
    return -ENOMEM;
  int rc = cc__input_prepare(&d->in, data ? data : "", len, opts);
  if (rc < 0) {
    free(d);
    return rc;
  }
  /* The tree keeps pointers into its input: always parse our own copy,
   * repaired to valid UTF-8 (so that every string handed out is), with NUL
   * bytes replaced by U+FFFD (myhtml miscounts text around a NUL). HTML
   * would drop a NUL in body text instead: the one liberty taken. */
  cc__sbuf_t b = {0};
  cc__utf8_put_nonul(&b, d->in.data, d->in.len);
  cc__sb_put(&b, "", 0);
  if (b.oom) {
    cc__sb_free(&b);
    cc__input_free(&d->in);
    free(d);
    return -ENOMEM;
  }
  cc__input_free(&d->in);
  d->in.conv = b.p;
  d->in.data = b.p;
  d->in.len = b.n;
  if (opts && opts->url && !(d->url = strdup(opts->url))) {
    cc_html_free(d);
    return -ENOMEM;
  }
  d->tree = myhtml_tree_create();
  if (!d->tree || myhtml_tree_init(d->tree, mh) != MyHTML_STATUS_OK) {
    if (d->tree)
      myhtml_tree_destroy(d->tree);
    d->tree = NULL;
    cc_html_free(d);
    return -ENOMEM;
  }
  myhtml_callback_before_token_done_set(d->tree, depth_guard, NULL);
  mystatus_t st = myhtml_parse(d->tree, MyENCODING_UTF_8, d->in.data, d->in.len);
  myhtml_callback_before_token_done_set(d->tree, NULL, NULL);
  if (st == MyHTML_STATUS_OK && !d->tree->node_html) {
    /* myhtml leaves some malformed documents (a doctype and stray end tags
     * only, found by the fuzzer) without the <html> element HTML always
     * has: give them an empty one. */
    myhtml_tree_node_t *h =
        myhtml_tree_node_insert_root(d->tree, NULL, MyHTML_NAMESPACE_HTML);
    if (h)
      d->tree->node_html = h;
  }
  if (st != MyHTML_STATUS_OK || !d->tree->node_html) {
    cc_html_free(d);
    return st == MyHTML_STATUS_ERROR_MEMORY_ALLOCATION ? -ENOMEM : -CC_EHTML;
  }
  *out = d;
  return 0;
}

static void free_links(cc_html_doc_t *d) {
  for (size_t i = 0; i < 2 * d->nlinks; i++)
    free(d->link_strs[i]);
  free(d->link_strs);
  free(d->links);
  d->link_strs = NULL;
  d->links = NULL;
  d->nlinks = 0;
}

void cc_html_free(cc_html_doc_t *d) {
  if (!d)
    return;
  free_links(d);
  if (d->finder)
    modest_finder_destroy(d->finder, true);
  if (d->css_entry)
    mycss_entry_destroy(d->css_entry, true);
  if (d->css)
    mycss_destroy(d->css, true);
  if (d->tree)
    myhtml_tree_destroy(d->tree);
  cc__input_free(&d->in);
  free(d->url);
  free(d->title);
  free(d->base);
  free(d);
}

const char *cc_html_encoding(const cc_html_doc_t *d) {
  return d->in.charset;
}

cc_html_node_t *cc_html_root(cc_html_doc_t *d) {
  return CN(d->tree->node_html);
}

/* The next node after n in document order within scope's subtree (NULL at
 * its end); with skip, n's own children are not entered. */
static myhtml_tree_node_t *next_node(myhtml_tree_node_t *n, myhtml_tree_node_t *scope,
                                     int skip) {
  if (!skip && n->child)
    return n->child;
  while (n && n != scope) {
    if (n->next)
      return n->next;
    n = n->parent;
  }
  return NULL;
}

static int is_element(const myhtml_tree_node_t *n) {
  return n->tag_id != MyHTML_TAG__TEXT && n->tag_id != MyHTML_TAG__COMMENT &&
         n->tag_id != MyHTML_TAG__DOCTYPE && n->tag_id != MyHTML_TAG__UNDEF;
}

/* The first element with tag id `tag` in the document. */
static myhtml_tree_node_t *first_tag(cc_html_doc_t *d, myhtml_tag_id_t tag) {
  myhtml_tree_node_t *root = d->tree->node_html;
  for (myhtml_tree_node_t *n = root; n; n = next_node(n, root, 0))
    if (n->tag_id == tag && n->ns == MyHTML_NAMESPACE_HTML)
      return n;
  return NULL;
}

const char *cc_html_title(cc_html_doc_t *d) {
  if (!d->title_done) {
    d->title_done = 1;
    myhtml_tree_node_t *t = first_tag(d, MyHTML_TAG_TITLE);
    if (t) {
      cc__sbuf_t b = {0};
      cc__sb_put(&b, "", 0);
      for (myhtml_tree_node_t *c = t->child; c; c = c->next) {
        size_t len = 0;
        const char *s = c->tag_id == MyHTML_TAG__TEXT ? myhtml_node_text(c, &len) : NULL;
        if (s)
          cc__sb_put(&b, s, len);
      }
      if (b.oom)
        cc__sb_free(&b);
      d->title = b.p;
    }
  }
  return d->title;
}

const char *cc_html_node_attr(const cc_html_node_t *node, const char *name) {
  if (!node || !name)
    return NULL;
  for (myhtml_tree_attr_t *a = myhtml_node_attribute_first(N(node)); a;
       a = myhtml_attribute_next(a)) {
    size_t kl = 0, vl = 0;
    const char *k = myhtml_attribute_key(a, &kl);
    if (k && strlen(name) == kl && strncasecmp(k, name, kl) == 0) {
      const char *v = myhtml_attribute_value(a, &vl);
      return v ? v : "";
    }
  }
  return NULL;
}

bool cc_html_node_attr_at(const cc_html_node_t *node, size_t i, const char **name,
                          const char **value) {
  myhtml_tree_attr_t *a = node ? myhtml_node_attribute_first(N(node)) : NULL;
  while (a && i--)
    a = myhtml_attribute_next(a);
  if (!a)
    return false;
  const char *k = myhtml_attribute_key(a, NULL), *v = myhtml_attribute_value(a, NULL);
  if (name)
    *name = k ? k : "";
  if (value)
    *value = v ? v : "";
  return true;
}

const char *cc_html_base_url(cc_html_doc_t *d) {
  if (!d->base_done) {
    d->base_done = 1;
    myhtml_tree_node_t *root = d->tree->node_html, *b = NULL;
    for (myhtml_tree_node_t *n = root; n; n = next_node(n, root, 0))
      if (n->tag_id == MyHTML_TAG_BASE && cc_html_node_attr(CN(n), "href")) {
        b = n;
        break;
      }
    if (b) {
      const char *href = cc_html_node_attr(CN(b), "href");
      cc__urlbase_t page = {0};
      cc__sbuf_t r = {0};
      if (d->url)
        cc__urlbase_set(&page, d->url);
      if (cc__url_resolve(&page, href, strlen(href), 0, &r) == 0 && !r.oom)
        d->base = r.p;
      else
        cc__sb_free(&r);
      cc__urlbase_clear(&page);
    }
    if (!d->base && d->url)
      d->base = strdup(d->url);
  }
  return d->base;
}

static unsigned link_kind(const myhtml_tree_node_t *n, const char **attr) {
  /* SVG's <a href> is a link too; the rest are HTML's own. */
  if (n->ns != MyHTML_NAMESPACE_HTML &&
      !(n->ns == MyHTML_NAMESPACE_SVG && n->tag_id == MyHTML_TAG_A))
    return 0;
  switch (n->tag_id) {
  case MyHTML_TAG_A:
    *attr = "href";
    return CC_HTML_LINK_A;
  case MyHTML_TAG_AREA:
    *attr = "href";
    return CC_HTML_LINK_AREA;
  case MyHTML_TAG_LINK:
    *attr = "href";
    return CC_HTML_LINK_LINK;
  case MyHTML_TAG_IMG:
    *attr = "src";
    return CC_HTML_LINK_IMG;
  case MyHTML_TAG_SCRIPT:
    *attr = "src";
    return CC_HTML_LINK_SCRIPT;
  default:
    return 0;
  }
}

long cc_html_links(cc_html_doc_t *d, unsigned kinds, unsigned flags,
                   const cc_html_link_t **out) {
  if (!d || !out)
    return -EINVAL;
  *out = NULL;
  free_links(d);
  if (!kinds)
    kinds = CC_HTML_LINK_A;
  cc__urlbase_t base = {0};
  if (!(flags & CC_HTML_RAW)) {
    const char *b = cc_html_base_url(d);
    if (b && cc__urlbase_set(&base, b) == -ENOMEM)
      return -ENOMEM;
  }
  size_t cap = 0;
  int rc = 0;
  cc__sbuf_t r = {0};
  myhtml_tree_node_t *root = d->tree->node_html;
  for (myhtml_tree_node_t *n = root; n && rc == 0; n = next_node(n, root, 0)) {
    const char *attr = NULL;
    unsigned k = link_kind(n, &attr);
    const char *v;
    if (!(k & kinds) || !(v = cc_html_node_attr(CN(n), attr)))
      continue;
    char *url = NULL;
    if (!(flags & CC_HTML_RAW)) {
      int e = cc__url_resolve(&base, v, strlen(v), flags, &r);
      if (e == -ENOMEM) {
        rc = e;
        break;
      }
      if (e < 0)
        continue;
      url = strdup(r.p);
    } else {
      url = strdup(v);
    }
    char *val = strdup(v);
    if (d->nlinks == cap) {
      size_t nc = cap ? 2 * cap : 64;
      cc_html_link_t *nl = realloc(d->links, nc * sizeof *nl);
      if (nl)
        d->links = nl;
      char **ns = nl ? realloc(d->link_strs, 2 * nc * sizeof *ns) : NULL;
      if (ns)
        d->link_strs = ns;
      if (!nl || !ns) {
        free(url);
        free(val);
        rc = -ENOMEM;
        break;
      }
      cap = nc;
    }
    if (!url || !val) {
      free(url);
      free(val);
      rc = -ENOMEM;
      break;
    }
    d->link_strs[2 * d->nlinks] = url;
    d->link_strs[2 * d->nlinks + 1] = val;
    d->links[d->nlinks++] =
        (cc_html_link_t){.url = url, .value = val, .kind = k, .node = CN(n)};
  }
  cc__sb_free(&r);
  cc__urlbase_clear(&base);
  if (rc < 0) {
    free_links(d);
    return rc;
  }
  *out = d->links;
  return (long)d->nlinks;
}

/* ---- text ------------------------------------------------------------- */

static int hidden(const myhtml_tree_node_t *n) {
  return n->ns == MyHTML_NAMESPACE_HTML &&
         (n->tag_id == MyHTML_TAG_SCRIPT || n->tag_id == MyHTML_TAG_STYLE ||
          n->tag_id == MyHTML_TAG_NOSCRIPT || n->tag_id == MyHTML_TAG_TEMPLATE);
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

char *cc_html_text(cc_html_doc_t *d, const cc_html_node_t *node, const char *sep,
                   unsigned flags, size_t *len) {
  myhtml_tree_node_t *scope = node ? N(node) : d->tree->document;
  size_t sl = sep ? strlen(sep) : 0;
  cc__sbuf_t b = {0};
  cc__sb_put(&b, "", 0);
  int first = 1;
  for (myhtml_tree_node_t *n = scope; n; n = next_node(n, scope, hidden(n))) {
    if (n->tag_id != MyHTML_TAG__TEXT || (n == scope && node && hidden(n)))
      continue;
    size_t tl = 0;
    const char *t = myhtml_node_text(n, &tl);
    if (!t)
      continue;
    if (flags & CC_HTML_TEXT_STRIP) {
      while (tl && is_space(*t))
        t++, tl--;
      while (tl && is_space(t[tl - 1]))
        tl--;
      if (!tl)
        continue;
    }
    if (!first)
      cc__sb_put(&b, sep, sl);
    first = 0;
    cc__sb_put(&b, t, tl);
  }
  if (b.oom) {
    cc__sb_free(&b);
    return NULL;
  }
  if (len)
    *len = b.n;
  return b.p;
}

/* ---- finding ---------------------------------------------------------- */

static int push(cc_html_nodes_t *out, size_t *cap, myhtml_tree_node_t *n) {
  if (out->n == *cap) {
    size_t nc = *cap ? 2 * *cap : 16;
    cc_html_node_t **v = realloc(out->v, nc * sizeof *v);
    if (!v)
      return -ENOMEM;
    out->v = v;
    *cap = nc;
  }
  out->v[out->n++] = CN(n);
  return 0;
}

static int has_class(const char *list, const char *want) {
  size_t wl = strlen(want);
  for (const char *p = list; *p;) {
    while (*p && is_space(*p))
      p++;
    const char *s = p;
    while (*p && !is_space(*p))
      p++;
    if ((size_t)(p - s) == wl && wl && memcmp(s, want, wl) == 0)
      return 1;
  }
  return 0;
}

static int matches(const myhtml_tree_node_t *n, myhtml_tree_t *tree, const char *tag,
                   const char *const *attrs) {
  if (!is_element(n))
    return 0;
  if (tag) {
    size_t l = 0;
    const char *name = myhtml_tag_name_by_id(tree, n->tag_id, &l);
    if (!name || strlen(tag) != l || strncasecmp(name, tag, l) != 0)
      return 0;
  }
  for (size_t i = 0; attrs && attrs[i]; i += 2) {
    const char *v = cc_html_node_attr(CN(n), attrs[i]);
    if (!v)
      return 0;
    if (attrs[i + 1] && strcasecmp(attrs[i], "class") == 0) {
      if (!has_class(v, attrs[i + 1]) && strcmp(v, attrs[i + 1]) != 0)
        return 0;
    } else if (attrs[i + 1] && strcmp(v, attrs[i + 1]) != 0) {
      return 0;
    }
  }
  return 1;
}

static long find(cc_html_doc_t *d, const cc_html_node_t *scope, const char *tag,
                 const char *const *attrs, cc_html_nodes_t *out, int first_only) {
  myhtml_tree_node_t *s = scope ? N(scope) : d->tree->document;
  size_t cap = 0;
  for (myhtml_tree_node_t *n = next_node(s, s, 0); n; n = next_node(n, s, 0)) {
    if (!matches(n, d->tree, tag, attrs))
      continue;
    if (push(out, &cap, n) < 0) {
      cc_html_nodes_free(out);
      return -ENOMEM;
    }
    if (first_only)
      break;
  }
  return (long)out->n;
}

long cc_html_find_all(cc_html_doc_t *d, const cc_html_node_t *scope, const char *tag,
                      const char *const *attrs, cc_html_nodes_t *out) {
  if (!d || !out)
    return -EINVAL;
  *out = (cc_html_nodes_t){0};
  return find(d, scope, tag, attrs, out, 0);
}

cc_html_node_t *cc_html_find(cc_html_doc_t *d, const cc_html_node_t *scope,
                             const char *tag, const char *const *attrs) {
  cc_html_nodes_t out = {0};
  if (!d || find(d, scope, tag, attrs, &out, 1) <= 0)
    return NULL;
  cc_html_node_t *n = out.v[0];
  cc_html_nodes_free(&out);
  return n;
}

void cc_html_nodes_free(cc_html_nodes_t *nodes) {
  if (!nodes)
    return;
  free(nodes->v);
  *nodes = (cc_html_nodes_t){0};
}

static int select_init(cc_html_doc_t *d) {
  if (d->finder)
    return 0;
  d->css = mycss_create();
  if (!d->css || mycss_init(d->css) != MyCSS_STATUS_OK)
    return -ENOMEM;
  d->css_entry = mycss_entry_create();
  if (!d->css_entry || mycss_entry_init(d->css, d->css_entry) != MyCSS_STATUS_OK)
    return -ENOMEM;
  d->finder = modest_finder_create_simple();
  return d->finder ? 0 : -ENOMEM;
}

static int ptr_cmp(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
  return x < y ? -1 : x > y;
}

/* The finder gives a selector list's matches selector by selector, so an
 * element matched by two of them comes twice and the order is not the
 * document's. soup.select gives each element once, in document order:
 * rewrite col that way (one walk of the scope's subtree, each node looked up
 * among the sorted matches). 0 or -ENOMEM. */
static int in_document_order(myhtml_collection_t *col, myhtml_tree_node_t *scope) {
  size_t n = col->length;
  myhtml_tree_node_t **m = malloc(n * sizeof *m);
  if (!m)
    return -ENOMEM;
  memcpy(m, col->list, n * sizeof *m);
  qsort(m, n, sizeof *m, ptr_cmp);
  size_t k = 0;
  for (myhtml_tree_node_t *x = scope; x && k < n; x = next_node(x, scope, 0))
    if (bsearch(&x, m, n, sizeof *m, ptr_cmp))
      col->list[k++] = x;
  col->length = k;
  free(m);
  return 0;
}

long cc_html_select(cc_html_doc_t *d, const cc_html_node_t *scope, const char *css,
                    cc_html_nodes_t *out) {
  if (!d || !out || !css)
    return -EINVAL;
  *out = (cc_html_nodes_t){0};
  char *norm = NULL;
  int rc = cc__css_selector_norm(css, &norm);
  if (rc <= 0)
    return rc < 0 ? rc : -CC_ESELECTOR;
  rc = select_init(d);
  if (rc < 0) {
    free(norm);
    return rc;
  }
  mystatus_t st = 0;
  mycss_selectors_t *sel = mycss_entry_selectors(d->css_entry);
  mycss_selectors_list_t *list =
      mycss_selectors_parse(sel, MyENCODING_UTF_8, norm, strlen(norm), &st);
  free(norm);
  if (!list || st != MyCSS_STATUS_OK ||
      (list->flags & MyCSS_SELECTORS_FLAGS_SELECTOR_BAD) || !list->entries_list_length) {
    if (list)
      mycss_selectors_list_destroy(sel, list, true);
    return -CC_ESELECTOR;
  }
  myhtml_collection_t *col = NULL;
  myhtml_tree_node_t *s = scope ? N(scope) : d->tree->node_html;
  bool several = list->entries_list_length > 1;
  modest_finder_by_selectors_list(d->finder, s, list, &col);
  mycss_selectors_list_destroy(sel, list, true);
  if (col && col->length > 1 && several)
    rc = in_document_order(col, s);
  size_t cap = 0;
  for (size_t i = 0; rc >= 0 && col && i < col->length; i++) {
    /* The finder also tries the scope itself; soup.select does not. */
    if (scope && col->list[i] == s)
      continue;
    rc = push(out, &cap, col->list[i]);
  }
  myhtml_collection_destroy(col);
  if (rc < 0) {
    cc_html_nodes_free(out);
    return rc;
  }
  return (long)out->n;
}

cc_html_node_t *cc_html_select_one(cc_html_doc_t *d, const cc_html_node_t *scope,
                                   const char *css) {
  cc_html_nodes_t out = {0};
  if (cc_html_select(d, scope, css, &out) <= 0)
    return NULL;
  cc_html_node_t *n = out.v[0];
  cc_html_nodes_free(&out);
  return n;
}

/* ---- nodes ------------------------------------------------------------ */

const char *cc_html_node_tag(const cc_html_node_t *node) {
  const myhtml_tree_node_t *n = N(node);
  if (n->tag_id == MyHTML_TAG__TEXT)
    return "#text";
  if (n->tag_id == MyHTML_TAG__COMMENT)
    return "#comment";
  const char *s = myhtml_tag_name_by_id(n->tree, n->tag_id, NULL);
  return s ? s : "";
}

bool cc_html_node_is_element(const cc_html_node_t *node) {
  return node && is_element(N(node));
}

const char *cc_html_node_value(const cc_html_node_t *node) {
  const myhtml_tree_node_t *n = N(node);
  if (n->tag_id != MyHTML_TAG__TEXT && n->tag_id != MyHTML_TAG__COMMENT)
    return NULL;
  const char *s = myhtml_node_text(N(node), NULL);
  return s ? s : "";
}

cc_html_node_t *cc_html_node_parent(const cc_html_node_t *node) {
  myhtml_tree_node_t *p = N(node)->parent;
  return p && p->tag_id != MyHTML_TAG__UNDEF ? CN(p) : NULL;
}

cc_html_node_t *cc_html_node_child(const cc_html_node_t *node) {
  return CN(N(node)->child);
}

cc_html_node_t *cc_html_node_next(const cc_html_node_t *node) {
  return CN(N(node)->next);
}
