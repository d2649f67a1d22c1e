/* Internal interface of the html layer: the pieces that the tree (doc.c) and
 * the streaming scanner (scan.c) share. Those two are the only files that use
 * the parser (myhtml); decode.c, charset.c and url.c know nothing of it except
 * its table of named character references. */
#ifndef CC_HTML_INT_H
#define CC_HTML_INT_H

#include <stddef.h>
#include <stdint.h>

#include "concur/error.h"
#include "concur/html.h"

/* A growable byte buffer, always NUL-terminated once anything was put. */
typedef struct cc__sbuf {
  char *p;
  size_t n, cap;
  int oom; /* a growth failed: the contents are incomplete */
} cc__sbuf_t;

void cc__sb_put(cc__sbuf_t *b, const char *s, size_t n);
void cc__sb_cp(cc__sbuf_t *b, uint32_t c);
void cc__sb_free(cc__sbuf_t *b);

/* Decodes character references, CR and CRLF (to LF) and NULs (to U+FFFD) of
 * raw text or an attribute value (in_attr: HTML's rule for references
 * without ';' followed by '=' or an alphanumeric) into b, replacing its
 * contents; invalid UTF-8 becomes U+FFFD. */
void cc__html_decode(cc__sbuf_t *b, const char *s, size_t n, int in_attr);

/* Appends s to b with every invalid UTF-8 sequence replaced by U+FFFD. */
void cc__utf8_put(cc__sbuf_t *b, const char *s, size_t n);
/* The same, with every NUL byte replaced by U+FFFD as well. */
void cc__utf8_put_nonul(cc__sbuf_t *b, const char *s, size_t n);
/* Length of the valid UTF-8 prefix of s. */
size_t cc__utf8_valid_prefix(const char *s, size_t n);

/* The charset to decode with, as a canonical lower-case name ("utf-8",
 * "windows-1252", "utf-16le", or any other label as given), written to
 * name (cap bytes). */
void cc__html_charset(const void *data, size_t len, const cc_html_opts_t *opts,
                      char *name, size_t cap);

/* Converts data to UTF-8 per charset. *out receives NULL when data is
 * already UTF-8 (the caller uses data itself; a UTF-8 BOM is then skipped
 * through *skip), else a malloc'd buffer of *out_len bytes. Invalid bytes
 * become U+FFFD. Returns 0 or -ENOMEM. */
int cc__html_to_utf8(const char *charset, const void *data, size_t len, char **out,
                     size_t *out_len, size_t *skip);

/* URL resolution against a base parsed once (libcurl's CURLU). */
typedef struct cc__urlbase {
  void *h; /* CURLU *, NULL without a base */
} cc__urlbase_t;

int cc__urlbase_set(cc__urlbase_t *b, const char *url);
void cc__urlbase_clear(cc__urlbase_t *b);
/* Resolves ref (len bytes) into out (replacing its contents). Returns 0,
 * -CC_ENOTHIER for a non-hierarchical result, -EINVAL if it does not parse,
 * -ENOMEM. Without a base, a relative ref is given as written. */
int cc__url_resolve(const cc__urlbase_t *b, const char *ref, size_t len, unsigned flags,
                    cc__sbuf_t *out);

/* The fast path's tokenizer (tokenize.c): calls fn with raw byte ranges of
 * s for the first <title>'s text (CC__TOK_TITLE), the first <base href>
 * (CC__TOK_BASE) and each link attribute of `kinds` (CC__TOK_LINK, with its
 * kind). fn's non-zero return stops it and is returned; else 0. */
enum { CC__TOK_TITLE = 1, CC__TOK_BASE, CC__TOK_LINK };
typedef int (*cc__tok_fn)(void *ctx, int ev, unsigned kind, const char *raw, size_t len);
int cc__html_tokenize(const char *s, size_t n, unsigned kinds, cc__tok_fn fn, void *ctx);

/* cc_html_scan() on myhtml's tokenizer instead (scan.c): the reference that
 * the fuzz target compares the fast tokenizer with. */
int cc__html_scan_myhtml(const void *data, size_t len, const cc_html_opts_t *opts,
                         unsigned kinds, unsigned flags, cc_html_scan_fn fn, void *ctx);

/* Checks that s is a CSS selector list of the grammar in selector.c (the
 * only ones handed to modest's parser, which misreads memory on malformed
 * ones) and rewrites it into the spacing that parser reads right: *out
 * receives a malloc'd string. Returns 1, 0 if s is not of the grammar, or
 * -ENOMEM. */
int cc__css_selector_norm(const char *s, char **out);

/* The process's parser instance (single-threaded mode, read-only once
 * made, shared by every tree): a myhtml_t *, or NULL if it could not be
 * made. */
void *cc__myhtml(void);

/* Input prepared for the parser: UTF-8, from the charset found. */
typedef struct cc__input {
  const char *data; /* data itself, or conv */
  size_t len;
  char *conv; /* malloc'd, or NULL */
  char charset[40];
} cc__input_t;

int cc__input_prepare(cc__input_t *in, const void *data, size_t len,
                      const cc_html_opts_t *opts);
void cc__input_free(cc__input_t *in);

#endif
