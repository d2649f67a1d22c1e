/* Routes: method + path patterns with {params} and a catch-all, tried in
 * the order added; percent-decoding of paths and query strings.
 *
 * Matching works on the raw request target, segment by segment: a literal
 * segment of a pattern must equal the raw segment (patterns hold plain
 * characters), a {param} takes one raw segment and is decoded only when the
 * handler asks for it, so an encoded slash ("%2F") never splits a segment.
 * A linear scan: servers have tens of routes, and the first few bytes of a
 * literal settle most comparisons.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/server_int.h"

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

size_t cc__pct_decode(char *dst, const char *src, size_t n, bool plus, bool *bad) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = src[i];
    if (ch == '%' && i + 2 < n) {
      int h = hexval(src[i + 1]), l = hexval(src[i + 2]);
      if (h >= 0 && l >= 0) {
        dst[o++] = (char)(h * 16 + l);
        i += 2;
        continue;
      }
      *bad = true;
    } else if (ch == '%') {
      *bad = true;
    } else if (ch == '+' && plus) {
      ch = ' ';
    }
    dst[o++] = ch;
  }
  return o;
}

int cc__route_add(cc_server_t *srv, const char *method, const char *pattern,
                  cc_handler_fn fn, void *arg, const cc_route_opts_t *ro) {
  if (!pattern || pattern[0] != '/' || !fn)
    return -EINVAL;
  route_t r = {.method = -1, .fn = fn, .arg = arg};
  if (ro) {
    r.max_body = ro->max_body;
    r.stream_body = ro->stream_body;
  }
  if (method && strcmp(method, "*") != 0) {
    r.method = (int)cc_http_method_parse(method, strlen(method));
    if (r.method == CC_HTTP_OTHER && !(r.mname = strdup(method)))
      return -ENOMEM;
  }
  if (!(r.pattern = strdup(pattern)))
    goto nomem;
  size_t nseg = 0;
  for (const char *p = pattern; *p; p++)
    nseg += *p == '/';
  if (!(r.segs = calloc(nseg, sizeof *r.segs)))
    goto nomem;
  const char *p = r.pattern + 1;
  for (;;) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    seg_t *s = &r.segs[r.nseg++];
    s->s = p;
    s->len = len;
    s->kind = SEG_LIT;
    if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
      s->s = p + 1;
      s->len = len - 2;
      s->kind = SEG_PARAM;
      if (s->len > 3 && memcmp(s->s + s->len - 3, "...", 3) == 0) {
        s->len -= 3;
        s->kind = SEG_REST;
      }
    } else if (len == 1 && p[0] == '*') {
      s->kind = SEG_REST;
      s->len = 0;
    }
    if (s->kind == SEG_REST && e) {
      free(r.segs);
      free(r.pattern);
      free(r.mname);
      return -EINVAL; /* a catch-all must be last */
    }
    if (!e)
      break;
    p = e + 1;
  }
  if (srv->nroutes == srv->routes_cap) {
    size_t n = srv->routes_cap ? srv->routes_cap * 2 : 8;
    route_t *nr = realloc(srv->routes, n * sizeof *nr);
    if (!nr)
      goto nomem;
    srv->routes = nr;
    srv->routes_cap = n;
  }
  srv->routes[srv->nroutes++] = r;
  return 0;
nomem:
  free(r.segs);
  free(r.pattern);
  free(r.mname);
  return -ENOMEM;
}

void cc__routes_free(cc_server_t *srv) {
  for (size_t i = 0; i < srv->nroutes; i++) {
    free(srv->routes[i].segs);
    free(srv->routes[i].pattern);
    free(srv->routes[i].mname);
  }
  free(srv->routes);
  srv->routes = NULL;
  srv->nroutes = 0;
}

