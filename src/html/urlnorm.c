/* cc_url_normalize(): libcurl's URL API does the parsing and the dot
 * segments; the case, default port and percent-escape rules are ours. */
#include <concur/error.h>
#include <concur/url.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

typedef struct sbuf {
  char *p;
  size_t len, cap;
  bool over;
} sbuf_t;

static void put(sbuf_t *b, char c) {
  if (b->len + 1 < b->cap)
    b->p[b->len] = c;
  else
    b->over = true;
  b->len++;
}

static void puts_(sbuf_t *b, const char *s) {
  while (*s)
    put(b, *s++);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool unreserved(int c) {
  return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Copies s with its escapes normalised. */
static void put_escaped(sbuf_t *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    int h, l;
    if (s[0] == '%' && (h = hexval((unsigned char)s[1])) >= 0 &&
        (l = hexval((unsigned char)s[2])) >= 0) {
      int c = h * 16 + l;
      if (unreserved(c)) {
        put(b, (char)c);
      } else {
        put(b, '%');
        put(b, hex[h]);
        put(b, hex[l]);
      }
      s += 2;
    } else if (*s == '%') {
      puts_(b, "%25"); /* a stray '%' is a literal percent sign */
    } else {
      put(b, *s);
    }
  }
}

static long normalize_once(const char *url, char *out, size_t cap) {
  if (!url || !out || cap == 0)
    return -EINVAL;
  CURLU *u = curl_url();
  if (!u)
    return -ENOMEM;
  long rc = -EINVAL;
  char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL,
       *user = NULL, *pass = NULL;
  if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
    goto done;
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
    goto done;
  curl_url_get(u, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT);
  curl_url_get(u, CURLUPART_PATH, &path, 0);
  curl_url_get(u, CURLUPART_QUERY, &query, 0);
  curl_url_get(u, CURLUPART_USER, &user, 0);
  curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
  for (char *c = scheme; *c; c++)
    *c = (char)tolower((unsigned char)*c);
  for (char *c = host; *c; c++) {
    /* a registered name (letters, digits, '-', '.', '_', '~') or an IP
     * literal; anything else (escapes, IDN bytes) is not normalised here */
    if (!isalnum((unsigned char)*c) && !strchr("-._~[]:", *c))
      goto done;
    *c = (char)tolower((unsigned char)*c);
  }
  if (port && ((strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
               (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0))) {
    curl_free(port);
    port = NULL;
  }
  sbuf_t b = {out, 0, cap, false};
  puts_(&b, scheme);
  puts_(&b, "://");
  if (user) {
    put_escaped(&b, user);
    if (pass) {
      put(&b, ':');
      put_escaped(&b, pass);
    }
    put(&b, '@');
  }
  puts_(&b, host);
  if (port) {
    put(&b, ':');
    puts_(&b, port);
  }
  if (!path || !*path)
    put(&b, '/');
  else
    put_escaped(&b, path);
  if (query) {
    put(&b, '?');
    put_escaped(&b, query);
  }
  out[b.len < cap ? b.len : cap - 1] = '\0';
  rc = b.over ? -ENOSPC : (long)b.len;
done:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(path);
  curl_free(query);
  curl_free(user);
  curl_free(pass);
  curl_url_cleanup(u);
  return rc;
}

/* Decoding an escape can make a new dot segment ("%2e" -> "."): passes are
 * repeated until the form no longer changes (two suffice in practice). */
long cc_url_normalize(const char *url, char *out, size_t cap) {
  long n = normalize_once(url, out, cap);
  for (int pass = 0; n >= 0 && pass < 4; pass++) {
    char *again = malloc(cap);
    if (!again)
      return -ENOMEM;
    long m = normalize_once(out, again, cap);
    bool same = m == n && strcmp(again, out) == 0;
    if (m >= 0)
      memcpy(out, again, (size_t)m + 1);
    free(again);
    n = m;
    if (same)
      break;
  }
  return n;
}
