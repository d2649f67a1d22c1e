/* concur: HTML extraction (BeautifulSoup and lxml.html for C).
 *
 *   soup = BeautifulSoup(body, "html.parser")   cc_html_parse(&doc, body, len, &opts)
 *   soup.title.string                           cc_html_title(doc)
 *   [urljoin(url, a["href"]) for a in           cc_html_links(doc, CC_HTML_LINK_A, 0,
 * &links) soup.find_all("a", href=True)] soup.get_text(" ") cc_html_text(doc, NULL, " ",
 * 0) soup.find_all("div", class_="x")            cc_html_find_all(doc, NULL, "div",
 * attrs, &nodes) soup.select("ul > li a[href]")              cc_html_select(doc, NULL,
 * "ul > li a[href]", &nodes) soup.select_one("#main") cc_html_select_one(doc, NULL,
 * "#main") tag.get("href"), tag.name                   cc_html_node_attr(node, "href"),
 * cc_html_node_tag(node) for title/links without a tree (crawlers)   cc_html_scan(body,
 * len, &opts, kinds, fn, ctx)
 *
 * Documents are parsed as HTML5 browsers parse them (the WHATWG tokenizer
 * and tree builder): unclosed tags, stray end tags, bad character
 * references, NUL bytes and invalid UTF-8 are all accepted and repaired,
 * never an error. Elements nested deeper than CC_HTML_MAX_DEPTH are attached
 * at that depth (as Chromium does), so that any input parses in time and
 * memory linear in its size. Every string handed out is valid UTF-8 (invalid
 * sequences become U+FFFD).
 *
 * The parser behind this API is an implementation detail (see docs/html.md
 * for the measurement that chose it); no type of it appears here.
 *
 * Threads: a document may be used by one thread at a time; different
 * documents, and cc_html_scan(), may be used from any number of threads at
 * once. Nothing here suspends the calling coroutine: parsing is CPU work
 * (about 10 ms per MB for a tree, 6 for a scan); run big documents through
 * cc_to_thread() or a process pool if the loop must stay responsive.
 */
#ifndef CONCUR_HTML_H
#define CONCUR_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

CC_BEGIN_DECLS

/** Elements nested deeper than this are attached at this depth. */
#define CC_HTML_MAX_DEPTH 512

typedef struct cc_html_doc cc_html_doc_t;
/** An element or text node of a document. Valid until the document is
 *  freed; never freed by itself. */
typedef struct cc_html_node cc_html_node_t;

/** How a document's bytes are read; zero-fill (or NULL) for the defaults. */
typedef struct cc_html_opts {
  /** The page's final URL (after redirects): the base that links are
   *  resolved against, unless the document has a <base href>. NULL: links
   *  are resolved against <base href> only, else given as written. */
  const char *url;
  /** The Content-Type header's value ("text/html; charset=ISO-8859-1"),
   *  whose charset wins over the document's own <meta>. May be NULL. */
  const char *content_type;
  /** A charset name that overrides both ("windows-1252"). May be NULL. */
  const char *encoding;
} cc_html_opts_t;

/** Which links cc_html_links() and cc_html_scan() report (bits). */
enum {
  CC_HTML_LINK_A = 1 << 0,      /**< <a href> */
  CC_HTML_LINK_IMG = 1 << 1,    /**< <img src> */
  CC_HTML_LINK_LINK = 1 << 2,   /**< <link href> (stylesheets, icons, ...) */
  CC_HTML_LINK_SCRIPT = 1 << 3, /**< <script src> */
  CC_HTML_LINK_AREA = 1 << 4,   /**< <area href> */
  CC_HTML_LINK_ALL = 0x1f,
};

/** Flags of cc_html_links() and cc_html_scan(). */
enum {
  /** Give every value as written (character references decoded), with no
   *  resolution and nothing dropped: empty values and mailto:/javascript:
   *  links included (W8's answer). */
  CC_HTML_RAW = 1 << 0,
  /** Remove the #fragment of each resolved URL (a crawler's key). */
  CC_HTML_NO_FRAGMENT = 1 << 1,
};

/** A link. `url` is the value resolved per RFC 3986 against the base
 *  (libcurl's URL API), or as written without a base or with CC_HTML_RAW;
 *  links whose resolved URL is not hierarchical (mailto:, javascript:,
 *  data:, tel:, ...) or does not parse are left out unless CC_HTML_RAW. */
typedef struct cc_html_link {
  const char *url;      /**< NUL-terminated */
  const char *value;    /**< the attribute's value, decoded, NUL-terminated */
  unsigned kind;        /**< one CC_HTML_LINK_* bit */
  cc_html_node_t *node; /**< the element (NULL in cc_html_scan()) */
} cc_html_link_t;

/** A list of nodes, in document order. `v` is malloc'd: release it with
 *  cc_html_nodes_free() (the nodes themselves belong to the document). */
