/* w8_html_parsers: the measurement behind the choice of concur's HTML parser
 * (docs/html.md). Runs W8 (the first <title> and every <a href> of each HTML
 * file under DIR) with each candidate library, interleaved in rounds in one
 * process, on documents already in memory:
 *
 *   concur-scan   concur's fast path (cc_html_scan: its own tokenizer)
 *   myhtml-raw    myhtml's tokenizer, no token processing: the callback reads
 *                 raw positions and decodes references, CR/LF and NULs itself
 *   myhtml-tok    myhtml's tokenizer with its own token processing
 *   myhtml-tree   myhtml's tree, then the tree walked by tag id
 *   modest-find   myhtml's tree, then modest's finder ("title", "a[href]")
 *   libxml2-sax   libxml2's HTML push parser with SAX callbacks
 *   libxml2-tree  libxml2's HTML tree, walked
 *   gumbo         gumbo's tree, walked
 *
 *   build/bench/w8_html_parsers [DIR] [ROUNDS]
 *
 * Prints one line per parser (best and median MB/s over the rounds, links,
 * titles, and a hash of every link value so that decoders can be compared).
 * Exits non-zero if a parser's counts differ from the first one's. */
#define _GNU_SOURCE
#include <ftw.h>
#include <gumbo.h>
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <modest/finder/finder.h>
#include <mycss/mycss.h>
#include <mycss/selectors/init.h>
#include <myhtml/myhtml.h>
#include <myhtml/tree.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <concur.h>

#include "common.h"
#include "html/html_int.h"

typedef struct doc {
  char *data;
  size_t len;
} doc_t;

static doc_t *docs;
static size_t ndocs, capdocs, total_bytes;

static int add_file(const char *path, const struct stat *st, int type, struct FTW *f) {
  (void)f;
  size_t n = strlen(path);
  if (type != FTW_F || n < 5 || strcmp(path + n - 5, ".html") != 0)
    return 0;
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return 0;
  char *buf = malloc((size_t)st->st_size + 1);
  size_t got = fread(buf, 1, (size_t)st->st_size, fp);
  fclose(fp);
  buf[got] = 0;
  if (ndocs == capdocs) {
    capdocs = capdocs ? 2 * capdocs : 1024;
    docs = realloc(docs, capdocs * sizeof *docs);
  }
  docs[ndocs++] = (doc_t){buf, got};
  total_bytes += got;
  return 0;
}

/* ---- the answer ------------------------------------------------------- */

typedef struct answer {
  size_t links, titles;
  uint64_t hash; /* FNV-1a over every link value and title, each followed by a 0 */
} answer_t;

static void hash_bytes(answer_t *a, const char *s, size_t n) {
  uint64_t h = a->hash ? a->hash : 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  a->hash = (h ^ 0xff) * 1099511628211ull;
}

/* Raw mode: the caller decodes character references, CR/LF and NULs; this
 * uses concur's own decoder (src/html/decode.c), the one cc_html_scan runs. */

static myhtml_t *mh;
static myhtml_tree_t *mt;

typedef struct raw_ctx {
  const char *base;
  answer_t *a;
  int in_title, have_title;
  cc__sbuf_t sb;
} raw_ctx_t;

static void *raw_cb(myhtml_tree_t *tree, myhtml_token_node_t *t, void *vctx) {
  raw_ctx_t *c = vctx;
  if (t->tag_id == MyHTML_TAG_A && !(t->type & MyHTML_TOKEN_TYPE_CLOSE)) {
    for (myhtml_token_attr_t *at = t->attr_first; at; at = at->next) {
      if (at->raw_key_length == 4 &&
          strncasecmp(c->base + at->raw_key_begin, "href", 4) == 0) {
        cc__html_decode(&c->sb, c->base + at->raw_value_begin, at->raw_value_length, 1);
        c->a->links++;
        hash_bytes(c->a, c->sb.p, c->sb.n);
        break; /* the first of duplicate attributes wins */
      }
    }
  } else if (t->tag_id == MyHTML_TAG_TITLE) {
    if (!(t->type & MyHTML_TOKEN_TYPE_CLOSE) && !c->have_title) {
      c->in_title = 1;
      c->have_title = 1;
      c->a->titles++;
    } else if (t->type & MyHTML_TOKEN_TYPE_CLOSE) {
      c->in_title = 0;
    }
  } else if (t->tag_id == MyHTML_TAG__TEXT && c->in_title) {
    cc__html_decode(&c->sb, c->base + t->raw_begin, t->raw_length, 0);
    hash_bytes(c->a, c->sb.p, c->sb.n);
  }
  return vctx;
}

