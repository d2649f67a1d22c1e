/* The fast path's tokenizer: the states of the WHATWG HTML tokenizer
 * (section 13.2.5) that decide where tags, comments and raw text begin and
 * end, without building tokens: it reports only the first <title>'s text,
 * the first <base href> and the link attributes asked for, as raw byte
 * ranges of the input (the caller decodes character references, CR/LF and
 * NULs in them: decode.c). Everything else is skipped with memchr.
 *
 * As every tokenizer run without a tree builder (myhtml's raw mode, Go's
 * html.Tokenizer), it cannot know what only the tree knows: <![CDATA[ is a
 * bogus comment (it is a CDATA section only inside <svg>/<math>), and
 * <title>, <style>, <textarea> ... switch to raw text even inside <svg>.
 * <noscript> is ordinary markup (scripting disabled, as in concur's tree).
 * fuzz/html_parse.c checks it against myhtml's own tokenizer. */
#include <string.h>

#include "html/html_int.h"

static inline int is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static inline int is_alpha(unsigned char c) {
  return (unsigned char)((c | 0x20) - 'a') < 26;
}

static inline unsigned char lower(unsigned char c) {
  return (unsigned char)(c - 'A') < 26 ? (unsigned char)(c | 0x20) : c;
}

/* s[i..] starts with word (lower case), compared ASCII case-insensitively. */
static int at_word(const char *s, size_t n, size_t i, const char *word, size_t wl) {
  if (n - i < wl)
    return 0;
  for (size_t k = 0; k < wl; k++)
    if (lower((unsigned char)s[i + k]) != (unsigned char)word[k])
      return 0;
  return 1;
}

/* Where a bogus comment or a doctype starting at i ends (after its '>'). */
static size_t skip_to_gt(const char *s, size_t n, size_t i) {
  const char *g = memchr(s + i, '>', n - i);
  return g ? (size_t)(g - s) + 1 : n;
}

/* After "<!--" (p is just past it): where the comment ends. */
static size_t skip_comment(const char *s, size_t n, size_t p) {
  if (p < n && s[p] == '>')
    return p + 1; /* <!--> */
  if (p + 1 < n && s[p] == '-' && s[p + 1] == '>')
    return p + 2; /* <!---> */
  for (size_t k = p; k < n;) {
    const char *d = memchr(s + k, '-', n - k);
    if (!d)
      return n;
    k = (size_t)(d - s);
    if (k + 2 < n && s[k + 1] == '-') {
      if (s[k + 2] == '>')
        return k + 3;
      if (s[k + 2] == '!' && k + 3 < n && s[k + 3] == '>')
        return k + 4;
    }
    k++;
  }
  return n;
}

#define EOF_IN_TAG ((size_t)-1)

/* A tag: its name (lower case, cut at 12 bytes: longer ones are none we
 * look for) and the first attribute of the name asked for. */
typedef struct tag {
  char name[12];
  size_t name_len;
  size_t vb, vl; /* the attribute's value */
  int found;
} tag_t;

static size_t tag_name(const char *s, size_t n, size_t p, tag_t *t) {
  t->name_len = 0;
  t->found = 0;
  while (p < n) {
    unsigned char c = (unsigned char)s[p];
    if (is_ws(c) || c == '/' || c == '>')
      break;
    if (t->name_len < sizeof t->name)
      t->name[t->name_len] = (char)lower(c);
    t->name_len++;
    p++;
  }
  if (t->name_len >= sizeof t->name)
    t->name_len = sizeof t->name; /* too long to be a name we look for */
  return p;
}

/* A tag's attributes up to the '>' that ends it, from p (just past its
 * name). Records the first attribute named `want` (want_len bytes, lower
 * case; NULL for none). Returns the offset after the '>', or EOF_IN_TAG if
 * the input ends inside the tag (which drops it, as HTML's "EOF in tag"). */
