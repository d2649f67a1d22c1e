/* Fuzzes the stream's record reads, cc_stream_read_line and
 * cc_stream_read_until, over a real transport: a non-blocking socketpair
 * whose other end a writer coroutine feeds in chunks of fuzzed sizes, each
 * flushed on its own and some followed by a yield to the reader, so records
 * straddle reads, the reader waits, and the buffer compacts and grows. The oracle: the
 * records read, then the bytes left at end of stream, are exactly the bytes written
 * (nothing lost, duplicated or reordered); every record ends at the first delimiter and
 * fits `max`.
 *
 * Input layout: [mode] [max] [limit] [chunk seed] [delimiter: 1-4 bytes]
 * [payload...]. mode bit 0-1: 0 read_line, 1 read_until, 2-3 alternate per
 * record; bits 2-3: delimiter length - 1; bit 4: impatient, every other
 * read has a deadline already passed (a time-out must lose no byte: the
 * read is retried without one).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <concur.h>
#include "fuzz_check.h"

typedef struct {
  const uint8_t *payload;
  size_t len;
  uint8_t mode, max_sel, limit_sel, seed;
  uint8_t delim[4];
  size_t dlen;
  int fd[2];
} fz_t;

static intptr_t writer(void *arg) {
  fz_t *f = arg;
  cc_stream_opts_t o = {.write_buf = 64};
  cc_stream_t *w;
  CHECK(cc_stream_new(&w, f->fd[1], &o) == 0);
  uint32_t x = f->seed * 2654435761u + 1;
  size_t off = 0;
  while (off < f->len) {
    x = x * 1103515245u + 12345u;
    size_t n = 1 + (x >> 16) % 97;
    if (n > f->len - off)
      n = f->len - off;
    CHECK(cc_stream_write(w, f->payload + off, n, CC_FOREVER) == (ssize_t)n);
    CHECK(cc_stream_flush(w, CC_FOREVER) == 0);
    off += n;
    if (x & 0x40000000u) /* let the reader run dry and wait */
      CHECK(cc_yield() == 0);
  }
  CHECK(cc_stream_shutdown_write(w, CC_FOREVER) == 0);
  cc_stream_free(w);
  return 0;
}

static intptr_t reader(void *arg) {
  fz_t *f = arg;
  size_t max = 2 + f->max_sel;
  if (max < f->dlen) /* read_until's max must hold the delimiter */
    max = f->dlen;
  cc_stream_opts_t o = {.read_buf = 16 + (f->seed & 31),
                        .limit = f->limit_sel ? 8 + (size_t)f->limit_sel * 2 : 0};
  cc_stream_t *r;
  CHECK(cc_stream_new(&r, f->fd[0], &o) == 0);
  uint8_t *got = malloc(f->len + 1);
  uint8_t *rec = malloc(max);
  CHECK(got && rec);
  size_t ngot = 0;
  int toobig = 0, eof = 0;
  unsigned k = 0, tries = 0;
  while (!eof && !toobig) {
    int line = (f->mode & 3) == 0 || ((f->mode & 2) && (k++ & 1));
    int64_t dl = (f->mode & 0x10) && (tries++ & 1) == 0 ? 1 : CC_FOREVER;
    ssize_t n;
    if (line) {
      n = cc_stream_read_line(r, (char *)rec, max, dl);
      if (n > 0) {
        CHECK((size_t)n < max && rec[n] == 0);
        void *nl = memchr(rec, '\n', (size_t)n);
        CHECK(nl == NULL || nl == rec + n - 1);
        if (!nl) /* only the partial last line comes without its '\n' */
          eof = 1;
      }
    } else {
      n = cc_stream_read_until(r, f->delim, f->dlen, rec, max, dl);
      if (n > 0) {
        CHECK((size_t)n >= f->dlen && (size_t)n <= max);
        CHECK(memcmp(rec + n - f->dlen, f->delim, f->dlen) == 0);
        CHECK(memmem(rec, (size_t)n - 1, f->delim, f->dlen) == NULL);
      } else if (n == -ENODATA) {
        n = 0; /* the partial record stays buffered for cc_stream_read */
        eof = 1;
      }
    }
    if (n == -CC_ETOOBIG) {
      toobig = 1;
      break;
    }
    if (n == -ETIMEDOUT && dl != CC_FOREVER)
      continue;
    CHECK(n >= 0);
    if (n == 0)
      eof = 1;
    CHECK(ngot + (size_t)n <= f->len);
    memcpy(got + ngot, rec, (size_t)n);
    ngot += (size_t)n;
  }
  /* What is left: after a clean end nothing; after -ENODATA the partial
   * record; after -CC_ETOOBIG whatever follows the discarded bytes. */
  size_t tail = 0;
  for (;;) {
    ssize_t n = cc_stream_read(r, rec, max, CC_FOREVER);
    CHECK(n >= 0);
    if (n == 0)
      break;
    if (!toobig) {
      CHECK(ngot + (size_t)n <= f->len);
      memcpy(got + ngot, rec, (size_t)n);
      ngot += (size_t)n;
    }
    tail += (size_t)n;
  }
  if (toobig)
    CHECK(ngot + tail <= f->len && memcmp(got, f->payload, ngot) == 0);
  else
    CHECK(ngot == f->len && memcmp(got, f->payload, ngot) == 0);
  free(got);
  free(rec);
  cc_stream_free(r);
  return 0;
}

static intptr_t fuzz_main(void *arg) {
  cc_task_t *t[2];
  CHECK(cc_spawn(&t[0], writer, arg) == 0);
  CHECK(cc_spawn(&t[1], reader, arg) == 0);
  return cc_gather(t, 2, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 5)
    return 0;
  fz_t f = {.mode = data[0], .max_sel = data[1], .limit_sel = data[2], .seed = data[3]};
  f.dlen = 1 + ((data[0] >> 2) & 3);
  if (size < 4 + f.dlen)
    return 0;
  memcpy(f.delim, data + 4, f.dlen);
  f.payload = data + 4 + f.dlen;
  f.len = size - 4 - f.dlen;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, f.fd) == 0);
  intptr_t res = -1;
  CHECK(cc_run_opts(NULL, fuzz_main, &f, &res) == 0);
  CHECK(res == 0);
  return 0;
}