typedef struct cc_html_nodes {
  cc_html_node_t **v;
  size_t n;
} cc_html_nodes_t;

/* ==== documents ========================================================== */

/** Parses `len` bytes of HTML into a tree (BeautifulSoup(body)). The bytes
 *  are decoded from opts->encoding, else the Content-Type charset, else a
 *  byte-order mark, else a <meta charset> / <meta http-equiv> in the first
 *  1024 bytes, else UTF-8; any charset iconv knows works (latin-1 and
 *  ascii are read as windows-1252, as browsers do); an unknown charset name
 *  is read as UTF-8. The bytes are copied: `data` may be freed on return.
 *  The caller owns *out and frees it with cc_html_free().
 *  Errors: -EINVAL (NULL out, or NULL data with len > 0), -ENOMEM,
 *  -CC_EHTML (the parser failed internally). Malformed HTML is not an error. */
CC_EXTERN int cc_html_parse(cc_html_doc_t **out, const void *data, size_t len,
                            const cc_html_opts_t *opts);

/** Frees a document and everything it handed out except cc_html_text()
 *  strings and cc_html_nodes_t arrays. NULL is ignored. */
CC_EXTERN void cc_html_free(cc_html_doc_t *doc);

/** The charset the document was decoded from ("utf-8", "windows-1252"). */
CC_EXTERN const char *cc_html_encoding(const cc_html_doc_t *doc);

/** The text of the first <title> (soup.title.string, character references
 *  decoded, whitespace kept), or NULL if there is none. Owned by the
 *  document. */
CC_EXTERN const char *cc_html_title(cc_html_doc_t *doc);

/** The base links are resolved against: the first <base href> resolved
 *  against opts->url, else opts->url; NULL if neither. Owned by doc. */
CC_EXTERN const char *cc_html_base_url(cc_html_doc_t *doc);

/** The links of the kinds given (CC_HTML_LINK_* bits; 0 means A) in
 *  document order, with CC_HTML_RAW / CC_HTML_NO_FRAGMENT flags. *out
 *  points into an array owned by the document, valid until the next
 *  cc_html_links() call on it or cc_html_free(). Returns the count, or
 *  -ENOMEM / -EINVAL. */
CC_EXTERN long cc_html_links(cc_html_doc_t *doc, unsigned kinds, unsigned flags,
                             const cc_html_link_t **out);

/** The root element (<html>; always present after a parse). */
CC_EXTERN cc_html_node_t *cc_html_root(cc_html_doc_t *doc);

/* ==== text =============================================================== */

/** Flags of cc_html_text(). */
enum {
  /** Strip leading and trailing whitespace from each text node and skip
   *  those left empty (get_text(strip=True)). */
  CC_HTML_TEXT_STRIP = 1 << 0,
};

/** The visible text under `node` (NULL: the whole document), as
 *  BeautifulSoup's get_text(sep): every text node in document order, except
 *  those inside <script>, <style>, <noscript> and <template>, joined by `sep`
 *  (NULL: ""). <title> counts as text. Returns a malloc'd NUL-terminated
 *  string the caller frees with free(), or NULL if out of memory. If `len`
 *  is not NULL it receives the length. */
CC_EXTERN char *cc_html_text(cc_html_doc_t *doc, const cc_html_node_t *node,
                             const char *sep, unsigned flags, size_t *len);

/* ==== finding nodes ====================================================== */

/** Every element under `scope` (NULL: the document; `scope` itself
 *  excluded) whose tag is `tag` (lower case; NULL: any) and that has every
 *  attribute of `attrs`: an array of name/value pairs ended by a NULL name,
 *  where a NULL value asks only for presence (href=True), and an attribute
 *  named "class" matches if any of the element's classes equals the value
 *  (as class_= does). `attrs` may be NULL. Fills *out (free it with
 *  cc_html_nodes_free()) and returns the count, or -ENOMEM / -EINVAL. */
CC_EXTERN long cc_html_find_all(cc_html_doc_t *doc, const cc_html_node_t *scope,
                                const char *tag, const char *const *attrs,
                                cc_html_nodes_t *out);

/** The first element cc_html_find_all() would give, or NULL (soup.find). */
CC_EXTERN cc_html_node_t *cc_html_find(cc_html_doc_t *doc, const cc_html_node_t *scope,
                                       const char *tag, const char *const *attrs);

/** The elements under `scope` (NULL: the document) that match a CSS
 *  selector list: type, `*`, #id, .class, [attr], [attr op value] (= ~= |=
 *  ^= $= *=, optional i/s flag), the combinators (space > + ~), :not(list),
 *  :has(list), :nth-child/:nth-last-child/:nth-of-type/:nth-last-of-type(an+b),
 *  :first-child and the other structural and UI pseudo-classes, :lang(),
 *  :contains(text). Each matching element once, in document order (for a
 *  selector list too, as soup.select). Fills *out and returns the count;
 *  -CC_ESELECTOR for a selector outside that grammar (pseudo-elements
 *  included), -ENOMEM. */
