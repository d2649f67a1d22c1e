/* Text decoding for the html layer: character references (named ones from
 * the parser's table of the WHATWG list), CR/LF, NULs, and UTF-8 repair. */
#include <stdlib.h>
#include <string.h>

#include <myhtml/charef.h>

#include "html/html_int.h"

void cc__sb_put(cc__sbuf_t *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  if (n)
    memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

void cc__sb_cp(cc__sbuf_t *b, uint32_t c) {
  char u[4];
  size_t n;
  if (c == 0 || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
    c = 0xFFFD;
  if (c < 0x80) {
    u[0] = (char)c, n = 1;
  } else if (c < 0x800) {
    u[0] = (char)(0xC0 | c >> 6), u[1] = (char)(0x80 | (c & 0x3F)), n = 2;
  } else if (c < 0x10000) {
    u[0] = (char)(0xE0 | c >> 12), u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    u[2] = (char)(0x80 | (c & 0x3F)), n = 3;
  } else {
    u[0] = (char)(0xF0 | c >> 18), u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((c >> 6) & 0x3F)), u[3] = (char)(0x80 | (c & 0x3F)), n = 4;
  }
  cc__sb_put(b, u, n);
}

void cc__sb_free(cc__sbuf_t *b) {
  free(b->p);
  *b = (cc__sbuf_t){0};
}

/* Length of the UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0x80)
    return 1;
  if (c < 0xC2 || c > 0xF4)
    return 0;
  size_t k = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if (n < k)
    return 0;
  for (size_t i = 1; i < k; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  if (c == 0xE0 && s[1] < 0xA0)
    return 0; /* overlong */
  if (c == 0xED && s[1] > 0x9F)
    return 0; /* surrogate */
  if (c == 0xF0 && s[1] < 0x90)
    return 0; /* overlong */
  if (c == 0xF4 && s[1] > 0x8F)
    return 0; /* above U+10FFFF */
  return k;
}

size_t cc__utf8_valid_prefix(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    /* ASCII eight bytes at a time. */
    while (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, u + i, 8);
      if (w & 0x8080808080808080ull)
        break;
      i += 8;
    }
    if (i >= n)
      break;
    size_t k = utf8_seq(u + i, n - i);
    if (!k)
      return i;
    i += k;
  }
  return n;
}

void cc__utf8_put(cc__sbuf_t *b, const char *s, size_t n) {
  while (n) {
    size_t ok = cc__utf8_valid_prefix(s, n);
    cc__sb_put(b, s, ok);
    if (ok == n)
      return;
    cc__sb_cp(b, 0xFFFD);
    s += ok + 1;
    n -= ok + 1;
  }
}

/* The longest named reference at s (n bytes after the '&'): the number of
 * bytes of its name (';' included when present) and its entry, or 0. */
static size_t named_ref(const char *s, size_t n, const charef_entry_t **hit) {
  size_t best = 0;
  *hit = NULL;
  for (size_t k = 1; k <= n && k <= 40; k++) {
    size_t off = 0, len = 0;
    const charef_entry_t *e = myhtml_charef_find(s, &off, k, &len);
    if (off != k)
      break;
    if (e->codepoints_len) {
      best = k;
      *hit = e;
    }
    if (s[k - 1] == ';' || e->next == 0)
      break;
  }
  return best;
}

static int is_alnum(char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

void cc__html_decode(cc__sbuf_t *b, const char *s, size_t n, int in_attr) {
  size_t i = 0, run = 0;
  b->n = 0;
  cc__sb_put(b, "", 0);
  while (i < n) {
    char c = s[i];
    if (c != '&' && c != '\r' && c != 0) {
      i++;
      continue;
    }
    cc__utf8_put(b, s + run, i - run);
    if (c == '\r') {
      cc__sb_put(b, "\n", 1);
      i += (i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
    } else if (c == 0) {
      cc__sb_cp(b, 0xFFFD);
      i++;
    } else if (i + 1 < n && s[i + 1] == '#') {
      size_t j = i + 2;
      int hex = j < n && (s[j] == 'x' || s[j] == 'X');
      j += hex;
      uint32_t v = 0;
      size_t d0 = j;
      for (; j < n; j++) {
        int dv;
        char d = s[j];
        if (d >= '0' && d <= '9')
          dv = d - '0';
        else if (hex && (d | 0x20) >= 'a' && (d | 0x20) <= 'f')
          dv = (d | 0x20) - 'a' + 10;
        else
          break;
        if (v < 0x110000)
          v = v * (hex ? 16u : 10u) + (uint32_t)dv;
      }
      if (j == d0) { /* "&#" or "&#x" without digits: as written */
        cc__sb_put(b, "&", 1);
        i++;
      } else {
        if (j < n && s[j] == ';')
          j++;
        /* The C1 controls 0x80-0x9F name windows-1252's characters. */
        static const uint16_t c1[32] = {
            0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
            0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
            0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
            0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
        if (v >= 0x80 && v <= 0x9F)
          v = c1[v - 0x80];
        cc__sb_cp(b, v);
        i = j;
      }
    } else {
      const charef_entry_t *hit = NULL;
      size_t k = named_ref(s + i + 1, n - i - 1, &hit);
      /* In an attribute, a reference without ';' followed by '=' or an
       * alphanumeric stays as written (HTML's "historical reasons"). */
      if (hit && in_attr && s[i + k] != ';' && i + 1 + k < n &&
          (s[i + 1 + k] == '=' || is_alnum(s[i + 1 + k])))
        hit = NULL;
      if (hit) {
        for (size_t q = 0; q < hit->codepoints_len; q++)
          cc__sb_cp(b, (uint32_t)hit->codepoints[q]);
        i += 1 + k;
      } else {
        cc__sb_put(b, "&", 1);
        i++;
      }
    }
    run = i;
  }
  cc__utf8_put(b, s + run, n - run);
}

void cc__utf8_put_nonul(cc__sbuf_t *b, const char *s, size_t n) {
  const char *z;
  while (n && (z = memchr(s, 0, n))) {
    cc__utf8_put(b, s, (size_t)(z - s));
    cc__sb_cp(b, 0xFFFD);
    n -= (size_t)(z - s) + 1;
    s = z + 1;
  }
  cc__utf8_put(b, s, n);
}