static void run_myhtml_raw(answer_t *a) {
  raw_ctx_t c = {.a = a};
  for (size_t i = 0; i < ndocs; i++) {
    c.base = docs[i].data;
    c.in_title = c.have_title = 0;
    myhtml_tree_parse_flags_set(mt, MyHTML_TREE_PARSE_FLAGS_WITHOUT_PROCESS_TOKEN);
    myhtml_callback_before_token_done_set(mt, raw_cb, &c);
    myhtml_parse(mt, MyENCODING_UTF_8, docs[i].data, docs[i].len);
  }
  myhtml_callback_before_token_done_set(mt, NULL, NULL);
  myhtml_tree_parse_flags_set(mt, 0);
  myhtml_tree_clean(mt);
  free(c.sb.p);
}

static void *tok_cb(myhtml_tree_t *tree, myhtml_token_node_t *t, void *vctx) {
  raw_ctx_t *c = vctx;
  if (t->tag_id == MyHTML_TAG_A && !(t->type & MyHTML_TOKEN_TYPE_CLOSE)) {
    for (myhtml_token_attr_t *at = t->attr_first; at; at = at->next) {
      if (at->key.length == 4 && memcmp(at->key.data, "href", 4) == 0) {
        c->a->links++;
        hash_bytes(c->a, at->value.data ? at->value.data : "", at->value.length);
        break;
      }
    }
  } else if (t->tag_id == MyHTML_TAG_TITLE) {
    if (!(t->type & MyHTML_TOKEN_TYPE_CLOSE) && !c->have_title) {
      c->in_title = c->have_title = 1;
      c->a->titles++;
    } else if (t->type & MyHTML_TOKEN_TYPE_CLOSE) {
      c->in_title = 0;
    }
  } else if (t->tag_id == MyHTML_TAG__TEXT && c->in_title) {
    hash_bytes(c->a, t->str.data ? t->str.data : "", t->str.length);
  }
  return vctx;
}

static void run_myhtml_tok(answer_t *a) {
  raw_ctx_t c = {.a = a};
  for (size_t i = 0; i < ndocs; i++) {
    c.in_title = c.have_title = 0;
    myhtml_tree_parse_flags_set(mt, MyHTML_TREE_PARSE_FLAGS_WITHOUT_BUILD_TREE);
    myhtml_callback_after_token_done_set(mt, tok_cb, &c);
    myhtml_parse(mt, MyENCODING_UTF_8, docs[i].data, docs[i].len);
  }
  myhtml_callback_after_token_done_set(mt, NULL, NULL);
  myhtml_tree_parse_flags_set(mt, 0);
  myhtml_tree_clean(mt);
}

static void myhtml_title_text(myhtml_tree_node_t *n, answer_t *a) {
  cc__sbuf_t sb = {0};
  for (myhtml_tree_node_t *ch = myhtml_node_child(n); ch; ch = myhtml_node_next(ch)) {
    size_t len = 0;
    const char *t = myhtml_node_text(ch, &len);
    if (t)
      cc__sb_put(&sb, t, len);
  }
  hash_bytes(a, sb.p ? sb.p : "", sb.n);
  free(sb.p);
}

