/* Link resolution (urllib.parse.urljoin) on libcurl's URL API: the base is
 * parsed once per document, each link resolved on a copy of it. */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "html/html_int.h"

#define URL_FLAGS (CURLU_NON_SUPPORT_SCHEME | CURLU_URLENCODE)

int cc__urlbase_set(cc__urlbase_t *b, const char *url) {
  cc__urlbase_clear(b);
  if (!url || !*url)
    return 0;
  CURLU *h = curl_url();
  if (!h)
    return -ENOMEM;
  if (curl_url_set(h, CURLUPART_URL, url, URL_FLAGS) != CURLUE_OK) {
    curl_url_cleanup(h);
    return -EINVAL;
  }
  b->h = h;
  return 0;
}

void cc__urlbase_clear(cc__urlbase_t *b) {
  if (b->h)
    curl_url_cleanup(b->h);
  b->h = NULL;
}

/* The length of the scheme of s ("http" in "http://..."), 0 if none. */
static size_t scheme_len(const char *s, size_t n) {
  size_t i = 0;
  if (!n || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
    return 0;
  for (i = 1; i < n; i++) {
    char c = s[i];
    if (c == ':')
      return i;
    if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') ||
          c == '+' || c == '-' || c == '.'))
      return 0;
  }
  return 0;
}

int cc__url_resolve(const cc__urlbase_t *b, const char *ref, size_t len, unsigned flags,
                    cc__sbuf_t *out) {
  /* The URL standard strips leading and trailing C0 controls and spaces
   * and removes tabs and newlines anywhere. */
  while (len && (unsigned char)ref[0] <= 0x20)
    ref++, len--;
  while (len && (unsigned char)ref[len - 1] <= 0x20)
    len--;
  char small[512];
  char *s = len < sizeof small ? small : malloc(len + 1);
  if (!s)
    return -ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    if (ref[i] != '\t' && ref[i] != '\n' && ref[i] != '\r')
      s[n++] = ref[i];
  s[n] = 0;
  int rc = 0;
  size_t sl = scheme_len(s, n);
  const char *rel = s;
  if (sl && !(sl + 2 < n + 1 && s[sl + 1] == '/' && s[sl + 2] == '/')) {
    /* "scheme:" without "//": not hierarchical (mailto:, javascript:,
     * data:), except the legacy relative form "http:path". */
    if ((sl == 4 && strncasecmp(s, "http", 4) == 0) ||
        (sl == 5 && strncasecmp(s, "https", 5) == 0))
      rel = s + sl + 1;
    else
      rc = -CC_ENOTHIER;
  }
  if (rc == 0 && (n == 0 || s[0] == '#') && b->h) {
    /* The empty reference is the base itself without its fragment, "#f"
     * the base with that fragment (libcurl would drop the base's file). */
    char *res = NULL;
    CURLU *h = curl_url_dup(b->h);
    const char *frag = n > 1 && !(flags & CC_HTML_NO_FRAGMENT) ? s + 1 : NULL;
    if (!h)
      rc = -ENOMEM;
    else if (curl_url_set(h, CURLUPART_FRAGMENT, frag, frag ? CURLU_URLENCODE : 0) !=
                 CURLUE_OK ||
             curl_url_get(h, CURLUPART_URL, &res, 0) != CURLUE_OK)
      rc = -EINVAL;
    if (rc == 0) {
      out->n = 0;
      cc__sb_put(out, res, strlen(res));
    }
    curl_free(res);
    if (h)
      curl_url_cleanup(h);
  } else if (rc == 0 && !b->h && !sl) {
    /* No base: a relative reference stays as written. */
    out->n = 0;
    cc__sb_put(out, s, n);
  } else if (rc == 0) {
    CURLU *h = b->h ? curl_url_dup(b->h) : curl_url();
    if (!h) {
      rc = -ENOMEM;
    } else {
      char *res = NULL;
      if (curl_url_set(h, CURLUPART_URL, rel, URL_FLAGS) != CURLUE_OK)
        rc = -EINVAL;
      else if ((flags & CC_HTML_NO_FRAGMENT) &&
               curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK)
        rc = -EINVAL;
      else if (curl_url_get(h, CURLUPART_URL, &res, 0) != CURLUE_OK)
        rc = -EINVAL;
      if (rc == 0) {
        out->n = 0;
        cc__sb_put(out, res, strlen(res));
      }
      curl_free(res);
      curl_url_cleanup(h);
    }
  }
  if (s != small)
    free(s);
  if (rc == 0 && out->oom)
    rc = -ENOMEM;
  return rc;
}

long cc_html_urljoin(const char *base, const char *ref, unsigned flags, char *out,
                     size_t cap) {
  if (!ref || (!out && cap))
    return -EINVAL;
  cc__urlbase_t b = {0};
  int rc = cc__urlbase_set(&b, base);
  if (rc < 0)
    return rc;
  cc__sbuf_t r = {0};
  rc = cc__url_resolve(&b, ref, strlen(ref), flags, &r);
  cc__urlbase_clear(&b);
  long ret = rc;
  if (rc == 0) {
    if (r.n + 1 > cap) {
      ret = -ENOSPC;
    } else {
      memcpy(out, r.p, r.n + 1);
      ret = (long)r.n;
    }
  }
  cc__sb_free(&r);
  return ret;
}
