/* Static files: nginx's `root` / aiohttp's add_static / python -m http.server.
 *
 * Confinement: the URL path is checked raw (no encoded '/', '\' or NUL),
 * decoded, split into segments (no "." or ".." segment), and then opened
 * with openat2(RESOLVE_BENEATH) relative to the root directory's fd, so
 * that a symlink pointing outside the root is refused by the kernel, at the
 * moment of opening (no check-then-open race). Where openat2 is missing
 * (Linux < 5.6), the file's realpath must lie under the root's.
 *
 * Sending: small files (up to 16 KiB) are read into the connection's output
 * buffer, so that a batch of pipelined requests still leaves in one write;
 * bigger ones go out with sendfile(2) after the headers (or through the TLS
 * stream, which cannot sendfile).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "concur/net.h"
#include "http/server_int.h"

#ifndef RESOLVE_BENEATH
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_BENEATH       0x08
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define SMALL_FILE 16384
#define MAX_RANGES 16

typedef struct sroot {
  struct sroot *next;
  char *root; /* realpath */
  size_t root_len;
  int dirfd;
} sroot_t;

/* ---- MIME types --------------------------------------------------------------- */

static const struct {
  const char *ext, *type;
} mimes[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"ico", "image/x-icon"},
    {"webp", "image/webp"},
    {"pdf", "application/pdf"},
    {"wasm", "application/wasm"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"map", "application/json"},
    {"inv", "application/octet-stream"},
};

const char *cc_server_mime_type(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(slash ? slash : path, '.');
  if (dot && dot[1])
    for (size_t i = 0; i < sizeof mimes / sizeof mimes[0]; i++)
      if (strcasecmp(dot + 1, mimes[i].ext) == 0)
        return mimes[i].type;
  return "application/octet-stream";
}

/* ---- dates ---------------------------------------------------------------------- */

