/* The title and the links of a page, as a BeautifulSoup user writes it:
 *
 *   soup = BeautifulSoup(open(path, "rb").read(), "html.parser")
 *   print(soup.title.string)
 *   for a in soup.find_all("a", href=True):
 *       print(urljoin(url, a["href"]), a.get_text())
 *   print([a["href"] for a in soup.select("nav a")])
 *
 *   html_links FILE [URL]
 *
 * URL is the page's address, the base of its relative links (a fetched
 * page's final URL); without it links print as written. */
#include <stdio.h>
#include <stdlib.h>

#include <concur.h>

static char *read_file(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return NULL;
  char *buf = NULL;
  size_t cap = 0, n = 0, got;
  do {
    if (n == cap) {
      cap = cap ? 2 * cap : 1 << 16;
      char *p = realloc(buf, cap);
      if (!p) {
        free(buf);
        fclose(fp);
        return NULL;
      }
      buf = p;
    }
    got = fread(buf + n, 1, cap - n, fp);
    n += got;
  } while (got > 0);
  fclose(fp);
  *len = n;
  return buf;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE [URL]\n", argv[0]);
    return 2;
  }
  size_t len;
  char *html = read_file(argv[1], &len);
  if (!html) {
    perror(argv[1]);
    return 1;
  }
  cc_html_opts_t opts = {.url = argc > 2 ? argv[2] : NULL};
  cc_html_doc_t *doc;
  int rc = cc_html_parse(&doc, html, len, &opts);
  free(html); /* the document keeps its own copy */
  if (rc < 0) {
    fprintf(stderr, "parse: %s\n", cc_strerror(rc));
    return 1;
  }

  const char *title = cc_html_title(doc);
  printf("title: %s\n", title ? title : "(none)");

  /* Links resolved against URL; mailto: and javascript: links are left out. */
  const cc_html_link_t *links;
  long n = cc_html_links(doc, CC_HTML_LINK_A, 0, &links);
  for (long i = 0; i < n; i++) {
    char *text = cc_html_text(doc, links[i].node, "", CC_HTML_TEXT_STRIP, NULL);
    printf("link: %s  (%s)\n", links[i].url, text ? text : "");
    free(text);
  }

  /* CSS selectors: the navigation's links, as written. */
  cc_html_nodes_t nav;
  if (cc_html_select(doc, NULL, "nav#toc a[href]", &nav) >= 0) {
    printf("nav:");
    for (size_t i = 0; i < nav.n; i++)
      printf(" %s", cc_html_node_attr(nav.v[i], "href"));
    printf("\n");
    cc_html_nodes_free(&nav);
  }

  /* The visible text (script and style left out). */
  size_t tlen;
  char *text = cc_html_text(doc, NULL, " ", CC_HTML_TEXT_STRIP, &tlen);
  printf("text: %zu bytes: %.60s...\n", tlen, text ? text : "");
  free(text);

  cc_html_free(doc);
  return n >= 0 ? 0 : 1;
}