/* Does the path match the route's pattern? Fills params on success. */
static bool path_match(const route_t *r, const char *path, size_t len, match_t *m) {
  if (len == 0 || path[0] != '/')
    return false;
  size_t pos = 1, np = 0;
  for (size_t i = 0; i < r->nseg; i++) {
    const seg_t *s = &r->segs[i];
    if (s->kind == SEG_REST) {
      if (s->len && np < CC__MAX_PARAMS) {
        m->params[np].name = s->s;
        m->params[np].nlen = s->len;
        m->params[np].off = (uint32_t)pos;
        m->params[np].len = (uint32_t)(len - pos);
        np++;
      }
      m->nparam = np;
      return true;
    }
    if (pos > len)
      return false;
    const char *e = memchr(path + pos, '/', len - pos);
    size_t sl = e ? (size_t)(e - (path + pos)) : len - pos;
    if (s->kind == SEG_LIT) {
      if (sl != s->len || memcmp(path + pos, s->s, sl) != 0)
        return false;
    } else {
      if (sl == 0)
        return false;
      if (np < CC__MAX_PARAMS) {
        m->params[np].name = s->s;
        m->params[np].nlen = s->len;
        m->params[np].off = (uint32_t)pos;
        m->params[np].len = (uint32_t)sl;
        np++;
      }
    }
    pos += sl + 1;
    if (!e) {
      if (i + 1 == r->nseg) {
        m->nparam = np;
        return true;
      }
      const seg_t *rest = &r->segs[i + 1];
      if (i + 2 != r->nseg || rest->kind != SEG_REST)
        return false;
      if (rest->len && np < CC__MAX_PARAMS) {
        m->params[np].name = rest->s;
        m->params[np].nlen = rest->len;
        m->params[np].off = (uint32_t)len;
        m->params[np].len = 0;
        np++;
      }
      m->nparam = np;
      return true;
    }
  }
  return false; /* the path has more segments than the pattern */
}

static bool method_ok(const route_t *r, cc_http_method_t m, const char *mname,
                      size_t mlen) {
  if (r->method < 0)
    return true;
  if (r->method == CC_HTTP_OTHER)
    return m == CC_HTTP_OTHER && strlen(r->mname) == mlen &&
           memcmp(r->mname, mname, mlen) == 0;
  return r->method == (int)m || (m == CC_HTTP_HEAD && r->method == CC_HTTP_GET);
}

void cc__route_match(const cc_server_t *srv, const char *path, size_t len,
                     cc_http_method_t m, const char *mname, size_t mlen, match_t *out) {
  out->route = NULL;
  out->status = 404;
  out->nparam = 0;
  for (size_t i = 0; i < srv->nroutes; i++) {
    const route_t *r = &srv->routes[i];
    if (!path_match(r, path, len, out))
      continue;
    if (method_ok(r, m, mname, mlen)) {
      out->route = r;
      out->status = 0;
      return;
    }
    out->status = 405;
  }
  out->nparam = 0;
}

size_t cc__route_allow(const cc_server_t *srv, const char *path, size_t len, char *buf,
                       size_t cap) {
  const char *q = memchr(path, '?', len);
  if (q)
    len = (size_t)(q - path);
  size_t n = 0;
  bool seen[CC_HTTP_METHOD_COUNT] = {0};
  for (size_t i = 0; i < srv->nroutes; i++) {
    const route_t *r = &srv->routes[i];
    match_t m;
    if (r->method < 0 || !path_match(r, path, len, &m))
      continue;
    const char *names[2] = {
        r->method == CC_HTTP_OTHER ? r->mname : cc_http_method_name(r->method),
        r->method == CC_HTTP_GET && !seen[CC_HTTP_HEAD] ? "HEAD" : NULL};
    if (r->method != CC_HTTP_OTHER) {
      if (seen[r->method])
        continue;
      seen[r->method] = true;
    }
    if (names[1])
      seen[CC_HTTP_HEAD] = true;
    for (int k = 0; k < 2; k++) {
      if (!names[k])
        continue;
      size_t l = strlen(names[k]);
      if (n + l + 2 > cap)
        return n;
      if (n) {
        buf[n++] = ',';
        buf[n++] = ' ';
      }
      memcpy(buf + n, names[k], l);
      n += l;
    }
  }
  return n;
}