static const char wd[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char mo[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void http_date(time_t t, char *buf, size_t n) {
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(buf, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
           mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static time_t parse_date(const char *s, size_t n) {
  char buf[64];
  if (n >= sizeof buf)
    return -1;
  memcpy(buf, s, n);
  buf[n] = 0;
  struct tm tm = {0};
  const char *e = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!e)
    return -1;
  return timegm(&tm);
}

/* ---- sending a file ------------------------------------------------------------ */

static bool etag_match(const char *list, size_t n, const char *etag) {
  size_t el = strlen(etag);
  const char *p = list, *end = list + n;
  while (p < end) {
    while (p < end && (*p == ' ' || *p == ','))
      p++;
    if (p < end && *p == '*')
      return true;
    if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
      p += 2;
    const char *q = p;
    while (q < end && *q != ',')
      q++;
    const char *t = q;
    while (t > p && t[-1] == ' ')
      t--;
    if ((size_t)(t - p) == el && memcmp(p, etag, el) == 0)
      return true;
    p = q;
  }
  return false;
}

/* One range spec of a Range header ("a-b", "a-", "-n"), trimmed. Returns 1
 * with [*from, *to] when satisfiable, 0 when well-formed but unsatisfiable,
 * -1 when malformed. */
static int parse_one(const char *v, size_t n, off_t size, off_t *from, off_t *to) {
  while (n && (*v == ' ' || *v == '\t'))
    v++, n--;
  while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  char buf[48];
  if (n == 0 || n >= sizeof buf)
    return -1;
  memcpy(buf, v, n);
  buf[n] = 0;
  char *dash = strchr(buf, '-');
  if (!dash)
    return -1;
  *dash = 0;
  char *e;
  if (buf[0] == 0) { /* suffix: the last N bytes */
    if (dash[1] < '0' || dash[1] > '9')
      return -1;
    long long k = strtoll(dash + 1, &e, 10);
    if (*e || k < 0)
      return -1;
    if (k == 0 || size == 0)
      return 0;
    *from = k >= size ? 0 : size - k;
    *to = size - 1;
    return 1;
  }
  if (buf[0] < '0' || buf[0] > '9')
    return -1;
  long long a = strtoll(buf, &e, 10);
  if (*e || a < 0)
    return -1;
  long long b = size - 1;
  if (dash[1]) {
    if (dash[1] < '0' || dash[1] > '9')
      return -1;
    b = strtoll(dash + 1, &e, 10);
    if (*e || b < a)
      return -1;
  }
  if (a >= size)
    return 0;
  if (b >= size)
    b = size - 1;
  *from = a;
  *to = b;
  return 1;
}

typedef struct brange {
  off_t from, to;
} brange_t;

/* Parses "bytes=spec, spec..." into rs[] (at most MAX_RANGES). Returns the
 * number of satisfiable ranges (> 0), 0 to ignore the header and send the
 * whole file (malformed, another unit, more than MAX_RANGES ranges, or
 * ranges that overlap or add up to more than the file: nginx's answer to
 * range abuse), or -1 when every range is unsatisfiable (416). */
static int parse_ranges(const char *v, size_t n, off_t size, brange_t *rs) {
  if (n < 6 || strncasecmp(v, "bytes=", 6) != 0)
    return 0;
  v += 6;
  n -= 6;
  int nr = 0, specs = 0;
  off_t total = 0;
  while (n) {
    const char *comma = memchr(v, ',', n);
    size_t sl = comma ? (size_t)(comma - v) : n;
    size_t k = sl;
    const char *q = v;
    while (k && (*q == ' ' || *q == '\t'))
      q++, k--;
    if (k) { /* empty elements ("a-b, , c-d") are allowed by the grammar */
      if (++specs > MAX_RANGES)
        return 0;
      off_t f, t;
      int e = parse_one(v, sl, size, &f, &t);
      if (e < 0)
        return 0;
      if (e > 0) {
        for (int i = 0; i < nr; i++)
          if (f <= rs[i].to && rs[i].from <= t)
            return 0; /* overlapping ranges: the whole file */
        rs[nr++] = (brange_t){f, t};
        total += t - f + 1;
        if (total > size)
          return 0;
      }
    }
    if (!comma)
      break;
    v = comma + 1;
    n -= sl + 1;
  }
  if (specs == 0)
    return 0;
  return nr > 0 ? nr : -1;
}

/* Appends [from, to] of the file to the output, flushing every 64 KiB. */
static int put_file(conn_t *c, int fd, off_t from, off_t to) {
  off_t off = from;
  while (off <= to) {
    size_t piece = (size_t)(to - off + 1);
    if (piece > 65536)
      piece = 65536;
    if (c->wlen + piece > c->wcap) {
      char *p = realloc(c->wbuf, c->wlen + piece);
      if (!p)
        return -ENOMEM;
      c->wbuf = p;
      c->wcap = c->wlen + piece;
    }
    ssize_t k = pread(fd, c->wbuf + c->wlen, piece, off);
    if (k <= 0) {
      c->close = true; /* the file shrank: the response is cut short */
      return k < 0 ? -errno : -EIO;
    }
    c->wlen += (size_t)k;
    off += k;
    if (off <= to || c->wlen > 65536) {
      int e = cc__h1_flush(c);
      if (e < 0)
        return e;
    }
  }
  return 0;
}

/* The part header of one range of a multipart/byteranges body. */
static int part_head(char *buf, size_t cap, const char *bnd, const char *ctype,
                     const brange_t *br, off_t size) {
  return snprintf(
      buf, cap,
      "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %lld-%lld/%lld\r\n\r\n", bnd,
      ctype, (long long)br->from, (long long)br->to, (long long)size);
}

/* 206 with several ranges (RFC 9110 §14.6): a multipart/byteranges body,
 * each part with its Content-Type and Content-Range, in the order asked. */
static int send_multi(cc_req_t *r, int fd, const struct stat *st, const char *name,
                      const brange_t *rs, int nr, char *extra, int n) {
  conn_t *c = r->c;
  static _Atomic unsigned seq;
  char bnd[40], ctype[96], ph[256];
  snprintf(bnd, sizeof bnd, "%08x%08llx%04x", (unsigned)st->st_mtime,
           (unsigned long long)st->st_ino & 0xffffffffull, ++seq & 0xffff);
  const char *mt = cc_server_mime_type(name);
  snprintf(ctype, sizeof ctype, "multipart/byteranges; boundary=%s", bnd);
  int64_t len = 0;
  for (int i = 0; i < nr; i++)
    len += part_head(ph, sizeof ph, bnd, mt, &rs[i], st->st_size) +
           (rs[i].to - rs[i].from + 1);
  int tl = snprintf(ph, sizeof ph, "\r\n--%s--\r\n", bnd);
  len += tl;
  if (cc__resp_head(r, 206, ctype, len, extra, (size_t)n) < 0)
    return -ENOMEM;
  r->finished = true;
  r->sent_bytes = (uint64_t)len;
  if (r->head)
    return 0;
  for (int i = 0; i < nr; i++) {
    int k = part_head(ph, sizeof ph, bnd, mt, &rs[i], st->st_size);
    int e = cc__wbuf_put(c, ph, (size_t)k);
    if (e < 0 || (e = put_file(c, fd, rs[i].from, rs[i].to)) < 0)
      return e;
  }
  snprintf(ph, sizeof ph, "\r\n--%s--\r\n", bnd);
  return cc__wbuf_put(c, ph, (size_t)tl);
}

static int send_fd(cc_req_t *r, int fd, const struct stat *st, const char *name) {
  conn_t *c = r->c;
  char etag[64], lm[40], extra[256];
  snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st->st_mtime,
           (unsigned long long)st->st_size);
  http_date(st->st_mtime, lm, sizeof lm);
  size_t vl;
  const char *inm = cc_req_header(r, "If-None-Match", &vl);
  bool not_modified = false;
  if (inm)
    not_modified = etag_match(inm, vl, etag);
  else {
    const char *ims = cc_req_header(r, "If-Modified-Since", &vl);
    if (ims) {
      time_t t = parse_date(ims, vl);
      not_modified = t >= 0 && st->st_mtime <= t;
    }
  }
  int n = snprintf(extra, sizeof extra,
                   "ETag: %s\r\nLast-Modified: %s\r\nAccept-Ranges: bytes\r\n", etag, lm);
  if (not_modified)
    return cc__resp_head(r, 304, NULL, 0, extra, (size_t)n) == 0 ? (r->finished = true, 0)
                                                                 : -ENOMEM;
  off_t from = 0, to = st->st_size - 1;
  int status = 200;
  const char *rv = cc_req_header(r, "Range", &vl);
  if (rv) {
    size_t il;
    const char *ir = cc_req_header(r, "If-Range", &il);
    if (!ir || (il == strlen(etag) && memcmp(ir, etag, il) == 0)) {
      brange_t rs[MAX_RANGES];
      int k = parse_ranges(rv, vl, st->st_size, rs);
      if (k < 0) {
        n += snprintf(extra + n, sizeof extra - (size_t)n,
                      "Content-Range: bytes */%lld\r\n", (long long)st->st_size);
        if (cc__resp_head(r, 416, NULL, 0, extra, (size_t)n) < 0)
          return -ENOMEM;
        r->finished = true;
        return 0;
      }
      if (k > 1)
        return send_multi(r, fd, st, name, rs, k, extra, n);
      if (k == 1) {
        from = rs[0].from;
        to = rs[0].to;
        status = 206;
        n += snprintf(extra + n, sizeof extra - (size_t)n,
                      "Content-Range: bytes %lld-%lld/%lld\r\n", (long long)from,
                      (long long)to, (long long)st->st_size);
      }
    }
  }
  off_t len = st->st_size ? to - from + 1 : 0;
  if (cc__resp_head(r, status, cc_server_mime_type(name), len, extra, (size_t)n) < 0)
    return -ENOMEM;
  r->finished = true;
  r->sent_bytes = (uint64_t)len;
  if (r->head || len == 0)
    return 0;
  if (len <= SMALL_FILE || c->fd < 0 || c->st) /* through the output buffer */
    return put_file(c, fd, from, to);
  int e = cc__h1_flush(c);
  if (e < 0)
    return e;
  off_t off = from;
  ssize_t k = cc_sendfile(c->fd, fd, &off, (size_t)len,
                          cc_deadline_in(c->w->srv->o.send_timeout_ms));
  if (k < 0 || k < len) {
    c->dead = k < 0;
    c->close = true;
    return k < 0 ? (int)k : -EIO;
  }
  return 0;
}

int cc_resp_file(cc_req_t *r, const char *path) {
  if (r->started)
    return -EALREADY;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return cc_resp_text(r, errno == EACCES ? 403 : 404,
                        errno == EACCES ? "403 Forbidden\n" : "404 Not Found\n");
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return cc_resp_text(r, 404, "404 Not Found\n");
  }
  int e = send_fd(r, fd, &st, path);
  close(fd);
  return e;
}

/* ---- the static handler ---------------------------------------------------------- */

static int open_beneath(sroot_t *root, const char *rel) {
  struct {
    uint64_t flags, mode, resolve;
  } how = {O_RDONLY | O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, root->dirfd, rel[0] ? rel : ".", &how, sizeof how);
  if (fd >= 0 || errno != ENOSYS)
    return fd;
  /* No openat2: open, then check where the file really is. */
  fd = openat(root->dirfd, rel[0] ? rel : ".", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  char proc[64], real[PATH_MAX];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(proc, real, sizeof real - 1);
  if (n < 0 || (size_t)n < root->root_len ||
      memcmp(real, root->root, root->root_len) != 0 ||
      ((size_t)n > root->root_len && real[root->root_len] != '/' && root->root_len > 1)) {
    close(fd);
    errno = EXDEV;
    return -1;
  }
  return fd;
}

static int static_handler(cc_req_t *r, void *arg) {
  sroot_t *root = arg;
  /* The raw rest of the path. */
  const char *u = r->c->rbuf + r->c->mstart + r->url_off;
  const char *raw = u + r->m.params[0].off;
  size_t rl = r->m.params[0].len;
  for (size_t i = 0; i < rl; i++) {
    if (raw[i] == '%' && i + 2 < rl) {
      char h = raw[i + 1], l = (char)(raw[i + 2] | 0x20);
      if ((h == '2' && l == 'f') || (h == '5' && l == 'c') || (h == '0' && l == '0'))
        return cc_resp_text(r, 400, "400 Bad Request\n");
    }
    if (raw[i] == '\\')
      return cc_resp_text(r, 400, "400 Bad Request\n");
  }
  char rel[PATH_MAX];
  if (rl >= sizeof rel - 16)
    return cc_resp_text(r, 414, "414 URI Too Long\n");
  bool bad = false;
  size_t n = cc__pct_decode(rel, raw, rl, false, &bad);
  rel[n] = 0;
  if (bad || memchr(rel, 0, n))
    return cc_resp_text(r, 400, "400 Bad Request\n");
  /* No "." or ".." segment, no empty segment in the middle. */
  for (char *p = rel; *p;) {
    char *e = strchr(p, '/');
    size_t sl = e ? (size_t)(e - p) : strlen(p);
    if ((sl == 1 && p[0] == '.') || (sl == 2 && p[0] == '.' && p[1] == '.'))
      return cc_resp_text(r, 404, "404 Not Found\n");
    if (sl == 0 && e)
      return cc_resp_text(r, 404, "404 Not Found\n");
    p += sl + (e ? 1 : 0);
  }
  int fd = open_beneath(root, rel);
  if (fd < 0)
    return cc_resp_text(r, errno == EACCES ? 403 : 404,
                        errno == EACCES ? "403 Forbidden\n" : "404 Not Found\n");
  struct stat st;
  if (fstat(fd, &st) < 0) {
    close(fd);
    return cc_resp_text(r, 404, "404 Not Found\n");
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    size_t tl;
    const char *t = cc_req_target(r, &tl);
    const char *q = memchr(t, '?', tl);
    size_t pl = q ? (size_t)(q - t) : tl;
    if (pl == 0 || t[pl - 1] != '/') { /* "/dir" -> "/dir/" */
      char loc[PATH_MAX + 8];
      if (pl + 2 > sizeof loc)
        return cc_resp_text(r, 414, "414 URI Too Long\n");
      memcpy(loc, t, pl);
      loc[pl] = '/';
      loc[pl + 1] = 0;
      cc_resp_header(r, "Location", loc);
      return cc_resp_text(r, 301, "301 Moved Permanently\n");
    }
    if (n + 11 >= sizeof rel)
      return cc_resp_text(r, 414, "414 URI Too Long\n");
    strcpy(rel + n, "index.html");
    fd = open_beneath(root, rel);
    if (fd < 0 || fstat(fd, &st) < 0) {
      if (fd >= 0)
        close(fd);
      return cc_resp_text(r, 404, "404 Not Found\n");
    }
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return cc_resp_text(r, 404, "404 Not Found\n");
  }
  int e = send_fd(r, fd, &st, rel);
  close(fd);
  return e;
}

int cc_server_static(cc_server_t *srv, const char *prefix, const char *root) {
  if (!prefix || prefix[0] != '/' || !root)
    return -EINVAL;
  sroot_t *s = calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->root = realpath(root, NULL);
  if (!s->root) {
    int e = -errno;
    free(s);
    return e;
  }
  s->root_len = strlen(s->root);
  s->dirfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->dirfd < 0) {
    int e = -errno;
    free(s->root);
    free(s);
    return e;
  }
  size_t pl = strlen(prefix);
  while (pl > 0 && prefix[pl - 1] == '/')
    pl--;
  char pat[1024];
  if (pl + 16 > sizeof pat) {
    close(s->dirfd);
    free(s->root);
    free(s);
    return -EINVAL;
  }
  snprintf(pat, sizeof pat, "%.*s/{path...}", (int)pl, prefix);
  int e = cc_server_route(srv, "GET", pat, static_handler, s);
  if (e < 0) {
    close(s->dirfd);
    free(s->root);
    free(s);
    return e;
  }
  s->next = srv->statics;
  srv->statics = s;
  return 0;
}

void cc__statics_free(cc_server_t *srv) {
  sroot_t *s = srv->statics;
  while (s) {
    sroot_t *n = s->next;
    close(s->dirfd);
    free(s->root);
    free(s);
    s = n;
  }
  srv->statics = NULL;
}
