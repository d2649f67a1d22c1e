/* Fuzzes the native HTTP/1.1 transport's Set-Cookie reader
 * (src/http/h1_client.c: cc__h1c_cookie_line), which turns a Set-Cookie
 * header from a server into a line of libcurl's cookie file. The input is
 * "host\npath\nSet-Cookie value" (the host in lower case, of the characters
 * the URL parser accepts). A line it makes must fit its buffer, be
 * NUL-terminated at the length returned, carry exactly seven tab-separated
 * fields and no line break, and name either the request's host or a domain
 * that the host ends in.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1_client.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *e = p + size;
  const char *nl1 = memchr(p, '\n', size);
  if (!nl1)
    return 0;
  const char *nl2 = memchr(nl1 + 1, '\n', (size_t)(e - nl1 - 1));
  if (!nl2)
    return 0;
  char host[256];
  size_t hl = (size_t)(nl1 - p);
  if (hl == 0 || hl >= sizeof host)
    return 0;
  for (size_t i = 0; i < hl; i++) /* a host as the URL parser lets it through */
    if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '.' ||
          p[i] == '-' || p[i] == '_' || p[i] == ':'))
      return 0;
  memcpy(host, p, hl);
  host[hl] = '\0';
  const char *path = nl1 + 1;
  size_t pl = (size_t)(nl2 - path);
  const char *sc = nl2 + 1;
  size_t sl = (size_t)(e - sc);
  static const size_t caps[] = {1, 16, 64, 8192};
  for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
    char *out = malloc(caps[k]);
    ssize_t n = cc__h1c_cookie_line(host, path, pl, sc, sl, 1700000000, out, caps[k]);
    if (n >= 0) {
      CHECK((size_t)n < caps[k] && strlen(out) == (size_t)n);
      CHECK(!memchr(out, '\n', (size_t)n) && !memchr(out, '\r', (size_t)n));
      int tabs = 0;
      for (ssize_t i = 0; i < n; i++)
        tabs += out[i] == '\t';
      CHECK(tabs == 6);
      const char *d = out;
      if (strncmp(d, "#HttpOnly_", 10) == 0)
        d += 10;
      size_t dl = (size_t)(strchr(d, '\t') - d);
      bool tail = strncmp(d + dl, "\tTRUE\t", 6) == 0;
      CHECK(tail || strncmp(d + dl, "\tFALSE\t", 7) == 0);
      if (tail) { /* ".domain": the host or a domain the host ends in */
        CHECK(dl > 1 && *d == '.');
        d++;
        dl--;
        CHECK(dl <= hl && strncmp(host + hl - dl, d, dl) == 0);
        CHECK(dl == hl || host[hl - dl - 1] == '.');
      } else { /* host-only */
        CHECK(dl == hl && strncmp(d, host, hl) == 0);
      }
    } else {
      CHECK(n == -EINVAL || n == -ENOSPC);
    }
    free(out);
  }
  return 0;
}