static size_t tag_attrs(const char *s, size_t n, size_t p, const char *want,
                        size_t want_len, tag_t *t) {
  for (;;) {
    /* Before attribute name (and after a value, or after '/'). */
    while (p < n && (is_ws((unsigned char)s[p]) || s[p] == '/')) {
      if (s[p] == '/' && p + 1 < n && s[p + 1] == '>')
        return p + 2; /* self-closing */
      p++;
    }
    if (p >= n)
      return EOF_IN_TAG;
    if (s[p] == '>')
      return p + 1;
    /* Attribute name: the first character may be '=' itself. */
    size_t nb = p++;
    while (p < n) {
      unsigned char c = (unsigned char)s[p];
      if (is_ws(c) || c == '/' || c == '>' || c == '=')
        break;
      p++;
    }
    size_t nl = p - nb;
    /* After attribute name. */
    while (p < n && is_ws((unsigned char)s[p]))
      p++;
    if (p >= n)
      return EOF_IN_TAG;
    size_t vb = p, vl = 0;
    if (s[p] == '=') {
      p++;
      while (p < n && is_ws((unsigned char)s[p]))
        p++;
      if (p >= n)
        return EOF_IN_TAG;
      if (s[p] == '"' || s[p] == '\'') {
        const char *q = memchr(s + p + 1, s[p], n - p - 1);
        if (!q)
          return EOF_IN_TAG;
        vb = p + 1;
        vl = (size_t)(q - s) - vb;
        p = (size_t)(q - s) + 1;
      } else if (s[p] == '>') {
        vb = p; /* missing value: empty */
      } else {
        vb = p;
        while (p < n && !is_ws((unsigned char)s[p]) && s[p] != '>')
          p++;
        vl = p - vb;
      }
    }
    if (want && !t->found && nl == want_len) {
      size_t k = 0;
      while (k < nl && lower((unsigned char)s[nb + k]) == (unsigned char)want[k])
        k++;
      if (k == nl) {
        t->found = 1;
        t->vb = vb;
        t->vl = vl;
      }
    }
  }
}

static int name_is(const tag_t *t, const char *w, size_t wl) {
  return t->name_len == wl && memcmp(t->name, w, wl) == 0;
}

/* Where the raw text of element `name` (RCDATA, RAWTEXT) that starts at p
 * ends: the offset of its "</name" followed by whitespace, '/' or '>', or
 * n ("</name" cut by the end of the input is text, as in HTML). */
static size_t raw_end(const char *s, size_t n, size_t p, const char *name, size_t nl) {
  while (p < n) {
    const char *lt = memchr(s + p, '<', n - p);
    if (!lt)
      return n;
    size_t k = (size_t)(lt - s);
    if (k + 2 + nl < n && s[k + 1] == '/' && at_word(s, n, k + 2, name, nl) &&
        (is_ws((unsigned char)s[k + 2 + nl]) || s[k + 2 + nl] == '/' ||
         s[k + 2 + nl] == '>'))
      return k;
    p = k + 1;
  }
  return n;
}

/* Script data, with its escaped and double-escaped states ("<!--" ...
 * "<script>" inside a script): the offset of the "</script" that ends it,
 * or n. */
static size_t script_end(const char *s, size_t n, size_t p) {
  enum { DATA, ESCAPED, DOUBLE } st = DATA;
  int dashes = 0; /* consecutive '-' just seen (escaped states) */
  while (p < n) {
    unsigned char c = (unsigned char)s[p];
    if (st == DATA) {
      const char *lt = memchr(s + p, '<', n - p);
      if (!lt)
        return n;
      p = (size_t)(lt - s);
      if (p + 8 < n && s[p + 1] == '/' && at_word(s, n, p + 2, "script", 6) &&
          (is_ws((unsigned char)s[p + 8]) || s[p + 8] == '/' || s[p + 8] == '>'))
        return p;
      if (p + 3 < n && s[p + 1] == '!' && s[p + 2] == '-' && s[p + 3] == '-') {
        st = ESCAPED;
        dashes = 2;
        p += 4;
        continue;
      }
      p++;
      continue;
    }
    if (c == '-') {
      dashes++;
      p++;
      continue;
    }
    if (c == '>' && dashes >= 2) {
      st = DATA; /* "-->" ends the escape, double or not */
      dashes = 0;
      p++;
      continue;
    }
    dashes = 0;
    if (c != '<') {
      p++;
      continue;
    }
    size_t q = p + 1;
    int end = q < n && s[q] == '/';
    if (end)
      q++;
    if (q + 6 >= n || !at_word(s, n, q, "script", 6) ||
        !(is_ws((unsigned char)s[q + 6]) || s[q + 6] == '/' || s[q + 6] == '>')) {
      p++;
      continue;
    }
    if (st == ESCAPED && end)
      return p;
    if (st == ESCAPED)
      st = DOUBLE;
    else if (end)
      st = ESCAPED;
    p = q + 6;
  }
  return n;
}