static void run_myhtml_tree(answer_t *a) {
  for (size_t i = 0; i < ndocs; i++) {
    myhtml_parse(mt, MyENCODING_UTF_8, docs[i].data, docs[i].len);
    mystatus_t st;
    myhtml_collection_t *col =
        myhtml_get_nodes_by_tag_id(mt, NULL, MyHTML_TAG_TITLE, &st);
    if (col && col->length) {
      a->titles++;
      myhtml_title_text(col->list[0], a);
    }
    myhtml_collection_destroy(col);
    col = myhtml_get_nodes_by_tag_id(mt, NULL, MyHTML_TAG_A, &st);
    for (size_t k = 0; col && k < col->length; k++) {
      myhtml_tree_attr_t *at = myhtml_attribute_by_key(col->list[k], "href", 4);
      if (at) {
        size_t len = 0;
        const char *v = myhtml_attribute_value(at, &len);
        a->links++;
        hash_bytes(a, v ? v : "", len);
      }
    }
    myhtml_collection_destroy(col);
  }
  myhtml_tree_clean(mt);
}

static mycss_t *css;
static mycss_entry_t *css_entry;
static modest_finder_t *finder;
static mycss_selectors_list_t *sel_title, *sel_a;

static mycss_selectors_list_t *parse_sel(const char *s) {
  mystatus_t st;
  return mycss_selectors_parse(mycss_entry_selectors(css_entry), MyENCODING_UTF_8, s,
                               strlen(s), &st);
}

static void run_modest(answer_t *a) {
  for (size_t i = 0; i < ndocs; i++) {
    myhtml_parse(mt, MyENCODING_UTF_8, docs[i].data, docs[i].len);
    myhtml_collection_t *col = NULL;
    modest_finder_by_selectors_list(finder, mt->node_html, sel_title, &col);
    if (col && col->length) {
      a->titles++;
      myhtml_title_text(col->list[0], a);
    }
    myhtml_collection_destroy(col);
    col = NULL;
    modest_finder_by_selectors_list(finder, mt->node_html, sel_a, &col);
    for (size_t k = 0; col && k < col->length; k++) {
      myhtml_tree_attr_t *at = myhtml_attribute_by_key(col->list[k], "href", 4);
      size_t len = 0;
      const char *v = at ? myhtml_attribute_value(at, &len) : NULL;
      a->links++;
      hash_bytes(a, v ? v : "", len);
    }
    myhtml_collection_destroy(col);
  }
  myhtml_tree_clean(mt);
}

/* ---- libxml2 ---------------------------------------------------------- */

typedef struct sax_ctx {
  answer_t *a;
  int in_title, have_title;
  cc__sbuf_t sb;
} sax_ctx_t;

static void sax_start(void *ud, const xmlChar *name, const xmlChar **attrs) {
  sax_ctx_t *c = ud;
  if (name[0] == 'a' && name[1] == 0) {
    for (size_t k = 0; attrs && attrs[k]; k += 2) {
      if (strcmp((const char *)attrs[k], "href") == 0) {
        const char *v = attrs[k + 1] ? (const char *)attrs[k + 1] : "";
        c->a->links++;
        hash_bytes(c->a, v, strlen(v));
        break;
      }
    }
  } else if (!c->have_title && strcmp((const char *)name, "title") == 0) {
    c->in_title = c->have_title = 1;
    c->sb.n = 0;
    c->a->titles++;
  }
}

static void sax_end(void *ud, const xmlChar *name) {
  sax_ctx_t *c = ud;
  if (c->in_title && strcmp((const char *)name, "title") == 0) {
    c->in_title = 0;
    hash_bytes(c->a, c->sb.p ? c->sb.p : "", c->sb.n);
  }
}

static void sax_chars(void *ud, const xmlChar *ch, int len) {
  sax_ctx_t *c = ud;
  if (c->in_title)
    cc__sb_put(&c->sb, (const char *)ch, (size_t)len);
}

static void sax_quiet(void *ud, const char *msg, ...) {}

