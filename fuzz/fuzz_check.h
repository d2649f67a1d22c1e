/* CHECK(c) for the fuzz targets: an invariant that must hold on every
 * input; a violation prints where and aborts, which libFuzzer (and the seed
 * replay in every build) reports as a finding. */
#ifndef CC_FUZZ_CHECK_H
#define CC_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                         \
  do {                                                                                   \
    if (!(c)) {                                                                          \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);              \
      abort();                                                                           \
    }                                                                                    \
  } while (0)

#endif
