/* cc_url_normalize(): the key `concur crawl` de-duplicates by. */
#include "test.h"

#include <concur.h>

#include <string.h>

static const char *norm(const char *in) {
  static char out[512];
  long n = cc_url_normalize(in, out, sizeof out);
  return n < 0 ? "ERR" : out;
}

TEST(case_port_fragment) {
  ASSERT_STR_EQ(norm("HTTP://Example.COM:80/a#frag"), "http://example.com/a");
  ASSERT_STR_EQ(norm("https://example.com:443"), "https://example.com/");
  ASSERT_STR_EQ(norm("http://example.com:8080/"), "http://example.com:8080/");
  ASSERT_STR_EQ(norm("https://example.com:80/"), "https://example.com:80/");
}

TEST(dot_segments_and_escapes) {
  ASSERT_STR_EQ(norm("http://h/a/./b/../c.html"), "http://h/a/c.html");
  ASSERT_STR_EQ(norm("http://h/%7euser/%61%2f%3a"), "http://h/~user/a%2F%3A");
  ASSERT_STR_EQ(norm("http://h/p?q=%7e&r=%2f#x"), "http://h/p?q=~&r=%2F");
}

TEST(same_key_for_spellings) {
  char a[256], b[256];
  ASSERT_GT(cc_url_normalize("HTTP://127.0.0.1:80/x/../b.html#top", a, sizeof a), 0);
  ASSERT_GT(cc_url_normalize("http://127.0.0.1/%62.html", b, sizeof b), 0);
  ASSERT_STR_EQ(a, b);
}

TEST(errors) {
  char small[8];
  ASSERT_EQ(cc_url_normalize("http://example.com/long/path", small, sizeof small),
            -ENOSPC);
  ASSERT_EQ(cc_url_normalize("not a url", small, sizeof small), -EINVAL);
  ASSERT_EQ(cc_url_normalize("/relative/path", small, sizeof small), -EINVAL);
  ASSERT_EQ(cc_url_normalize(NULL, small, sizeof small), -EINVAL);
}