int cc__html_tokenize(const char *s, size_t n, unsigned kinds, cc__tok_fn fn, void *ctx) {
  size_t p = 0;
  int have_title = 0, have_base = 0, r;
  tag_t t;
  while (p < n) {
    const char *lt = memchr(s + p, '<', n - p);
    if (!lt)
      break;
    p = (size_t)(lt - s) + 1;
    if (p >= n)
      break;
    unsigned char c = (unsigned char)s[p];
    if (c == '!') {
      if (p + 2 < n && s[p + 1] == '-' && s[p + 2] == '-')
        p = skip_comment(s, n, p + 3);
      else
        p = skip_to_gt(s, n, p + 1); /* doctype, CDATA, bogus comment */
      continue;
    }
    if (c == '?') {
      p = skip_to_gt(s, n, p + 1);
      continue;
    }
    if (c == '/') {
      if (p + 1 < n && is_alpha((unsigned char)s[p + 1])) {
        p = tag_name(s, n, p + 1, &t);
        p = tag_attrs(s, n, p, NULL, 0, &t); /* an end tag's attributes are ignored */
        if (p == EOF_IN_TAG)
          break;
      } else if (p + 1 < n && s[p + 1] == '>') {
        p += 2;
      } else if (p + 1 < n) {
        p = skip_to_gt(s, n, p + 1);
      }
      continue;
    }
    if (!is_alpha(c))
      continue; /* a '<' that is text */
    p = tag_name(s, n, p, &t);
    const char *want = NULL;
    size_t wl = 0;
    unsigned kind = 0;
    switch (t.name[0]) {
    case 'a':
      if (name_is(&t, "a", 1))
        kind = CC_HTML_LINK_A, want = "href", wl = 4;
      else if (name_is(&t, "area", 4))
        kind = CC_HTML_LINK_AREA, want = "href", wl = 4;
      break;
    case 'b':
      if (name_is(&t, "base", 4) && !have_base)
        want = "href", wl = 4;
      break;
    case 'i':
      if (name_is(&t, "img", 3))
        kind = CC_HTML_LINK_IMG, want = "src", wl = 3;
      break;
    case 'l':
      if (name_is(&t, "link", 4))
        kind = CC_HTML_LINK_LINK, want = "href", wl = 4;
      break;
    case 's':
      if (name_is(&t, "script", 6))
        kind = CC_HTML_LINK_SCRIPT, want = "src", wl = 3;
      break;
    }
    if (kind && !(kinds & kind))
      want = NULL;
    size_t end = tag_attrs(s, n, p, want, wl, &t);
    if (end == EOF_IN_TAG)
      break;
    p = end;
    if (t.found) {
      if (kind)
        r = fn(ctx, CC__TOK_LINK, kind, s + t.vb, t.vl);
      else {
        have_base = 1;
        r = fn(ctx, CC__TOK_BASE, 0, s + t.vb, t.vl);
      }
      if (r)
        return r;
    }
    /* The elements whose content is text. */
    switch (t.name[0]) {
    case 't':
      if (name_is(&t, "title", 5)) {
        size_t e = raw_end(s, n, p, "title", 5);
        if (!have_title) {
          have_title = 1;
          if ((r = fn(ctx, CC__TOK_TITLE, 0, s + p, e - p)))
            return r;
        }
        p = e;
      } else if (name_is(&t, "textarea", 8)) {
        p = raw_end(s, n, p, "textarea", 8);
      }
      break;
    case 's':
      if (name_is(&t, "script", 6))
        p = script_end(s, n, p);
      else if (name_is(&t, "style", 5))
        p = raw_end(s, n, p, "style", 5);
      break;
    case 'x':
      if (name_is(&t, "xmp", 3))
        p = raw_end(s, n, p, "xmp", 3);
      break;
    case 'i':
      if (name_is(&t, "iframe", 6))
        p = raw_end(s, n, p, "iframe", 6);
      break;
    case 'n':
      if (name_is(&t, "noembed", 7))
        p = raw_end(s, n, p, "noembed", 7);
      else if (name_is(&t, "noframes", 8))
        p = raw_end(s, n, p, "noframes", 8);
      break;
    case 'p':
      if (name_is(&t, "plaintext", 9))
        p = n;
      break;
    }
  }
  return 0;
}
