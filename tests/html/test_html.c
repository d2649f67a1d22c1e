/* HTML extraction: small documents with known answers (title, links and
 * their resolution, text, find_all, select, charsets), broken input that
 * must neither crash nor hang, and the Python documentation (W8's answer). */
#include <dirent.h>
#include <ftw.h>
#include <sys/resource.h>
#include <time.h>

#include "html/html_int.h"
#include "test.h"

#define ASSERT_STR(a, b)                                                                 \
  do {                                                                                   \
    const char *a_ = (a), *b_ = (b);                                                     \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                               \
      CC_TEST_FAIL("%s == %s (\"%s\" vs \"%s\")", #a, #b, a_ ? a_ : "(null)",            \
                   b_ ? b_ : "(null)");                                                  \
  } while (0)

static cc_html_doc_t *parse(const char *html, const char *url) {
  cc_html_opts_t o = {.url = url};
  cc_html_doc_t *d = NULL;
  ASSERT_EQ(cc_html_parse(&d, html, strlen(html), &o), 0);
  ASSERT_NOT_NULL(d);
  return d;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- title ---------------------------------------------------------------- */

TEST(title_basic) {
  cc_html_doc_t *d = parse("<html><head><title>Hello &amp; welcome</title></head>"
                           "<body><title>second</title></body></html>",
                           NULL);
  ASSERT_STR(cc_html_title(d), "Hello & welcome");
  cc_html_free(d);
  d = parse("<p>no title here</p>", NULL);
  ASSERT_NULL(cc_html_title(d));
  cc_html_free(d);
  d = parse("<TITLE>Upper <b>not a tag</b></TITLE>", NULL);
  ASSERT_STR(cc_html_title(d), "Upper <b>not a tag</b>");
  cc_html_free(d);
  d = parse("<title></title>", NULL);
  ASSERT_STR(cc_html_title(d), "");
  cc_html_free(d);
}

/* ---- links ---------------------------------------------------------------- */

TEST(links_resolution) {
  const char *html = "<a href='b.html'>1</a>"
                     "<a href='/abs/c.html'>2</a>"
                     "<a href='//other.example/x'>3</a>"
                     "<a href='https://ex.org/y?q=1#frag'>4</a>"
                     "<a href='../up.html'>5</a>"
                     "<a href='?q=a&amp;b=2'>6</a>"
                     "<a href='mailto:me@example.com'>7</a>"
                     "<a href='javascript:void(0)'>8</a>"
                     "<a href='data:text/plain,hi'>9</a>"
                     "<a href=''>10</a>"
                     "<a href='#top'>11</a>"
                     "<a name='noref'>12</a>"
                     "<a href='  spaced.html\n'>13</a>"
                     "<A HREF='caps.html'>14</A>";
  cc_html_doc_t *d = parse(html, "http://host.example/dir/page.html?x=1");
  const cc_html_link_t *l;
  long n = cc_html_links(d, 0, 0, &l);
  const char *want[] = {"http://host.example/dir/b.html",
                        "http://host.example/abs/c.html",
                        "http://other.example/x",
                        "https://ex.org/y?q=1#frag",
                        "http://host.example/up.html",
                        "http://host.example/dir/page.html?q=a&b=2",
                        "http://host.example/dir/page.html?x=1",
                        "http://host.example/dir/page.html?x=1#top",
                        "http://host.example/dir/spaced.html",
                        "http://host.example/dir/caps.html"};
  ASSERT_EQ(n, 10);
  for (long i = 0; i < n; i++) {
    ASSERT_STR(l[i].url, want[i]);
    ASSERT_EQ(l[i].kind, CC_HTML_LINK_A);
    ASSERT_STR(cc_html_node_tag(l[i].node), "a");
  }
  ASSERT_STR(l[5].value, "?q=a&b=2");
  /* Raw: every href as written (decoded), nothing dropped: W8's answer. */
  n = cc_html_links(d, CC_HTML_LINK_A, CC_HTML_RAW, &l);
  ASSERT_EQ(n, 13);
  ASSERT_STR(l[6].url, "mailto:me@example.com");
  ASSERT_STR(l[9].url, "");
  /* Fragments removed. */
  n = cc_html_links(d, 0, CC_HTML_NO_FRAGMENT, &l);
  ASSERT_EQ(n, 10);
  ASSERT_STR(l[3].url, "https://ex.org/y?q=1");
  ASSERT_STR(l[7].url, "http://host.example/dir/page.html?x=1");
  cc_html_free(d);
}

TEST(links_base_href) {
  const char *html = "<head><base href='/root/sub/'><base href='/ignored/'></head>"
                     "<a href='x.html'>x</a><a href='../y.html'>y</a>"
                     "<a href='http://abs.example/z'>z</a>";
  cc_html_doc_t *d = parse(html, "http://site.example/a/b/c.html");
  ASSERT_STR(cc_html_base_url(d), "http://site.example/root/sub/");
  const cc_html_link_t *l;
  ASSERT_EQ(cc_html_links(d, 0, 0, &l), 3);
  ASSERT_STR(l[0].url, "http://site.example/root/sub/x.html");
  ASSERT_STR(l[1].url, "http://site.example/root/y.html");
  ASSERT_STR(l[2].url, "http://abs.example/z");
  cc_html_free(d);
  /* An absolute base needs no page URL. */
  d = parse("<base href='https://cdn.example/v1/'><a href='k.js'>k</a>", NULL);
  ASSERT_EQ(cc_html_links(d, 0, 0, &l), 1);
  ASSERT_STR(l[0].url, "https://cdn.example/v1/k.js");
  cc_html_free(d);
  /* No base at all: relative links as written. */
  d = parse("<a href='rel/x.html'>k</a><a href='HTTP://Up.Example/p'>u</a>", NULL);
  ASSERT_EQ(cc_html_links(d, 0, 0, &l), 2);
  ASSERT_STR(l[0].url, "rel/x.html");
  ASSERT_STR(l[1].url, "http://Up.Example/p"); /* scheme lower-cased, host as written */
  cc_html_free(d);
}

TEST(links_kinds_and_entities) {
  const char *html = "<link rel=stylesheet href='s.css'><script src='j.js'></script>"
                     "<img src='i.png'><a href='a?x=1&amp;y=2&lt;&#x41;&#66;&copy'>a</a>"
                     "<map><area href='m.html'></map><img alt='no src'>"
                     "<a href='p?a=1&copy=2'>legacy entity before '=' stays</a>";
  cc_html_doc_t *d = parse(html, "http://e.example/");
  const cc_html_link_t *l;
  ASSERT_EQ(cc_html_links(d, CC_HTML_LINK_ALL, 0, &l), 6);
  ASSERT_EQ(l[0].kind, CC_HTML_LINK_LINK);
  ASSERT_STR(l[0].url, "http://e.example/s.css");
  ASSERT_EQ(l[1].kind, CC_HTML_LINK_SCRIPT);
  ASSERT_EQ(l[2].kind, CC_HTML_LINK_IMG);
  ASSERT_EQ(l[3].kind, CC_HTML_LINK_A);
  ASSERT_STR(l[3].value, "a?x=1&y=2<AB\xc2\xa9");
  ASSERT_EQ(l[4].kind, CC_HTML_LINK_AREA);
  ASSERT_STR(l[5].value, "p?a=1&copy=2");
  ASSERT_EQ(cc_html_links(d, CC_HTML_LINK_IMG | CC_HTML_LINK_SCRIPT, 0, &l), 2);
  cc_html_free(d);
}

TEST(urljoin) {
  char out[256];
  ASSERT_GT(cc_html_urljoin("http://a/b/c/d;p?q", "g", 0, out, sizeof out), 0);
  ASSERT_STR(out, "http://a/b/c/g");
  ASSERT_GT(cc_html_urljoin("http://a/b/c/d;p?q", "../../g", 0, out, sizeof out), 0);
  ASSERT_STR(out, "http://a/g");
  ASSERT_GT(cc_html_urljoin("http://a/b/c/d;p?q", "//g", 0, out, sizeof out), 0);
  ASSERT_STR(out, "http://g/");
  ASSERT_GT(cc_html_urljoin("https://a/b", "g#s", CC_HTML_NO_FRAGMENT, out, sizeof out),
            0);
  ASSERT_STR(out, "https://a/g");
  ASSERT_ERR(cc_html_urljoin("http://a/", "mailto:x@y", 0, out, sizeof out),
             -CC_ENOTHIER);
  ASSERT_ERR(cc_html_urljoin("http://a/", "JavaScript:alert(1)", 0, out, sizeof out),
             -CC_ENOTHIER);
  ASSERT_ERR(cc_html_urljoin("http://a/", "a-long-enough-path", 0, out, 8), -ENOSPC);
}

/* ---- streaming ------------------------------------------------------------ */

typedef struct evs {
  int n, titles, links, bases;
  char title[256], last[256], base[256];
  int stop_after;
} evs_t;

static int on_ev(void *ctx, const cc_html_event_t *ev) {
  evs_t *e = ctx;
  e->n++;
  ASSERT_EQ(strlen(ev->value), ev->value_len);
  if (ev->kind == CC_HTML_EV_TITLE) {
    e->titles++;
    snprintf(e->title, sizeof e->title, "%s", ev->value);
  } else if (ev->kind == CC_HTML_EV_LINK) {
    e->links++;
    ASSERT_EQ(strlen(ev->url), ev->url_len);
    snprintf(e->last, sizeof e->last, "%s", ev->url);
  } else if (ev->kind == CC_HTML_EV_BASE) {
    e->bases++;
    snprintf(e->base, sizeof e->base, "%s", ev->url);
  }
  return e->stop_after && e->n >= e->stop_after ? 42 : 0;
}

TEST(scan_basic) {
  const char *html = "<!doctype html><title>T &lt;1&gt;\r\n</title><base href='/b/'>"
                     "<script>document.write('<a href=\"nope\">')</script>"
                     "<!-- <a href='comment'> -->"
                     "<a href='x.html#f'>x</a><a href=mailto:q@w>m</a><img src='i.png'>"
                     "<textarea><a href='in-textarea'></textarea>";
  evs_t e = {0};
  cc_html_opts_t o = {.url = "http://s.example/d/p.html"};
  ASSERT_EQ(cc_html_scan(html, strlen(html), &o, 0, CC_HTML_NO_FRAGMENT, on_ev, &e), 0);
  ASSERT_EQ(e.titles, 1);
  ASSERT_STR(e.title, "T <1>\n");
  ASSERT_EQ(e.bases, 1);
  ASSERT_STR(e.base, "http://s.example/b/");
  ASSERT_EQ(e.links, 1);
  ASSERT_STR(e.last, "http://s.example/b/x.html");
  /* Raw mode, all kinds. */
  e = (evs_t){0};
  ASSERT_EQ(
      cc_html_scan(html, strlen(html), &o, CC_HTML_LINK_ALL, CC_HTML_RAW, on_ev, &e), 0);
  ASSERT_EQ(e.links, 3);
  ASSERT_STR(e.last, "i.png");
  /* The callback stops the scan. */
  e = (evs_t){.stop_after = 2};
  ASSERT_EQ(
      cc_html_scan(html, strlen(html), &o, CC_HTML_LINK_ALL, CC_HTML_RAW, on_ev, &e), 42);
  ASSERT_EQ(e.n, 2);
  /* An unclosed title runs to the end, as in the tree. */
  e = (evs_t){0};
  ASSERT_EQ(cc_html_scan("<title>open", 11, NULL, 0, 0, on_ev, &e), 0);
  ASSERT_STR(e.title, "open");
  ASSERT_ERR(cc_html_scan(NULL, 3, NULL, 0, 0, on_ev, &e), -EINVAL);
  ASSERT_EQ(cc_html_scan(NULL, 0, NULL, 0, 0, on_ev, &e), 0);
}

/* The fast tokenizer agrees with myhtml's, event for event. */
typedef struct trace {
  char buf[4096];
  size_t n;
} trace_t;

static int on_trace(void *ctx, const cc_html_event_t *ev) {
  trace_t *t = ctx;
  t->n += (size_t)snprintf(t->buf + t->n, sizeof t->buf - t->n, "%d:%u:%s\n", ev->kind,
                           ev->link_kind, ev->value);
  ASSERT_LT(t->n, sizeof t->buf);
  return 0;
}

TEST(scan_matches_myhtml) {
  const char *cases[] = {
      "<script><!--<script>x</script>--></script><a href=after><script><!-- x "
      "--></script>"
      "<a href=two><script>a<!--b<script>c</script>d</script><a href=three>",
      "<script>if (a<b) document.write('</scr'+'ipt>')</script><a href=s1>"
      "<script type=module></SCRIPT ><a href=s2><script><!-- </script> --><a href=s3>",
      "<!--> <a href=1> <!---> <a href=2> <!-- -- --!> <a href=3> <!----> <a href=4>"
      "<!-x> <a href=5> <?php x ?> <a href=6></ x><a href=7></><a href=8><!--<!-- x -->",
      "<style></styl></style ><a href=s></STYLE><a href=t><textarea></textarea/><a "
      "href=u>"
      "<title>x</titlex></title><a href=v><xmp><a href=no></xmp><iframe><a "
      "href=no></iframe>"
      "<noembed><a href=no></noembed><noframes><a href=no></noframes><noscript><a "
      "href=ns>"
      "</noscript><plaintext><a href=no>",
      "<a/href=x><a href = \"y\" href=z><a =href=q href><a href=><a href=\"q\"x=1>"
      "<a href='s'/><a HREF=up><a href=a&amp;b&ampc&notin;&noti;&not1><a\thref\n=\fv>"
      "<a href=\"&#x3C;&#60;&#X3e;&#0;\"><a href=u`n\"q'<>",
      "<title>A &amp; B\r\n&lt;c&gt;</title><title>second</title><base href=/b/>"
      "<base href=/c/><link href=l.css><img src=i.png><area href=ar><a href=x",
      "<a href='unterminated>text",
      "<title>unterminated",
      "</a href=\"x\"><a href=ok><div a=\"b\"c><svg><title>t</title><a href=sv></svg>",
  };
  cc_html_opts_t o = {.url = "http://h.example/d/"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    for (unsigned flags = 0; flags <= CC_HTML_RAW; flags++) {
      trace_t a = {.n = 0}, b = {.n = 0};
      size_t len = strlen(cases[i]);
      ASSERT_EQ(cc_html_scan(cases[i], len, &o, CC_HTML_LINK_ALL, flags, on_trace, &a),
                0);
      ASSERT_EQ(
          cc__html_scan_myhtml(cases[i], len, &o, CC_HTML_LINK_ALL, flags, on_trace, &b),
          0);
      /* A tag cut by the end of the input is dropped (HTML's "EOF in
       * tag"); myhtml emits it: its last event may be one more. */
      size_t bn = b.n;
      if (a.n < b.n && strstr(cases[i], "href=x") == cases[i] + len - 6) {
        bn = b.n - 1;
        while (bn > 0 && b.buf[bn - 1] != '\n')
          bn--;
      }
      if (a.n != bn || memcmp(a.buf, b.buf, a.n) != 0)
        CC_TEST_FAIL("case %zu flags %u:\nfast:\n%s\nmyhtml:\n%s", i, flags, a.buf,
                     b.buf);
    }
  }
}

/* ---- text ----------------------------------------------------------------- */

TEST(text_extraction) {
  const char *html =
      "<html><head><title>The Title</title><style>p{color:red}</style>"
      "<script>var x = 1;</script></head><body><h1>Head</h1>"
      "<p>One <b>two</b> three&nbsp;four</p><noscript>no js</noscript>"
      "<!-- comment --><template><p>tmpl</p></template><p>  pad  </p></body></html>";
  cc_html_doc_t *d = parse(html, NULL);
  size_t len = 0;
  char *t = cc_html_text(d, NULL, " ", 0, &len);
  ASSERT_STR(t, "The Title Head One  two  three\xc2\xa0"
                "four   pad  ");
  ASSERT_EQ(len, strlen(t));
  free(t);
  t = cc_html_text(d, NULL, "|", CC_HTML_TEXT_STRIP, NULL);
  ASSERT_STR(t, "The Title|Head|One|two|three\xc2\xa0"
                "four|pad");
  free(t);
  cc_html_node_t *p = cc_html_find(d, NULL, "p", NULL);
  t = cc_html_text(d, p, NULL, 0, NULL);
  ASSERT_STR(t, "One two three\xc2\xa0"
                "four");
  free(t);
  cc_html_free(d);
}

/* W9's rule: words are maximal runs of [a-z] in the lower-cased visible text
 * (text nodes outside script/style/noscript, title included, joined by a
 * space), of length 3 or more. */
static size_t count_words(const char *t, const char *word, size_t *total) {
  size_t n = 0, wl = strlen(word);
  *total = 0;
  for (const char *p = t; *p;) {
    while (*p && !((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))
      p++;
    const char *s = p;
    while (*p && (*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')
      p++;
    size_t l = (size_t)(p - s);
    if (l >= 3) {
      (*total)++;
      if (l == wl && strncasecmp(s, word, l) == 0)
        n++;
    }
  }
  return n;
}

TEST(text_word_rule) {
  const char *html = "<title>Python docs</title><script>python python</script>"
                     "<p>The module<b>Python</b>is PYTHON's</p><p>py-thon ab abc</p>"
                     "<noscript>python</noscript><style>.python{}</style>";
  cc_html_doc_t *d = parse(html, NULL);
  char *t = cc_html_text(d, NULL, " ", 0, NULL);
  size_t total;
  ASSERT_EQ(count_words(t, "python", &total), 3);
  /* python docs the module python python thon abc (py, is, s, ab too short) */
  ASSERT_EQ(total, 8);
  free(t);
  cc_html_free(d);
}

/* ---- find_all, select, nodes --------------------------------------------------- */

TEST(find_all) {
  const char *html = "<div id=main class='a b'><p class=x>1</p><p>2</p>"
                     "<span class='x y'>3</span><a href=''>e</a><a>no</a></div>";
  cc_html_doc_t *d = parse(html, NULL);
  cc_html_nodes_t ns;
  ASSERT_EQ(cc_html_find_all(d, NULL, "p", NULL, &ns), 2);
  cc_html_nodes_free(&ns);
  const char *cls[] = {"class", "x", NULL};
  ASSERT_EQ(cc_html_find_all(d, NULL, NULL, cls, &ns), 2);
  ASSERT_STR(cc_html_node_tag(ns.v[0]), "p");
  ASSERT_STR(cc_html_node_tag(ns.v[1]), "span");
  cc_html_nodes_free(&ns);
  const char *href[] = {"href", NULL, NULL};
  ASSERT_EQ(cc_html_find_all(d, NULL, "a", href, &ns), 1);
  cc_html_nodes_free(&ns);
  const char *empty[] = {"href", "", NULL};
  ASSERT_EQ(cc_html_find_all(d, NULL, "a", empty, &ns), 1);
  cc_html_nodes_free(&ns);
  cc_html_node_t *main_ =
      cc_html_find(d, NULL, "div", (const char *[]){"id", "main", NULL});
  ASSERT_NOT_NULL(main_);
  ASSERT_STR(cc_html_node_attr(main_, "ID"), "main");
  ASSERT_NULL(cc_html_node_attr(main_, "title"));
  const char *k, *v;
  ASSERT_TRUE(cc_html_node_attr_at(main_, 1, &k, &v));
  ASSERT_STR(k, "class");
  ASSERT_STR(v, "a b");
  ASSERT_FALSE(cc_html_node_attr_at(main_, 2, &k, &v));
  cc_html_node_t *c = cc_html_node_child(main_);
  ASSERT_STR(cc_html_node_tag(c), "p");
  ASSERT_STR(cc_html_node_tag(cc_html_node_child(c)), "#text");
  ASSERT_STR(cc_html_node_value(cc_html_node_child(c)), "1");
  ASSERT_NULL(cc_html_node_value(c));
  ASSERT_TRUE(cc_html_node_is_element(c));
  ASSERT_TRUE(cc_html_node_parent(c) == main_);
  ASSERT_STR(cc_html_node_tag(cc_html_node_next(c)), "p");
  /* Within a scope (the scope itself excluded). */
  ASSERT_EQ(cc_html_find_all(d, main_, "div", NULL, &ns), 0);
  cc_html_nodes_free(&ns);
  ASSERT_STR(cc_html_node_tag(cc_html_root(d)), "html");
  cc_html_free(d);
}

TEST(select) {
  const char *html =
      "<ul id=nav><li><a href='/1' class=ext>1</a></li><li><a href='/2'>2</a>"
      "</li><li class=last><a>3</a></li></ul><p><a href='/4'>4</a></p>";
  cc_html_doc_t *d = parse(html, NULL);
  cc_html_nodes_t ns;
  ASSERT_EQ(cc_html_select(d, NULL, "ul > li a[href]", &ns), 2);
  ASSERT_STR(cc_html_node_attr(ns.v[1], "href"), "/2");
  cc_html_nodes_free(&ns);
  /* Without spaces around '>' (which modest's parser alone misreads). */
  ASSERT_EQ(cc_html_select(d, NULL, "ul>li a[href]", &ns), 2);
  cc_html_nodes_free(&ns);
  ASSERT_EQ(cc_html_select(d, NULL, "#nav>li+li>a", &ns), 2);
  cc_html_nodes_free(&ns);
  ASSERT_EQ(cc_html_select(d, NULL, "a[href]", &ns), 3);
  cc_html_nodes_free(&ns);
  ASSERT_EQ(cc_html_select(d, NULL, "li:nth-child(2) a, li.last a", &ns), 2);
  cc_html_nodes_free(&ns);
  ASSERT_EQ(cc_html_select(d, NULL, "a.ext, p a", &ns), 2);
  cc_html_nodes_free(&ns);
  /* A list gives document order, each element once (soup.select). */
  ASSERT_EQ(cc_html_select(d, NULL, "p a, a.ext", &ns), 2);
  ASSERT_STR(cc_html_node_attr(ns.v[0], "href"), "/1");
  ASSERT_STR(cc_html_node_attr(ns.v[1], "href"), "/4");
  cc_html_nodes_free(&ns);
  ASSERT_EQ(cc_html_select(d, NULL, "li.last a, a[href], a.ext", &ns), 4);
  ASSERT_STR(cc_html_node_attr(ns.v[0], "href"), "/1");
  ASSERT_STR(cc_html_node_attr(ns.v[1], "href"), "/2");
  ASSERT_NULL(cc_html_node_attr(ns.v[2], "href"));
  ASSERT_STR(cc_html_node_attr(ns.v[3], "href"), "/4");
  cc_html_nodes_free(&ns);
  ASSERT_EQ(cc_html_select(d, NULL, "ul, li, ul", &ns), 4);
  ASSERT_STR(cc_html_node_tag(ns.v[0]), "ul");
  ASSERT_STR(cc_html_node_tag(ns.v[3]), "li");
  cc_html_nodes_free(&ns);
  cc_html_node_t *ul = cc_html_select_one(d, NULL, "#nav");
  ASSERT_NOT_NULL(ul);
  ASSERT_STR(cc_html_node_tag(ul), "ul");
  ASSERT_EQ(cc_html_select(d, ul, "a", &ns), 3);
  cc_html_nodes_free(&ns);
  ASSERT_EQ(cc_html_select(d, ul, "ul", &ns), 0);
  cc_html_nodes_free(&ns);
  ASSERT_ERR(cc_html_select(d, NULL, "a[[", &ns), -CC_ESELECTOR);
  ASSERT_ERR(cc_html_select(d, NULL, "", &ns), -CC_ESELECTOR);
  /* Malformed selectors never reach modest's parser (which misreads memory
   * on them): each is refused. */
  const char *bad[] = {
      ">",  ">>>",    "a >",      "a > > b",   ",",    "a,",
      ",a", "#",      "a[href=",  ":not(",     "+a",   "a)",
      "a}", "div,,a", "::before", ":dir(ltr)", ":foo", "a[x=\"unterminated]",
      NULL};
  for (size_t i = 0; bad[i]; i++)
    ASSERT_ERR(cc_html_select(d, NULL, bad[i], &ns), -CC_ESELECTOR);
  ASSERT_EQ(cc_html_select(d, NULL, "li:first-child a , li:nth-child(3) > a", &ns), 2);
  cc_html_nodes_free(&ns);
  ASSERT_NULL(cc_html_select_one(d, NULL, ">>>"));
  ASSERT_NULL(cc_html_select_one(d, NULL, "table"));
  cc_html_free(d);
}

/* ---- charsets ------------------------------------------------------------- */

TEST(charsets) {
  /* "café" in latin-1, with the charset from Content-Type. */
  const char latin1[] = "<title>caf\xe9 \x80</title><a href='\xe9.html'>x</a>";
  cc_html_opts_t o = {.content_type = "text/html; charset=ISO-8859-1",
                      .url = "http://h/"};
  cc_html_doc_t *d = NULL;
  ASSERT_EQ(cc_html_parse(&d, latin1, strlen(latin1), &o), 0);
  ASSERT_STR(cc_html_encoding(d), "windows-1252");
  ASSERT_STR(cc_html_title(d), "caf\xc3\xa9 \xe2\x82\xac");
  const cc_html_link_t *l;
  ASSERT_EQ(cc_html_links(d, 0, 0, &l), 1);
  ASSERT_STR(l[0].url, "http://h/%c3%a9.html");
  cc_html_free(d);
  /* From <meta charset>. */
  const char meta[] = "<meta charset=\"windows-1252\"><title>\xe9t\xe9</title>";
  ASSERT_EQ(cc_html_parse(&d, meta, strlen(meta), NULL), 0);
  ASSERT_STR(cc_html_title(d), "\xc3\xa9t\xc3\xa9");
  cc_html_free(d);
  /* From <meta http-equiv>, any charset iconv knows. */
  const char koi[] =
      "<meta http-equiv='Content-Type' content='text/html; charset=koi8-r'>"
      "<title>\xf0\xf2\xe9\xf7\xe5\xf4</title>";
  ASSERT_EQ(cc_html_parse(&d, koi, strlen(koi), NULL), 0);
  ASSERT_STR(cc_html_encoding(d), "koi8-r");
  ASSERT_STR(cc_html_title(d), "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2");
  cc_html_free(d);
  /* Content-Type wins over <meta>; a UTF-8 BOM over both. */
  const char both[] = "<meta charset=latin1><title>\xc3\xa9</title>";
  o = (cc_html_opts_t){.content_type = "text/html;charset=\"utf-8\""};
  ASSERT_EQ(cc_html_parse(&d, both, strlen(both), &o), 0);
  ASSERT_STR(cc_html_title(d), "\xc3\xa9");
  cc_html_free(d);
  const char bom[] = "\xef\xbb\xbf<title>\xc3\xa9</title>";
  o = (cc_html_opts_t){.content_type = "text/html; charset=latin1"};
  ASSERT_EQ(cc_html_parse(&d, bom, strlen(bom), &o), 0);
  ASSERT_STR(cc_html_encoding(d), "utf-8");
  ASSERT_STR(cc_html_title(d), "\xc3\xa9");
  cc_html_free(d);
  /* UTF-16LE with a BOM. */
  const char u16[] = "\xff\xfe<\0t\0i\0t\0l\0e\0>\0\xe9\0<\0/\0t\0i\0t\0l\0e\0>\0";
  ASSERT_EQ(cc_html_parse(&d, u16, sizeof u16 - 1, NULL), 0);
  ASSERT_STR(cc_html_title(d), "\xc3\xa9");
  cc_html_free(d);
  /* An unknown charset is read as UTF-8; the scanner agrees. */
  o = (cc_html_opts_t){.encoding = "no-such-charset"};
  ASSERT_EQ(cc_html_parse(&d, "<title>x</title>", 16, &o), 0);
  ASSERT_STR(cc_html_encoding(d), "utf-8");
  cc_html_free(d);
  evs_t e = {0};
  o = (cc_html_opts_t){.content_type = "text/html; charset=latin1"};
  ASSERT_EQ(cc_html_scan(latin1, strlen(latin1), &o, 0, CC_HTML_RAW, on_ev, &e), 0);
  ASSERT_STR(e.title, "caf\xc3\xa9 \xe2\x82\xac");
  ASSERT_STR(e.last, "\xc3\xa9.html");
}

/* ---- broken input --------------------------------------------------------- */

static int valid_utf8(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  while (*u) {
    if (*u < 0x80) {
      u++;
      continue;
    }
    int k = *u >= 0xF0 ? 3 : *u >= 0xE0 ? 2 : *u >= 0xC2 ? 1 : -1;
    if (k < 0)
      return 0;
    for (int i = 1; i <= k; i++)
      if ((u[i] & 0xC0) != 0x80)
        return 0;
    u += k + 1;
  }
  return 1;
}

static void check_doc(const char *data, size_t len) {
  cc_html_doc_t *d = NULL;
  cc_html_opts_t o = {.url = "http://h.example/p/"};
  ASSERT_EQ(cc_html_parse(&d, data, len, &o), 0);
  const char *t = cc_html_title(d);
  if (t)
    ASSERT_TRUE(valid_utf8(t));
  const cc_html_link_t *l;
  long n = cc_html_links(d, CC_HTML_LINK_ALL, 0, &l);
  ASSERT_GE(n, 0);
  for (long i = 0; i < n; i++)
    ASSERT_TRUE(valid_utf8(l[i].value));
  char *txt = cc_html_text(d, NULL, " ", 0, NULL);
  ASSERT_NOT_NULL(txt);
  ASSERT_TRUE(valid_utf8(txt));
  free(txt);
  cc_html_nodes_t ns;
  ASSERT_GE(cc_html_select(d, NULL, "div a[href]", &ns), 0);
  cc_html_nodes_free(&ns);
  ASSERT_GE(cc_html_find_all(d, NULL, "a", NULL, &ns), 0);
  cc_html_nodes_free(&ns);
  cc_html_free(d);
  evs_t e = {0};
  ASSERT_EQ(cc_html_scan(data, len, &o, CC_HTML_LINK_ALL, 0, on_ev, &e), 0);
}

TEST(broken_unclosed_and_entities) {
  const char *cases[] = {
      "<html><body><div><p>unclosed <b>bold <i>it <a href='x'>link",
      "<title>t</title></title></title><a href='y'></a></a></div></body></html></html>",
      "<a "
      "href='&#0;&#xD800;&#x110000;&#99999999999;&#;&#x;&bogus;&amp'>e</a>&&&;&#&#x&nbsp",
      "<table><tr><td><a href=1>x</table><select><option><a href=2></select>",
      "<svg><a href='s'><title>in svg</title></a></svg><math><mi><a href=m>",
      "<!-- unterminated comment <a href='nope'>",
      "<script>never closed <a href='q'>",
      "<a href='unterminated attribute>text",
      "<<<<>>>></></ ><a/b/c href=z/>",
      "<frameset><frame src=x></frameset><a href=after>",
      "<template><a href=t></template><noscript><a href=n></noscript>",
      "\xef\xbb\xbf<!DOCTYPE html PUBLIC \"x\" \"y\"><base href='::bad::'><a "
      "href='%zz:/x'>",
      "<svg><![CDATA[ <a href='in-cdata'> ]]></svg><![CDATA[x]]><a href=after-cdata>",
      "<!DOCTYPE htmrset=\"utf-8\"<link rel=\"sty  </main>\n</body=\"u\"<link rel=\"s\"  "
      "</main>"
      "\n</body>\n</html>\n",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_doc(cases[i], strlen(cases[i]));
  /* A doctype followed by stray end tags only: myhtml leaves no <html>. */
  cc_html_doc_t *d = parse(cases[13], NULL);
  ASSERT_STR(cc_html_node_tag(cc_html_root(d)), "html");
  cc_html_free(d);
  d = parse("<a href='&#0;&#xD800;&amp;'>", NULL);
  const cc_html_link_t *l;
  ASSERT_EQ(cc_html_links(d, 0, CC_HTML_RAW, &l), 1);
  ASSERT_STR(l[0].value, "\xef\xbf\xbd\xef\xbf\xbd&");
  cc_html_free(d);
}

TEST(broken_invalid_utf8_and_nul) {
  const char bad[] = "<title>a\xff\xfe b\xc3 c\xed\xa0\x80 d\xf4\x90\x80\x80</title>"
                     "<a href='\xc0\xaf'>x</a><p>\x80\x81 text \xe2\x82</p>";
  check_doc(bad, sizeof bad - 1);
  cc_html_doc_t *d = NULL;
  ASSERT_EQ(cc_html_parse(&d, bad, sizeof bad - 1, NULL), 0);
  ASSERT_TRUE(valid_utf8(cc_html_title(d)));
  ASSERT_NOT_NULL(strstr(cc_html_title(d), "\xef\xbf\xbd"));
  cc_html_free(d);
  const char nul[] = "<title>a\0b</title><a href='x\0y'>\0</a><p>t\0u</p>\0<\0a href=z>";
  check_doc(nul, sizeof nul - 1);
  ASSERT_EQ(cc_html_parse(&d, nul, sizeof nul - 1, NULL), 0);
  size_t tl = 0;
  char *t = cc_html_text(d, NULL, "|", 0, &tl);
  ASSERT_EQ(strlen(t), tl); /* no NUL inside: each became U+FFFD */
  ASSERT_NOT_NULL(strstr(t, "t\xef\xbf\xbdu"));
  free(t);
  cc_html_free(d);
  evs_t e = {0};
  ASSERT_EQ(cc_html_scan(nul, sizeof nul - 1, NULL, 0, CC_HTML_RAW, on_ev, &e), 0);
  ASSERT_STR(e.title, "a\xef\xbf\xbd"
                      "b");
}

TEST(broken_long_line) {
  /* A 10 MB line: one huge attribute value, one huge text node. */
  size_t n = 10 * 1000 * 1000;
  char *s = malloc(n + 64);
  ASSERT_NOT_NULL(s);
  size_t p = (size_t)sprintf(s, "<title>t</title><a href='");
  memset(s + p, 'h', n / 2);
  p += n / 2;
  p += (size_t)sprintf(s + p, "'>");
  memset(s + p, 'x', n / 2);
  p += n / 2;
  s[p] = 0;
  double t0 = now_s();
  cc_html_doc_t *d = NULL;
  ASSERT_EQ(cc_html_parse(&d, s, p, NULL), 0);
  const cc_html_link_t *l;
  ASSERT_EQ(cc_html_links(d, 0, CC_HTML_RAW, &l), 1);
  ASSERT_EQ(strlen(l[0].value), n / 2);
  size_t tl = 0;
  char *t = cc_html_text(d, NULL, "", 0, &tl);
  ASSERT_EQ(tl, n / 2 + 1);
  free(t);
  cc_html_free(d);
  evs_t e = {0};
  ASSERT_EQ(cc_html_scan(s, p, NULL, 0, CC_HTML_RAW, on_ev, &e), 0);
  ASSERT_EQ(e.links, 1);
  fprintf(stderr, "10 MB line: %.2f s\n", now_s() - t0);
  free(s);
}

TEST(broken_deep_nesting) {
  /* 100,000 nested <div>s (and other tags): linear time, bounded depth. */
  const char *tags[] = {"div", "span", "b", "a href=x", "table", "li", "p", "svg"};
  for (size_t k = 0; k < sizeof tags / sizeof tags[0]; k++) {
    size_t n = 100000, tl = strlen(tags[k]);
    char *s = malloc(n * (tl + 2) + 64);
    ASSERT_NOT_NULL(s);
    size_t p = 0;
    for (size_t i = 0; i < n; i++) {
      s[p++] = '<';
      memcpy(s + p, tags[k], tl);
      p += tl;
      s[p++] = '>';
    }
    p += (size_t)sprintf(s + p, "deep<a href=end>e</a>");
    double t0 = now_s();
    cc_html_doc_t *d = NULL;
    ASSERT_EQ(cc_html_parse(&d, s, p, NULL), 0);
    /* The depth is capped: count the ancestors of the last link. */
    const cc_html_link_t *l;
    long nl = cc_html_links(d, 0, CC_HTML_RAW, &l);
    ASSERT_GE(nl, 1);
    size_t depth = 0;
    for (cc_html_node_t *x = l[nl - 1].node; x; x = cc_html_node_parent(x))
      depth++;
    char *t = cc_html_text(d, NULL, "", 0, NULL);
    ASSERT_NOT_NULL(strstr(t, "deep"));
    free(t);
    cc_html_nodes_t ns;
    ASSERT_GE(cc_html_select(d, NULL, "a", &ns), 1);
    cc_html_nodes_free(&ns);
    cc_html_free(d);
    evs_t e = {0};
    ASSERT_EQ(cc_html_scan(s, p, NULL, 0, CC_HTML_RAW, on_ev, &e), 0);
    double dt = now_s() - t0;
    fprintf(stderr, "100,000 nested <%s>: depth %zu, %.2f s\n", tags[k], depth, dt);
    if (strcmp(tags[k], "div") == 0 || strcmp(tags[k], "span") == 0)
      ASSERT_LE(depth, CC_HTML_MAX_DEPTH + 8);
    free(s);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  fprintf(stderr, "peak RSS %ld MB\n", ru.ru_maxrss / 1024);
}

/* ---- the Python documentation (W8) --------------------------------------------- */

#define PYDOC "/usr/share/doc/python3-doc/html/"

static size_t pd_files, pd_titles, pd_links, pd_scan_titles, pd_scan_links, pd_bytes;

static int pd_count(void *ctx, const cc_html_event_t *ev) {
  if (ev->kind == CC_HTML_EV_TITLE)
    pd_scan_titles++;
  else if (ev->kind == CC_HTML_EV_LINK)
    pd_scan_links++;
  return 0;
}

static int pd_file(const char *path, const struct stat *st, int type, struct FTW *f) {
  size_t n = strlen(path);
  if (type != FTW_F || n < 5 || strcmp(path + n - 5, ".html") != 0)
    return 0;
  FILE *fp = fopen(path, "rb");
  ASSERT_NOT_NULL(fp);
  char *buf = malloc((size_t)st->st_size + 1);
  size_t got = fread(buf, 1, (size_t)st->st_size, fp);
  fclose(fp);
  pd_files++;
  pd_bytes += got;
  ASSERT_EQ(cc_html_scan(buf, got, NULL, CC_HTML_LINK_A, CC_HTML_RAW, pd_count, NULL), 0);
  cc_html_doc_t *d = NULL;
  ASSERT_EQ(cc_html_parse(&d, buf, got, NULL), 0);
  if (cc_html_title(d))
    pd_titles++;
  const cc_html_link_t *l;
  long k = cc_html_links(d, CC_HTML_LINK_A, CC_HTML_RAW, &l);
  ASSERT_GE(k, 0);
  pd_links += (size_t)k;
  cc_html_free(d);
  free(buf);
  return 0;
}

TEST(python_docs) {
  DIR *dir = opendir(PYDOC);
  if (!dir) {
    fprintf(stderr, "SKIP: %s not installed (apt-get install python3-doc)\n", PYDOC);
    exit(77);
  }
  closedir(dir);
  ASSERT_EQ(nftw(PYDOC, pd_file, 16, 0), 0);
  fprintf(stderr, "files %zu bytes %zu titles %zu/%zu links %zu/%zu\n", pd_files,
          pd_bytes, pd_titles, pd_scan_titles, pd_links, pd_scan_links);
  ASSERT_EQ(pd_files, 530);
  ASSERT_EQ(pd_titles, 530);
  ASSERT_EQ(pd_scan_titles, 530);
  ASSERT_EQ(pd_links, 164265);
  ASSERT_EQ(pd_scan_links, 164265);
}

/* Resolved links of one real page: every <a href> of library/asyncio.html
 * that is not a fragment-only link resolves to a URL under the site. */
TEST(python_docs_resolve) {
  FILE *fp = fopen(PYDOC "library/asyncio.html", "rb");
  if (!fp) {
    fprintf(stderr, "SKIP: python3-doc not installed\n");
    exit(77);
  }
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, fp);
  fclose(fp);
  cc_html_doc_t *d = NULL;
  cc_html_opts_t o = {.url = "http://127.0.0.1:8080/library/asyncio.html"};
  ASSERT_EQ(cc_html_parse(&d, buf, n, &o), 0);
  ASSERT_STR(
      cc_html_title(d),
      "asyncio \xe2\x80\x94 Asynchronous I/O \xe2\x80\x94 Python 3.11.2 documentation");
  const cc_html_link_t *l;
  long k = cc_html_links(d, 0, CC_HTML_NO_FRAGMENT, &l);
  ASSERT_GT(k, 50);
  int found = 0;
  for (long i = 0; i < k; i++)
    if (strcmp(l[i].url, "http://127.0.0.1:8080/library/asyncio-task.html") == 0)
      found = 1;
  ASSERT_TRUE(found);
  cc_html_free(d);
}
