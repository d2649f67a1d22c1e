/* The html layer from several threads at once: documents and scans on
 * different threads share the process's parser instance and each thread's
 * cached scanner, and must not disturb each other. */
#include <pthread.h>

#include "test.h"

static const char page[] =
    "<html><head><title>T &amp; U</title><base href='/b/'></head><body>"
    "<div class=x><a href='one.html'>1</a><a href='two.html#f'>2</a>"
    "<script>var a = '<a href=no>';</script><p>text <b>bold</b></p>"
    "<a href='mailto:x@y'>m</a></div></body></html>";

static int count_ev(void *ctx, const cc_html_event_t *ev) {
  if (ev->kind == CC_HTML_EV_LINK)
    ++*(int *)ctx;
  return 0;
}

static void *worker(void *arg) {
  (void)arg;
  cc_html_opts_t o = {.url = "http://h.example/d/p.html"};
  for (int i = 0; i < 300; i++) {
    cc_html_doc_t *d = NULL;
    ASSERT_EQ(cc_html_parse(&d, page, sizeof page - 1, &o), 0);
    ASSERT_EQ(strcmp(cc_html_title(d), "T & U"), 0);
    const cc_html_link_t *l;
    ASSERT_EQ(cc_html_links(d, 0, CC_HTML_NO_FRAGMENT, &l), 2);
    ASSERT_EQ(strcmp(l[1].url, "http://h.example/b/two.html"), 0);
    cc_html_nodes_t ns;
    ASSERT_EQ(cc_html_select(d, NULL, "div.x > a[href]", &ns), 3);
    cc_html_nodes_free(&ns);
    char *t = cc_html_text(d, NULL, " ", CC_HTML_TEXT_STRIP, NULL);
    ASSERT_EQ(strcmp(t, "T & U 1 2 text bold m"), 0);
    free(t);
    cc_html_free(d);
    int links = 0;
    ASSERT_EQ(cc_html_scan(page, sizeof page - 1, &o, 0, 0, count_ev, &links), 0);
    ASSERT_EQ(links, 2);
  }
  return NULL;
}

TEST(parallel_documents) {
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    ASSERT_EQ(pthread_create(&th[i], NULL, worker, NULL), 0);
  for (int i = 0; i < 4; i++)
    ASSERT_EQ(pthread_join(th[i], NULL), 0);
}
