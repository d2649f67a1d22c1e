/* A strict check of CSS selector syntax, run before a selector reaches
 * modest's parser: that parser reads outside its arrays on the error paths
 * of many malformed selectors (">", "a,,b", "+a", ":not(", "a)" ...), so it
 * only ever sees selectors of this grammar (Selectors Level 4, without
 * namespaces):
 *
 *   list     = complex *( "," complex )
 *   complex  = compound *( combinator compound )
 *   combinator = ws | ws? ( ">" | "+" | "~" ) ws?
 *   compound = ( type | "*" ) *simple | 1*simple
 *   simple   = "#" name | "." ident | "[" ws? ident ws? [ op ws? value ws? [ "i" | "s" ]
 * ws? ] "]" | ":" ident [ "(" args ")" ] | "::" ident op       = "=" | "~=" | "|=" | "^="
 * | "$=" | "*=" args     = a selector list for :not/:is/:where/:has, else letters,
 * digits, "+", "-", spaces (an+b, odd, even)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html/html_int.h"

typedef struct cur {
  const char *s;
  size_t i, n;
  int depth;
  char *o; /* the selector rewritten in the form modest parses */
  size_t on;
} cur_t;

/* The output never outgrows 3 bytes per input byte (" > " for ">"). */
static void emit(cur_t *c, const char *p, size_t n) {
  memcpy(c->o + c->on, p, n);
  c->on += n;
}

static int ws(cur_t *c) {
  size_t i0 = c->i;
  while (c->i < c->n && strchr(" \t\n\r\f", c->s[c->i]) && c->s[c->i])
    c->i++;
  return c->i > i0;
}

static int name_char(unsigned char ch) {
  return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
         ch == '-' || ch == '_' || ch >= 0x80;
}

/* An identifier (or, for "#", a name: digits allowed first). Escapes are
 * refused: they are rare in selectors written by hand. */
static int ident(cur_t *c, int name) {
  size_t i0 = c->i;
  while (c->i < c->n && name_char((unsigned char)c->s[c->i]))
    c->i++;
  if (c->i == i0)
    return 0;
  if (!name && c->s[i0] >= '0' && c->s[i0] <= '9')
    return 0;
  if (!name && c->s[i0] == '-' && c->i - i0 > 1 && c->s[i0 + 1] >= '0' &&
      c->s[i0 + 1] <= '9')
    return 0;
  return 1;
}

static int list(cur_t *c);

static int attr(cur_t *c) {
  c->i++; /* '[' */
  ws(c);
  if (!ident(c, 0))
    return 0;
  ws(c);
  if (c->i < c->n && c->s[c->i] != ']') {
    if (c->s[c->i] != '=') {
      if (!strchr("~|^$*", c->s[c->i]) || c->i + 1 >= c->n || c->s[c->i + 1] != '=')
        return 0;
      c->i++;
    }
    c->i++;
    ws(c);
    if (c->i >= c->n)
      return 0;
    char q = c->s[c->i];
    if (q == '"' || q == '\'') {
      const char *e = memchr(c->s + c->i + 1, q, c->n - c->i - 1);
      if (!e || memchr(c->s + c->i + 1, '\\', (size_t)(e - (c->s + c->i + 1))))
        return 0;
      c->i = (size_t)(e - c->s) + 1;
    } else if (!ident(c, 1)) {
      return 0;
    }
    ws(c);
    if (c->i < c->n && (c->s[c->i] | 0x20) != ']' &&
        ((c->s[c->i] | 0x20) == 'i' || (c->s[c->i] | 0x20) == 's')) {
      c->i++;
      ws(c);
    }
  }
  if (c->i >= c->n || c->s[c->i] != ']')
    return 0;
  c->i++;
  return 1;
}

/* The pseudo-classes modest's finder implements and parses safely (others,
 * ":dir(ltr)" for one, crash its parser). */
static int known(const char *nm, size_t len, const char *const *names) {
  for (size_t k = 0; names[k]; k++)
    if (strlen(names[k]) == len && strncasecmp(nm, names[k], len) == 0)
      return 1;
  return 0;
}

static const char *const plain_classes[] = {"root",
                                            "empty",
                                            "first-child",
                                            "last-child",
                                            "only-child",
                                            "first-of-type",
                                            "last-of-type",
                                            "only-of-type",
                                            "checked",
                                            "disabled",
                                            "enabled",
                                            "link",
                                            "any-link",
                                            "hover",
                                            "active",
                                            "focus",
                                            "visited",
                                            "target",
                                            "required",
                                            "optional",
                                            "read-only",
                                            "read-write",
                                            "default",
                                            "indeterminate",
                                            "placeholder-shown",
                                            NULL};
