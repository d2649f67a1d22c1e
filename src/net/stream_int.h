/* Internal: the stream object and its transport interface, shared by
 * stream.c (plain sockets, buffering) and tls.c (the TLS transport). */
#ifndef CC_NET_STREAM_INT_H
#define CC_NET_STREAM_INT_H

#include "concur/stream.h"

/* A transport moves bytes for a stream. read returns > 0, 0 at end of
 * stream, or a negative code; write and writev write everything or fail. */
typedef struct cc__transport {
  ssize_t (*read)(cc_stream_t *s, void *buf, size_t n, int64_t deadline);
  ssize_t (*write)(cc_stream_t *s, const void *buf, size_t n, int64_t deadline);
  ssize_t (*writev)(cc_stream_t *s, const struct iovec *iov, int cnt, int64_t deadline);
  int (*shutdown_write)(cc_stream_t *s, int64_t deadline);
  void (*free)(cc_stream_t *s); /* releases the transport state (never suspends) */
} cc__transport_t;

struct cc_stream {
  const cc__transport_t *tp;
  void *tls; /* SSL * for TLS streams, else NULL */
  int fd;
  bool own_fd;
  bool drained; /* the last plain read was short: the socket was empty */
  int werr;     /* sticky hard write error */
  char *rbuf;   /* rbuf[rpos..rend) is buffered input */
  size_t rcap, rpos, rend;
  size_t limit;
  char *wbuf; /* wbuf[0..wlen) is queued output */
  size_t wcap, wlen;
};

/* Allocates a stream over `fd` with transport `tp` (buffers per opts). */
int cc__stream_make(cc_stream_t **out, int fd, const cc__transport_t *tp,
                    const cc_stream_opts_t *opts);

#endif
