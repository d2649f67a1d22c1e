/* Fuzzes cc_url_normalize() (src/html/urlnorm.c): any bytes as a URL. The
 * result, when there is one, must fit, be NUL-terminated at the length
 * returned, and normalise to itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <concur.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096)
    return 0;
  char *in = malloc(size + 1);
  if (!in)
    return 0;
  memcpy(in, data, size);
  in[size] = 0;
  char out[8192], again[8192];
  long n = cc_url_normalize(in, out, sizeof out);
  if (n >= 0) {
    if ((size_t)n >= sizeof out || strlen(out) != (size_t)n)
      abort();
    long m = cc_url_normalize(out, again, sizeof again);
    if (m >= 0 && strcmp(out, again) != 0) {
      fprintf(stderr, "not idempotent: '%s' -> '%s' -> '%s'\n", in, out, again);
      abort();
    }
  }
  char tiny[4];
  cc_url_normalize(in, tiny, sizeof tiny);
  free(in);
  return 0;
}
