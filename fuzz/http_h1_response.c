/* Fuzzes the native HTTP/1.1 transport's response reader
 * (src/http/h1_client.c: llhttp in HTTP_RESPONSE mode, the header copy,
 * Content-Length / chunked / close-delimited bodies, the gzip, deflate, br
 * and zstd decoders, max_body). The first byte chooses how the bytes
 * arrive (in pieces of 1 to 64 bytes, or all at once), a HEAD request, no
 * decoding and a small max_body; the rest is what the server sent before
 * closing the connection. The result must be 0 or one of the request
 * errors; on success the body is NUL-terminated within max_body and every
 * header lies in the copied header block.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/error.h"
#include "http/h1_client.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t mode = data[0];
  size_t piece = (mode & 0x3f) ? (mode & 0x3f) : size;
  bool head = mode & 0x40;
  bool decode = !(mode & 0x80);
  size_t max_body = (mode & 0x07) == 7 ? 100 : 1u << 20;
  cc__http_resp_t r;
  memset(&r, 0, sizeof r);
  bool keep;
  int rc = cc__h1c_parse(&r, (const char *)data + 1, size - 1, piece ? piece : 1, head,
                         decode, max_body, &keep);
  if (rc == 0) {
    CHECK(r.body_len <= max_body);
    CHECK(r.body && r.body[r.body_len] == '\0');
    CHECK(!head || r.body_len == 0);
    CHECK(r.pub.status >= 100 && r.pub.status <= 999); /* a status line libcurl takes */
    for (size_t i = 0; i < r.pub.nheaders; i++) {
      const cc_http_header_t *h = &r.pub.headers[i];
      CHECK(h->name >= r.hbuf && h->name + h->name_len <= r.hbuf + r.hlen);
      CHECK(h->value >= r.hbuf && h->value + h->value_len <= r.hbuf + r.hlen);
    }
  } else {
    CHECK(rc == -CC_EPROTO_HTTP || rc == -CC_EHTTP_PARTIAL || rc == -CC_ETOOBIG ||
          rc == -ECONNRESET || rc == -EPROTONOSUPPORT || rc == -ENOMEM);
  }
  free(r.body);
  free(r.hbuf);
  free(r.hdrs);
  return 0;
}