static const char *const arg_classes[] = {
    "nth-child", "nth-last-child", "nth-of-type", "nth-last-of-type",
    "lang",      "contains",       NULL};

static int pseudo(cur_t *c) {
  size_t start = c->i;
  c->i++; /* ':' */
  if (c->i < c->n && c->s[c->i] == ':')
    return 0; /* pseudo-elements match no element */
  size_t b = c->i;
  if (!ident(c, 0))
    return 0;
  size_t len = c->i - b;
  const char *nm = c->s + b;
  if (c->i >= c->n || c->s[c->i] != '(') {
    emit(c, c->s + start, c->i - start);
    return known(nm, len, plain_classes);
  }
  c->i++;
  emit(c, c->s + start, c->i - start); /* ":name(" */
  int sel = len == 3 && (!strncasecmp(nm, "not", 3) || !strncasecmp(nm, "has", 3));
  if (sel) {
    if (++c->depth > 16)
      return 0;
    ws(c);
    if (!list(c))
      return 0;
    c->depth--;
  } else {
    if (!known(nm, len, arg_classes))
      return 0;
    size_t a = c->i;
    while (c->i < c->n && c->s[c->i] != ')') {
      unsigned char ch = (unsigned char)c->s[c->i];
      if (!((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
            ch == '+' || ch == '-' || ch == ' '))
        return 0;
      c->i++;
    }
    if (c->i == a)
      return 0;
    emit(c, c->s + a, c->i - a);
  }
  if (c->i >= c->n || c->s[c->i] != ')')
    return 0;
  c->i++;
  emit(c, ")", 1);
  return 1;
}

static int compound(cur_t *c) {
  int any = 0;
  size_t b = c->i;
  if (c->i < c->n && c->s[c->i] == '*') {
    c->i++;
    any = 1;
  } else if (c->i < c->n && name_char((unsigned char)c->s[c->i])) {
    if (!ident(c, 0))
      return 0;
    any = 1;
  }
  emit(c, c->s + b, c->i - b);
  while (c->i < c->n) {
    char ch = c->s[c->i];
    int ok;
    b = c->i;
    if (ch == '#') {
      c->i++;
      ok = ident(c, 1);
    } else if (ch == '.') {
      c->i++;
      ok = ident(c, 0);
    } else if (ch == '[') {
      ok = attr(c);
    } else if (ch == ':') {
      ok = pseudo(c); /* emits itself */
      b = c->i;
    } else {
      break;
    }
    if (!ok)
      return 0;
    emit(c, c->s + b, c->i - b);
    any = 1;
  }
  return any;
}

/* Combinators come out as " > ", " + ", " ~ " or " ": modest's parser
 * misreads "a>b" written without spaces. */
static int complex_sel(cur_t *c) {
  if (!compound(c))
    return 0;
  for (;;) {
    int spaced = ws(c);
    if (c->i >= c->n || c->s[c->i] == ',' || c->s[c->i] == ')')
      return 1;
    if (strchr(">+~", c->s[c->i])) {
      char comb[3] = {' ', c->s[c->i], ' '};
      emit(c, comb, 3);
      c->i++;
      ws(c);
    } else if (!spaced) {
      return 0;
    } else {
      emit(c, " ", 1);
    }
    if (!compound(c))
      return 0;
  }
}

static int list(cur_t *c) {
  for (;;) {
    ws(c);
    if (!complex_sel(c))
      return 0;
    ws(c);
    if (c->i >= c->n || c->s[c->i] != ',')
      return 1;
    emit(c, ", ", 2);
    c->i++;
  }
}

int cc__css_selector_norm(const char *s, char **out) {
  *out = NULL;
  size_t n = strlen(s);
  /* Bytes above 0x7F count as name characters only in valid UTF-8. */
  if (cc__utf8_valid_prefix(s, n) != n)
    return 0;
  cur_t c = {.s = s, .i = 0, .n = n, .depth = 0, .o = malloc(3 * n + 1), .on = 0};
  if (!c.o)
    return -ENOMEM;
  if (!list(&c) || c.i != c.n) {
    free(c.o);
    return 0;
  }
  c.o[c.on] = 0;
  *out = c.o;
  return 1;
}
