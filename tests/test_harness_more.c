/* The second source of the harness's own test: its cases must be found too
 * (cc_add_tests reads TEST(case) from every source). */
#include <unistd.h>

#include "test.h"

TEST(leaks_fd) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
}
