/* Which charset a document is in, and its conversion to UTF-8: the
 * Content-Type parameter, a byte-order mark, or a <meta> in the first 1024
 * bytes (a simplified form of HTML's "prescan"), else UTF-8. */
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html/html_int.h"

static int lc(int c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Copies the charset label at s (up to n bytes) into name, lower-cased. */
static size_t take_label(const char *s, size_t n, char *name, size_t cap) {
  size_t i = 0, k = 0;
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '"' || s[i] == '\''))
    i++;
  while (i < n && k + 1 < cap) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
          c == '-' || c == '_' || c == '.' || c == ':'))
      break;
    name[k++] = (char)lc(c);
    i++;
  }
  name[k] = 0;
  return k;
}

/* Finds "charset" followed by optional spaces and '=' in s; returns the
 * offset just after the '=', or (size_t)-1. */
static size_t find_charset_param(const char *s, size_t n) {
  for (size_t i = 0; i + 7 < n; i++) {
    if (strncasecmp(s + i, "charset", 7) != 0)
      continue;
    size_t j = i + 7;
    while (j < n && (s[j] == ' ' || s[j] == '\t'))
      j++;
    if (j < n && s[j] == '=')
      return j + 1;
  }
  return (size_t)-1;
}

static void canonical(char *name, size_t cap) {
  static const char *const utf8[] = {"utf-8", "utf8", "unicode-1-1-utf-8", NULL};
  static const char *const w1252[] = {
      "windows-1252", "cp1252",          "x-cp1252",    "latin1",
      "iso-8859-1",   "iso8859-1",       "iso_8859-1",  "l1",
      "ascii",        "us-ascii",        "iso-ir-100",  "cp819",
      "ibm819",       "iso_8859-1:1987", "csisolatin1", NULL};
  for (int i = 0; utf8[i]; i++)
    if (strcmp(name, utf8[i]) == 0) {
      strncpy(name, "utf-8", cap);
      return;
    }
  for (int i = 0; w1252[i]; i++)
    if (strcmp(name, w1252[i]) == 0) {
      strncpy(name, "windows-1252", cap);
      return;
    }
  if (strcmp(name, "utf-16") == 0)
    strncpy(name, "utf-16le", cap);
}

void cc__html_charset(const void *data, size_t len, const cc_html_opts_t *opts,
                      char *name, size_t cap) {
  const unsigned char *u = data;
  name[0] = 0;
  if (opts && opts->encoding && *opts->encoding) {
    take_label(opts->encoding, strlen(opts->encoding), name, cap);
  } else if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
    strncpy(name, "utf-8", cap);
  } else if (len >= 2 && u[0] == 0xFF && u[1] == 0xFE) {
    strncpy(name, "utf-16le", cap);
  } else if (len >= 2 && u[0] == 0xFE && u[1] == 0xFF) {
    strncpy(name, "utf-16be", cap);
  }
  if (!name[0] && opts && opts->content_type) {
    const char *ct = opts->content_type;
    size_t at = find_charset_param(ct, strlen(ct));
    if (at != (size_t)-1)
      take_label(ct + at, strlen(ct) - at, name, cap);
  }
  if (!name[0]) {
    /* <meta charset="x"> or <meta http-equiv=... content="...; charset=x">. */
    const char *s = data;
    size_t n = len < 1024 ? len : 1024;
    for (size_t i = 0; i + 5 < n; i++) {
      if (s[i] != '<' || strncasecmp(s + i + 1, "meta", 4) != 0)
        continue;
      size_t end = i + 5;
      while (end < len && end < i + 1024 && s[end] != '>')
        end++;
      size_t at = find_charset_param(s + i, end - i);
      if (at != (size_t)-1 && take_label(s + i + at, end - i - at, name, cap)) {
        canonical(name, cap);
        /* A <meta> cannot switch to UTF-16: the bytes are ASCII-compatible. */
        if (strncmp(name, "utf-16", 6) == 0)
          strncpy(name, "utf-8", cap);
        break;
      }
    }
  }
  if (!name[0])
    strncpy(name, "utf-8", cap);
  name[cap - 1] = 0;
  canonical(name, cap);
}

int cc__html_to_utf8(const char *charset, const void *data, size_t len, char **out,
                     size_t *out_len, size_t *skip) {
  const unsigned char *u = data;
  *out = NULL;
  *out_len = 0;
  *skip = 0;
  if (strcmp(charset, "utf-8") == 0) {
    if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF)
      *skip = 3;
    return 0;
  }
  cc__sbuf_t b = {0};
  if (strcmp(charset, "windows-1252") == 0) {
    static const uint16_t hi[32] = {
        0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
        0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
      if (u[i] < 0x80)
        continue;
      cc__sb_put(&b, (const char *)u + run, i - run);
      cc__sb_cp(&b, u[i] < 0xA0 ? hi[u[i] - 0x80] : u[i]);
      run = i + 1;
    }
    cc__sb_put(&b, (const char *)u + run, len - run);
  } else {
    iconv_t cd = iconv_open("UTF-8", charset);
    if (cd == (iconv_t)-1)
      return 0; /* unknown charset: read as UTF-8 */
    size_t i = 0;
    if (strcmp(charset, "utf-16le") == 0 && len >= 2 && u[0] == 0xFF && u[1] == 0xFE)
      i = 2;
    if (strcmp(charset, "utf-16be") == 0 && len >= 2 && u[0] == 0xFE && u[1] == 0xFF)
      i = 2;
    char tmp[4096];
    while (i < len) {
      char *in = (char *)u + i, *o = tmp;
      size_t inleft = len - i, oleft = sizeof tmp;
      size_t r = iconv(cd, &in, &inleft, &o, &oleft);
      int e = r == (size_t)-1 ? errno : 0;
      cc__sb_put(&b, tmp, sizeof tmp - oleft);
      i = len - inleft;
      if (e == EILSEQ || e == EINVAL) { /* a bad or truncated sequence */
        cc__sb_cp(&b, 0xFFFD);
        i++;
        iconv(cd, NULL, NULL, NULL, NULL);
      } else if (e && e != E2BIG) {
        break;
      }
      if (b.oom)
        break;
    }
    iconv_close(cd);
  }
  if (b.oom) {
    cc__sb_free(&b);
    return -ENOMEM;
  }
  if (!b.p)
    cc__sb_put(&b, "", 0);
  if (b.oom) {
    cc__sb_free(&b);
    return -ENOMEM;
  }
  *out = b.p;
  *out_len = b.n;
  return 0;
}

int cc__input_prepare(cc__input_t *in, const void *data, size_t len,
                      const cc_html_opts_t *opts) {
  memset(in, 0, sizeof *in);
  cc__html_charset(data, len, opts, in->charset, sizeof in->charset);
  size_t skip = 0;
  int rc = cc__html_to_utf8(in->charset, data, len, &in->conv, &in->len, &skip);
  if (rc < 0)
    return rc;
  if (in->conv) {
    in->data = in->conv;
  } else {
    if (strcmp(in->charset, "utf-8") != 0) /* unknown to iconv */
      strcpy(in->charset, "utf-8");
    in->data = (const char *)data + skip;
    in->len = len - skip;
  }
  return 0;
}

void cc__input_free(cc__input_t *in) {
  free(in->conv);
  in->conv = NULL;
}