CC_EXTERN long cc_html_select(cc_html_doc_t *doc, const cc_html_node_t *scope,
                              const char *css, cc_html_nodes_t *out);

/** The first element cc_html_select() would give, or NULL (also for a
 *  selector that does not parse). */
CC_EXTERN cc_html_node_t *
cc_html_select_one(cc_html_doc_t *doc, const cc_html_node_t *scope, const char *css);

/** Frees the array of a node list (not the nodes) and zeroes it. */
CC_EXTERN void cc_html_nodes_free(cc_html_nodes_t *nodes);

/* ==== nodes ============================================================== */

/** The tag name in lower case ("a", "div"), "#text" for a text node,
 *  "#comment" for a comment. Owned by the document. */
CC_EXTERN const char *cc_html_node_tag(const cc_html_node_t *node);

/** True for an element (false for text and comments). */
CC_EXTERN bool cc_html_node_is_element(const cc_html_node_t *node);

/** The value of attribute `name` (case-insensitive) of an element
 *  (tag.get(name)): "" for an attribute written without a value, NULL if
 *  absent. Owned by the document. */
CC_EXTERN const char *cc_html_node_attr(const cc_html_node_t *node, const char *name);

/** The i-th attribute of an element (tag.attrs): sets *name and *value and
 *  returns true, or returns false past the last one. */
CC_EXTERN bool cc_html_node_attr_at(const cc_html_node_t *node, size_t i,
                                    const char **name, const char **value);

/** The text of a text or comment node (NULL for an element: use
 *  cc_html_text() for an element's text). Owned by the document. */
CC_EXTERN const char *cc_html_node_value(const cc_html_node_t *node);

/** Tree navigation: .parent, first child, .next_sibling (any node kind);
 *  NULL at the ends. */
CC_EXTERN cc_html_node_t *cc_html_node_parent(const cc_html_node_t *node);
CC_EXTERN cc_html_node_t *cc_html_node_child(const cc_html_node_t *node);
CC_EXTERN cc_html_node_t *cc_html_node_next(const cc_html_node_t *node);

/* ==== streaming: title and links without a tree ========================== */

/** What cc_html_scan() reports. */
typedef enum cc_html_event_kind {
  CC_HTML_EV_TITLE = 1, /**< the text of the first <title> */
  CC_HTML_EV_LINK = 2,  /**< a link of one of the kinds asked for */
  CC_HTML_EV_BASE = 3,  /**< the first <base href>, resolved against opts->url */
} cc_html_event_kind_t;

typedef struct cc_html_event {
  cc_html_event_kind_t kind;
  unsigned link_kind; /**< for CC_HTML_EV_LINK: one CC_HTML_LINK_* bit */
  const char *value;  /**< the text or the attribute's value, decoded */
  size_t value_len;
  const char *url; /**< for links: as cc_html_link_t.url */
  size_t url_len;
} cc_html_event_t;

/** Called for each event, in document order. The strings are
 *  NUL-terminated and valid only during the call. Return 0 to go on, or a
 *  non-zero value to stop the scan (cc_html_scan() then returns it). */
typedef int (*cc_html_scan_fn)(void *ctx, const cc_html_event_t *ev);

/** Tokenizes `len` bytes of HTML without building a tree and reports the
 *  first <title>, the first <base href> and the links of `kinds` (0: A)
 *  through `fn`, with the flags of cc_html_links() (CC_HTML_RAW: values as
 *  written, nothing resolved or dropped). Charset as cc_html_parse(). The
 *  tokenizer is the HTML5 one (script, style, textarea, title contents are
 *  text; comments skipped), so the answer is the tree's for any document
 *  whose <a> elements the tree builder does not duplicate or drop. A
 *  <base href> applies to the links after it. Uses a parser cached per
 *  thread (freed when the thread exits). Returns 0, fn's non-zero value,
 *  or -EINVAL / -ENOMEM / -CC_EHTML. */
CC_EXTERN int cc_html_scan(const void *data, size_t len, const cc_html_opts_t *opts,
                           unsigned kinds, unsigned flags, cc_html_scan_fn fn, void *ctx);

/** Resolves `ref` against `base` (urllib.parse.urljoin, RFC 3986, by
 *  libcurl's URL API) into `out` (`cap` bytes, NUL-terminated). Returns
 *  the length, -ENOSPC if it does not fit, -EINVAL if either does not
 *  parse, -CC_ENOTHIER if the result is not hierarchical (mailto: ...). */
CC_EXTERN long cc_html_urljoin(const char *base, const char *ref, unsigned flags,
                               char *out, size_t cap);

CC_END_DECLS
#endif
