/* Fuzzes the html layer (src/html/): the input is a document. Its first
 * byte picks the options (a charset from a Content-Type value or none, a
 * page URL or none); the rest is parsed into a tree and scanned as a
 * stream, and every query runs on the tree: title, links of every kind
 * (resolved and raw), text, find_all, select. Every string handed out must
 * be valid UTF-8 of the length given; nothing may crash, leak or hang.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <concur.h>

#include "html/html_int.h"
#include "fuzz_check.h"

static int valid_utf8(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned c = u[i];
    size_t k = c < 0x80                ? 1
               : c >= 0xC2 && c < 0xE0 ? 2
               : c >= 0xE0 && c < 0xF0 ? 3
               : c >= 0xF0 && c < 0xF5 ? 4
                                       : 0;
    if (!k || i + k > n)
      return 0;
    for (size_t j = 1; j < k; j++)
      if ((u[i + j] & 0xC0) != 0x80)
        return 0;
    i += k;
  }
  return 1;
}

/* Every event of a scan, as "kind:value\n" lines, to compare two scans. */
typedef struct trace {
  char *p;
  size_t n, cap;
} trace_t;

static void trace_add(trace_t *t, const cc_html_event_t *ev) {
  size_t need = t->n + ev->value_len + 4;
  if (need > t->cap) {
    t->cap = need * 2;
    t->p = realloc(t->p, t->cap);
    CHECK(t->p);
  }
  t->p[t->n++] = (char)('0' + ev->kind);
  t->p[t->n++] = (char)('0' + ev->link_kind);
  memcpy(t->p + t->n, ev->value, ev->value_len);
  t->n += ev->value_len;
  t->p[t->n++] = '\n';
}

static int on_event(void *ctx, const cc_html_event_t *ev) {
  if (ctx)
    trace_add(ctx, ev);
  CHECK(ev->value && strlen(ev->value) == ev->value_len);
  CHECK(valid_utf8(ev->value, ev->value_len));
  if (ev->url)
    CHECK(strlen(ev->url) == ev->url_len);
  return 0;
}

static const char *const charsets[] = {NULL, "text/html; charset=windows-1252",
                                       "text/html; charset=utf-16le",
                                       "text/html;charset=koi8-r"};
static const char *const urls[] = {NULL, "http://fuzz.example/dir/page.html?q=1#f",
                                   "https://[::1]:8443/", "file:///tmp/x.html"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  cc_html_opts_t o = {.content_type = charsets[data[0] & 3],
                      .url = urls[(data[0] >> 2) & 3]};
  const char *html = (const char *)data + 1;
  size_t len = size - 1;

  CHECK(cc_html_scan(html, len, &o, CC_HTML_LINK_ALL, (data[0] >> 4) & 3, on_event,
                     NULL) == 0);

  /* The fast tokenizer against myhtml's, on the input followed by a tail
   * that closes what it may leave open (quotes, tags, comments, raw text):
   * at the end of the input myhtml's tokenizer strays from HTML (it emits a
   * tag cut by the end, drops a <title>'s text ending in '<'), where the
   * fast one follows it. Inputs with "<![" are not compared: myhtml's
   * tokenizer dereferences NULL on them when no tree is built. */
  static const char tail[] =
      "'\"> --> ]]></title></textarea></style></script></xmp></iframe>"
      "</noembed></noframes>-->";
  if (!memmem(html, len, "<![", 3) && !memmem(html, len, "<plaintext", 10) &&
      !memmem(html, len, "<PLAINTEXT", 10)) {
    char *in = malloc(len + sizeof tail);
    CHECK(in);
    memcpy(in, html, len);
    memcpy(in + len, tail, sizeof tail);
    size_t il = len + sizeof tail - 1;
    trace_t a = {0}, b = {0};
    CHECK(cc_html_scan(in, il, &o, CC_HTML_LINK_ALL, CC_HTML_RAW, on_event, &a) == 0);
    CHECK(cc__html_scan_myhtml(in, il, &o, CC_HTML_LINK_ALL, CC_HTML_RAW, on_event, &b) ==
          0);
    if (a.n != b.n || (a.n && memcmp(a.p, b.p, a.n) != 0)) {
      fprintf(stderr, "fast:\n%.*s\nmyhtml:\n%.*s\n", (int)a.n, a.p ? a.p : "", (int)b.n,
              b.p ? b.p : "");
      CHECK(!"the fast tokenizer and myhtml's disagree");
    }
    free(a.p);
    free(b.p);
    free(in);
  }

  cc_html_doc_t *d = NULL;
  CHECK(cc_html_parse(&d, html, len, &o) == 0);
  const char *t = cc_html_title(d);
  if (t)
    CHECK(valid_utf8(t, strlen(t)));
  const char *b = cc_html_base_url(d);
  (void)b;
  for (unsigned flags = 0; flags < 3; flags++) {
    const cc_html_link_t *l;
    long n = cc_html_links(d, CC_HTML_LINK_ALL, flags, &l);
    CHECK(n >= 0);
    for (long i = 0; i < n; i++) {
      CHECK(valid_utf8(l[i].value, strlen(l[i].value)));
      CHECK(l[i].url && cc_html_node_is_element(l[i].node));
    }
  }
  size_t tl = 0;
  char *text = cc_html_text(d, NULL, " ", (data[0] >> 6) & 1, &tl);
  CHECK(text && strlen(text) <= tl && valid_utf8(text, tl));
  free(text);
  cc_html_nodes_t ns;
  const char *attrs[] = {"class", "x", "href", NULL, NULL};
  CHECK(cc_html_find_all(d, NULL, NULL, attrs, &ns) >= 0);
  cc_html_nodes_free(&ns);
  CHECK(cc_html_find_all(d, NULL, "div", NULL, &ns) >= 0);
  for (size_t i = 0; i < ns.n && i < 16; i++) {
    char *s = cc_html_text(d, ns.v[i], "|", CC_HTML_TEXT_STRIP, NULL);
    CHECK(s);
    free(s);
    const char *k, *v;
    for (size_t j = 0; cc_html_node_attr_at(ns.v[i], j, &k, &v); j++)
      CHECK(k && v);
  }
  cc_html_nodes_free(&ns);
  static const char *const sels[] = {"a[href]", "div > p.x, #id ~ span",
                                     "li:nth-child(2n+1) a", "*:not(p)"};
  CHECK(cc_html_select(d, NULL, sels[size % 4], &ns) >= 0);
  cc_html_nodes_free(&ns);
  /* The input's first line as a selector too: anything that passes concur's
   * check must be safe for modest's parser. */
  const char *nl = memchr(html, '\n', len < 96 ? len : 96);
  if (nl) {
    char sel[96];
    memcpy(sel, html, (size_t)(nl - html));
    sel[nl - html] = 0;
    long r = cc_html_select(d, NULL, sel, &ns);
    CHECK(r >= 0 || r == -CC_ESELECTOR);
    cc_html_nodes_free(&ns);
  }
  cc_html_free(d);
  return 0;
}
