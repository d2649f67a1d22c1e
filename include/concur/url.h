/* concur: URL normalisation, the key a crawler de-duplicates by.
 *
 *   Python (w3lib.url.canonicalize_url, urllib.parse)   concur
 *   -------------------------------------------------   ---------------------------------
 *   canonicalize_url(url, keep_fragments=False)         cc_url_normalize(url, out, cap)
 *
 * Built on libcurl's URL API (CURLU). Nothing here suspends; thread-safe.
 */
#ifndef CONCUR_URL_H
#define CONCUR_URL_H

#include <stddef.h>

#include "common.h"

CC_BEGIN_DECLS

/** Writes the normal form of the absolute URL `url` into `out` (`cap` bytes,
 *  NUL-terminated), so that two spellings of one resource compare equal:
 *  the scheme and the host in lower case, the scheme's default port removed
 *  (http 80, https 443), dot segments removed, an empty path made "/",
 *  percent-escapes written with upper-case hex digits and those of
 *  unreserved characters (A-Z a-z 0-9 - . _ ~) decoded, the #fragment
 *  dropped, a stray "%" written "%25"; the query is kept as it is apart
 *  from its escapes. The result normalises to itself. A host that is
 *  neither a plain name (letters, digits, - . _ ~) nor an IP literal
 *  (percent-escapes, non-ASCII bytes) is refused. Returns the length,
 *  -ENOSPC if it does not fit, -EINVAL if `url` is not an absolute URL
 *  with such a host, -ENOMEM. */
CC_EXTERN long cc_url_normalize(const char *url, char *out, size_t cap);

CC_END_DECLS
#endif
