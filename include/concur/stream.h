/* concur: buffered byte streams over a socket or a TLS connection, and a
 * connection server — asyncio's StreamReader/StreamWriter, open_connection
 * and start_server.
 *
 *   r, w = await open_connection(h, p)  cc_open_connection(&s, h, p, dl)
 *   await r.readexactly(n)              cc_stream_read_exactly(s, buf, n, dl)
 *   await r.readuntil(b"\r\n")          cc_stream_read_until(s, "\r\n", 2, buf, max, dl)
 *   await r.readline()                  cc_stream_read_line(s, buf, max, dl)
 *   await r.read(n)                     cc_stream_read(s, buf, n, dl)
 *   w.write(b)                          cc_stream_write(s, b, n, dl)
 *   await w.drain()                     cc_stream_flush(s, dl)
 *   w.write_eof()                       cc_stream_shutdown_write(s, dl)
 *   w.close()                           cc_stream_free(s)
 *   await start_server(cb, h, p)        lfd = cc_tcp_listen(h, p, NULL);
 *     + server.serve_forever()          cc_serve(lfd, cb, arg, NULL)
 *
 * A stream belongs to one coroutine at a time for reading and one for
 * writing (the underlying fd allows one waiter of each kind); it is not
 * thread-safe. Every call that may suspend takes an absolute `deadline`
 * (or CC_FOREVER) and honours the task's deadline scope and cancellation;
 * a read that times out or is cancelled loses no data (bytes already
 * received stay buffered for the next read). A write that fails for any
 * reason — time-outs included — has sent an unknown prefix, so write
 * errors are sticky: every later write or flush returns the same error.
 */
#ifndef CONCUR_STREAM_H
#define CONCUR_STREAM_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common.h"
#include "net.h"

CC_BEGIN_DECLS

typedef struct cc_stream cc_stream_t;
typedef struct cc_tls_ctx cc_tls_ctx_t; /* tls.h */

/** Stream options; zero-fill (or NULL) for the defaults. */
typedef struct cc_stream_opts {
  size_t read_buf;  /**< initial read buffer in bytes; 0: 16 KiB */
  size_t write_buf; /**< write buffer in bytes; 0: 16 KiB. Writes larger than
                         half of it bypass the copy (gathered writev) */
  size_t limit;     /**< most bytes the read buffer may grow to while looking
                         for a delimiter; 0: 64 KiB (asyncio's default limit) */
  bool borrow_fd;   /**< cc_stream_free() leaves the fd open */
} cc_stream_opts_t;

/** Wraps the connected, non-blocking socket (or pipe) `fd` in a buffered
 *  stream. The stream owns the fd (closes it on free) unless
 *  opts->borrow_fd. On failure the fd is left untouched and still owned by
 *  the caller. Errors: -ENOMEM, -EBADF. Never suspends. */
CC_EXTERN int cc_stream_new(cc_stream_t **out, int fd, const cc_stream_opts_t *opts);

/** Resolves `host`, connects (TCP_NODELAY on) and wraps the socket in a
 *  stream that owns it (asyncio.open_connection). Errors as
 *  cc_tcp_connect(), or -ENOMEM. May suspend. */
CC_EXTERN int cc_open_connection(cc_stream_t **out, const char *host, int port,
                                 int64_t deadline);

/** Frees the stream: releases the TLS session (sending a close_notify if
 *  it can without waiting), closes the fd unless borrowed, and drops any
 *  unflushed output — call cc_stream_flush() first to send it. NULL is a
 *  no-op. Never suspends. */
CC_EXTERN void cc_stream_free(cc_stream_t *s);

/** The underlying fd (owned by the stream unless borrowed). */
CC_EXTERN int cc_stream_fd(const cc_stream_t *s);

/** Bytes received and buffered, readable without waiting. */
CC_EXTERN size_t cc_stream_buffered(const cc_stream_t *s);

/* ---- reading ----------------------------------------------------------- */

/** Reads at most `n` bytes: what is buffered, or else what one read of the
 *  transport returns (large reads go straight into `buf`). Returns the
 *  count (> 0), 0 at end of stream, or a negative code (-ECONNRESET,
 *  -CC_ETLS, -ETIMEDOUT, -ECANCELED, ...). May suspend. */
CC_EXTERN ssize_t cc_stream_read(cc_stream_t *s, void *buf, size_t n, int64_t deadline);

/** Reads exactly `n` bytes into `buf` (asyncio readexactly). Returns `n`;
 *  -ENODATA if the stream ends first; or another negative code (-ETIMEDOUT,
 *  -ECANCELED, -ECONNRESET, ...). Whenever it fails, the bytes it had
 *  received stay in the stream's buffer, in order, for the next read
 *  (cc_stream_buffered() counts them; a later read_exactly returns them
 *  first), unless the buffer cannot grow to hold them (-ENOMEM); the
 *  contents of `buf` are then unspecified. May suspend. */
CC_EXTERN ssize_t cc_stream_read_exactly(cc_stream_t *s, void *buf, size_t n,
                                         int64_t deadline);