static void run_libxml2_sax(answer_t *a) {
  htmlSAXHandler sax;
  memset(&sax, 0, sizeof sax);
  sax.startElement = sax_start;
  sax.endElement = sax_end;
  sax.characters = sax_chars;
  sax.cdataBlock = sax_chars;
  sax.error = sax_quiet;
  sax.warning = sax_quiet;
  sax_ctx_t c = {.a = a};
  for (size_t i = 0; i < ndocs; i++) {
    c.in_title = c.have_title = 0;
    htmlParserCtxtPtr ctx =
        htmlCreatePushParserCtxt(&sax, &c, NULL, 0, NULL, XML_CHAR_ENCODING_UTF8);
    htmlCtxtUseOptions(ctx, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
    htmlParseChunk(ctx, docs[i].data, (int)docs[i].len, 0);
    htmlParseChunk(ctx, NULL, 0, 1);
    htmlFreeParserCtxt(ctx);
  }
  free(c.sb.p);
}

static void run_libxml2_tree(answer_t *a) {
  for (size_t i = 0; i < ndocs; i++) {
    htmlDocPtr d =
        htmlReadMemory(docs[i].data, (int)docs[i].len, NULL, "UTF-8",
                       HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
    int have_title = 0;
    xmlNodePtr n = xmlDocGetRootElement(d);
    while (n) {
      if (n->type == XML_ELEMENT_NODE) {
        if (strcmp((const char *)n->name, "a") == 0) {
          for (xmlAttrPtr at = n->properties; at; at = at->next)
            if (strcmp((const char *)at->name, "href") == 0) {
              const char *v = at->children && at->children->content
                                  ? (const char *)at->children->content
                                  : "";
              a->links++;
              hash_bytes(a, v, strlen(v));
              break;
            }
        } else if (!have_title && strcmp((const char *)n->name, "title") == 0) {
          have_title = 1;
          a->titles++;
          xmlChar *t = xmlNodeGetContent(n);
          hash_bytes(a, t ? (const char *)t : "", t ? strlen((const char *)t) : 0);
          xmlFree(t);
        }
      }
      if (n->children && n->type == XML_ELEMENT_NODE) {
        n = n->children;
        continue;
      }
      while (n && !n->next)
        n = n->parent && n->parent->type != XML_DOCUMENT_NODE &&
                    n->parent->type != XML_HTML_DOCUMENT_NODE
                ? n->parent
                : NULL;
      if (n)
        n = n->next;
    }
    xmlFreeDoc(d);
  }
}

/* ---- gumbo ------------------------------------------------------------ */

static void run_gumbo(answer_t *a) {
  size_t cap = 1024;
  GumboNode **stack = malloc(cap * sizeof *stack);
  for (size_t i = 0; i < ndocs; i++) {
    GumboOutput *out =
        gumbo_parse_with_options(&kGumboDefaultOptions, docs[i].data, docs[i].len);
    int have_title = 0;
    size_t sp = 0;
    stack[sp++] = out->root;
    /* Depth first, in document order: children pushed in reverse. */
    while (sp) {
      GumboNode *n = stack[--sp];
      if (n->type != GUMBO_NODE_ELEMENT && n->type != GUMBO_NODE_TEMPLATE)
        continue;
      GumboElement *e = &n->v.element;
      if (e->tag == GUMBO_TAG_A) {
        GumboAttribute *h = gumbo_get_attribute(&e->attributes, "href");
        if (h) {
          a->links++;
          hash_bytes(a, h->value, strlen(h->value));
        }
      } else if (e->tag == GUMBO_TAG_TITLE && !have_title) {
        have_title = 1;
        a->titles++;
        cc__sbuf_t sb = {0};
        for (unsigned k = 0; k < e->children.length; k++) {
          GumboNode *ch = e->children.data[k];
          if (ch->type == GUMBO_NODE_TEXT || ch->type == GUMBO_NODE_WHITESPACE)
            cc__sb_put(&sb, ch->v.text.text, strlen(ch->v.text.text));
        }
        hash_bytes(a, sb.p ? sb.p : "", sb.n);
        free(sb.p);
      }
      if (sp + e->children.length > cap) {
        cap = (sp + e->children.length) * 2;
        stack = realloc(stack, cap * sizeof *stack);
      }
      for (unsigned k = e->children.length; k-- > 0;)
        stack[sp++] = e->children.data[k];
    }
    gumbo_destroy_output(&kGumboDefaultOptions, out);
  }
  free(stack);
}

/* ---- concur's own (the fast path, cc_html_scan) ---------------------- */

static int concur_ev(void *ctx, const cc_html_event_t *ev) {
  answer_t *a = ctx;
  if (ev->kind == CC_HTML_EV_LINK)
    a->links++;
  else if (ev->kind == CC_HTML_EV_TITLE)
    a->titles++;
  if (ev->kind != CC_HTML_EV_BASE)
    hash_bytes(a, ev->value, ev->value_len);
  return 0;
}

static void run_concur(answer_t *a) {
  for (size_t i = 0; i < ndocs; i++)
    cc_html_scan(docs[i].data, docs[i].len, NULL, CC_HTML_LINK_A, CC_HTML_RAW, concur_ev,
                 a);
}

/* ---- driver ----------------------------------------------------------- */

typedef struct variant {
  const char *name;
  void (*run)(answer_t *);
  double times[64];
  answer_t ans;
} variant_t;

static int cmp_d(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/usr/share/doc/python3-doc/html/";
  int rounds = argc > 2 ? atoi(argv[2]) : 3;
  if (rounds < 1 || rounds > 64)
    rounds = 3;
  nftw(dir, add_file, 32, 0);
  if (!ndocs) {
    fprintf(stderr, "w8_html_parsers: no .html files under %s\n", dir);
    return 1;
  }
  mh = myhtml_create();
  myhtml_init(mh, MyHTML_OPTIONS_PARSE_MODE_SINGLE, 1, 0);
  mt = myhtml_tree_create();
  myhtml_tree_init(mt, mh);
  css = mycss_create();
  mycss_init(css);
  css_entry = mycss_entry_create();
  mycss_entry_init(css, css_entry);
  finder = modest_finder_create_simple();
  sel_title = parse_sel("title");
  sel_a = parse_sel("a[href]");
  xmlInitParser();

  variant_t v[] = {
      {.name = "concur-scan", .run = run_concur},
      {.name = "myhtml-raw", .run = run_myhtml_raw},
      {.name = "myhtml-tok", .run = run_myhtml_tok},
      {.name = "myhtml-tree", .run = run_myhtml_tree},
      {.name = "modest-find", .run = run_modest},
      {.name = "libxml2-sax", .run = run_libxml2_sax},
      {.name = "libxml2-tree", .run = run_libxml2_tree},
      {.name = "gumbo", .run = run_gumbo},
  };
  size_t nv = sizeof v / sizeof v[0];
  const char *only = getenv("W8_ONLY");
  for (int r = 0; r < rounds; r++) {
    for (size_t k = 0; k < nv; k++) {
      if (only && !strstr(only, v[k].name))
        continue;
      answer_t a = {0};
      double t0 = bench_now();
      v[k].run(&a);
      v[k].times[r] = bench_now() - t0;
      v[k].ans = a;
    }
  }
  int bad = 0;
  answer_t *ref = NULL;
  for (size_t k = 0; k < nv; k++) {
    if (only && !strstr(only, v[k].name))
      continue;
    qsort(v[k].times, (size_t)rounds, sizeof(double), cmp_d);
    double mb = total_bytes / 1e6;
    printf("W8 html-extract impl=%s files=%zu mb=%.1f mb_per_s=%.1f median_mb_per_s=%.1f "
           "links=%zu "
           "titles=%zu hash=%016llx\n",
           v[k].name, ndocs, mb, mb / v[k].times[0], mb / v[k].times[rounds / 2],
           v[k].ans.links, v[k].ans.titles, (unsigned long long)v[k].ans.hash);
    if (!ref)
      ref = &v[k].ans;
    else if (ref->links != v[k].ans.links || ref->titles != v[k].ans.titles)
      bad = 1;
  }
  return bad;
}
