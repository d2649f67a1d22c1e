/* Fuzzes the HTTP client's response-header parsing (src/http/client.c):
 * the input is taken as the raw header block libcurl hands over (a status
 * line, header lines, an empty line, perhaps trailers), split into
 * name/value pairs, and looked up as the client does (Retry-After, and
 * case-insensitive finds). Every pair must lie inside the input, have a
 * non-empty name without ':' or line breaks and a value without line
 * breaks or surrounding blanks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/client_int.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cc__http_resp_t r;
  memset(&r, 0, sizeof r);
  r.hbuf = malloc(size + 1);
  if (!r.hbuf)
    return 0;
  memcpy(r.hbuf, data, size);
  r.hlen = r.hcap = size;
  if (cc__http_parse_headers(&r) == 0) {
    const char *lo = r.hbuf, *hi = r.hbuf + size;
    for (size_t i = 0; i < r.pub.nheaders; i++) {
      const cc_http_header_t *h = &r.pub.headers[i];
      CHECK(h->name >= lo && h->name + h->name_len <= hi);
      CHECK(h->value >= lo && h->value + h->value_len <= hi);
      CHECK(h->name_len > 0);
      CHECK(!memchr(h->name, ':', h->name_len) && !memchr(h->name, '\n', h->name_len));
      CHECK(!memchr(h->value, '\n', h->value_len));
      CHECK(h->value_len == 0 ||
            (h->value[0] != ' ' && h->value[h->value_len - 1] != ' '));
      CHECK(cc_http_header_find(r.pub.headers, r.pub.nheaders, "") == NULL);
    }
    int64_t ra = cc__http_retry_after_ms(r.pub.headers, r.pub.nheaders);
    CHECK(ra >= -1 && ra <= 60000);
  }
  free(r.hbuf);
  free(r.hdrs);
  return 0;
}