/** Reads up to and including the first occurrence of the `dlen`-byte
 *  delimiter `delim` and copies it, delimiter included, into buf[0..max)
 *  (asyncio readuntil). Returns the length (<= max). Errors:
 *  -CC_ETOOBIG if no delimiter occurs within `max` bytes (or within the
 *  stream's `limit`) — the examined bytes are discarded and the stream
 *  should be closed; -ENODATA if the stream ends after a partial record
 *  (which stays buffered for cc_stream_read); 0 if it ends cleanly before
 *  any byte; or another negative code. May suspend. */
CC_EXTERN ssize_t cc_stream_read_until(cc_stream_t *s, const void *delim, size_t dlen,
                                       void *buf, size_t max, int64_t deadline);

/** Reads one line ending in '\n' (included) into buf[0..max) and adds a
 *  terminating NUL, so at most max-1 bytes of line fit (asyncio readline).
 *  At end of stream returns the partial last line, or 0 when nothing is
 *  left. -CC_ETOOBIG for a longer line (as cc_stream_read_until). May
 *  suspend. */
CC_EXTERN ssize_t cc_stream_read_line(cc_stream_t *s, char *buf, size_t max,
                                      int64_t deadline);

/** Zero-copy reading: makes sure at least one byte is buffered (waiting
 *  for it if needed) and points *data at the buffered bytes. Returns how
 *  many there are (> 0), 0 at end of stream, or a negative code. The
 *  pointer is valid until the next call on the stream; consume what was
 *  used with cc_stream_consume(). May suspend. */
CC_EXTERN ssize_t cc_stream_peek(cc_stream_t *s, const void **data, int64_t deadline);

/** Drops `n` bytes (at most the buffered count) from the read buffer. */
CC_EXTERN void cc_stream_consume(cc_stream_t *s, size_t n);

/* ---- writing ----------------------------------------------------------- */

/** Queues `n` bytes for sending. Small writes are copied into the write
 *  buffer and cost no system call until it fills or cc_stream_flush();
 *  a write that does not fit goes out at once together with the buffered
 *  bytes in one gathered write, without copying `buf`. Returns `n` or a
 *  negative code (-EPIPE, -ECONNRESET, -ETIMEDOUT, ...); a hard error is
 *  sticky: later writes return it too. May suspend. */
CC_EXTERN ssize_t cc_stream_write(cc_stream_t *s, const void *buf, size_t n,
                                  int64_t deadline);

/** Queues several buffers (as cc_stream_write for each, but large ones go
 *  out in one gathered write, zero-copy). Returns the total or a negative
 *  code. May suspend. */
CC_EXTERN ssize_t cc_stream_writev(cc_stream_t *s, const struct iovec *iov, int iovcnt,
                                   int64_t deadline);

/** Sends everything buffered (asyncio drain). 0 or a negative code.
 *  May suspend. */
CC_EXTERN int cc_stream_flush(cc_stream_t *s, int64_t deadline);

/** Flushes, then ends the sending direction (TCP FIN; for TLS, a
 *  close_notify and then FIN): the peer reads end of stream while this side
 *  can still read (asyncio write_eof). 0 or a negative code. May suspend. */
CC_EXTERN int cc_stream_shutdown_write(cc_stream_t *s, int64_t deadline);

/* ---- serving ------------------------------------------------------------ */

/** A connection handler: runs as its own task with a stream for the
 *  connection. The server frees the stream (closing the connection) after
 *  the handler returns, flushing nothing: flush what must be sent. The
 *  return value is passed to on_error when negative. */
typedef intptr_t (*cc_serve_fn)(cc_stream_t *s, void *arg);

/** Options for cc_serve(); zero-fill (or NULL) for the defaults. */
typedef struct cc_serve_opts {
  cc_tls_ctx_t *tls;            /**< if set, each connection is a TLS server
                                     stream; the handshake runs in the
                                     connection's task before the handler */
  int64_t handshake_timeout_ms; /**< TLS handshake limit; 0: 10 s */
  cc_stream_opts_t stream;      /**< per-connection stream options
                                     (borrow_fd is ignored) */
  size_t max_conns;             /**< connections handled at once; 0: no limit.
                                     At the limit, accepting pauses */
  /** Stack size of each connection's task (as cc_spawn_opts_t.stack_size);
   *  0: the loop's default. A handler with large locals needs more; tens
   *  of thousands of idle connections want less. */
  size_t stack_size;
  /** Called (on the loop, must not suspend) for accept errors such as
   *  -EMFILE (after the back-off of cc_tcp_accept), failed TLS handshakes
   *  and negative handler results. NULL: accept errors are printed to
   *  stderr at most once a second; the rest is silent. */
  void (*on_error)(int err, const char *what, void *arg);
} cc_serve_opts_t;

/** Accepts connections on the listening socket `lfd` and runs fn(stream,
 *  arg) for each in its own task (asyncio start_server + serve_forever),
 *  until the calling task is cancelled or its deadline scope ends. Then it
 *  cancels the connection tasks, waits for them, and returns -ECANCELED /
 *  -ETIMEDOUT (or a fatal accept error such as -EBADF / -EINVAL). One
 *  connection failing never affects another. `lfd` stays open (owned by
 *  the caller). May suspend (it runs until stopped). */
CC_EXTERN int cc_serve(int lfd, cc_serve_fn fn, void *arg, const cc_serve_opts_t *opts);

CC_END_DECLS
#endif
