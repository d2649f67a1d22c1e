/* concur: network I/O for coroutines — waiting on file descriptors, read and
 * write wrappers that suspend instead of blocking, TCP and Unix-domain
 * sockets, and name resolution that never blocks the loop.
 *
 * Sockets are plain file descriptors (as in Go's net package under the hood
 * and in libdill): every socket this module creates is non-blocking and
 * close-on-exec, and TCP sockets have TCP_NODELAY on. They can be used with
 * any call here, wrapped in a buffered stream (stream.h) or a TLS stream
 * (tls.h), and must be closed with cc_close() (not close()) because the loop
 * keeps an edge-triggered registration for every fd it has waited on.
 *
 * Every call that may suspend takes an absolute `deadline` (cc_now()
 * milliseconds, or CC_FOREVER) and also honours the task's deadline scope
 * (cc_timeout_begin) and cancellation: it returns -ETIMEDOUT or -ECANCELED
 * when either fires first. EAGAIN never reaches the caller.
 *
 * Called from a plain thread (outside any coroutine), the same calls block
 * that thread with poll(2) instead of suspending, honouring `deadline`.
 *
 * Python mapping: loop.sock_recv/sock_sendall -> cc_read/cc_write,
 * loop.sock_connect/sock_accept -> cc_tcp_connect/cc_tcp_accept,
 * loop.getaddrinfo -> cc_resolve. The streams of asyncio (open_connection,
 * start_server) are in stream.h.
 */
#ifndef CONCUR_NET_H
#define CONCUR_NET_H

#include <stdbool.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "common.h"
#include "error.h"

CC_BEGIN_DECLS

/* ---- waiting on file descriptors ----------------------------------------- */

/** Event bits for cc_fd_wait(). */
#define CC_READABLE 1u
#define CC_WRITABLE 2u

/** Suspends the calling coroutine until `fd` is readable (CC_READABLE) or
 *  writable (CC_WRITABLE) — exactly one of the two — or the deadline
 *  passes, or the task is cancelled. Readiness is edge-triggered: wait only
 *  after a read/write returned EAGAIN. An error or hang-up condition on the
 *  fd counts as ready (the following read/write reports it). One coroutine
 *  may wait for reading and one for writing on an fd at a time.
 *  Returns 0, -ETIMEDOUT, -ECANCELED, -EBUSY (another waiter), -EBADF,
 *  -EINVAL (bad `events`). May suspend; blocks in poll(2) on a plain
 *  thread. */
CC_EXTERN int cc_fd_wait(int fd, unsigned events, int64_t deadline);

/** Puts `fd` in non-blocking mode (needed before using a pipe or any fd
 *  not made by this module with the calls below). 0 or -errno. Never
 *  suspends. */
CC_EXTERN int cc_fd_set_nonblocking(int fd);

/** Drops the loop's registration of `fd` (waking any coroutine waiting on
 *  it with -EBADF) and closes it. Use this instead of close() for every fd
 *  that a coroutine may have waited on. Returns 0 or -EBADF; EINTR from
 *  close() is treated as success (the fd is gone on Linux). Never
 *  suspends. */
CC_EXTERN int cc_close(int fd);

/* ---- read and write -------------------------------------------------------
 * The fd must be non-blocking (sockets made here are). A coroutine that
 * finds data ready on every call would never suspend and would starve the
 * other tasks of its loop; these calls therefore yield to the loop after a
 * long run of calls that completed without waiting (fairness under a peer
 * that floods faster than we read). */

/** Reads at most `n` bytes into `buf`, waiting until at least one byte is
 *  available. Returns the number of bytes read (> 0), 0 at end of file,
 *  or a negative code (-ECONNRESET, -ETIMEDOUT, -ECANCELED, ...).
 *  May suspend. */
CC_EXTERN ssize_t cc_read(int fd, void *buf, size_t n, int64_t deadline);

/** Reads exactly `n` bytes. Returns `n`, or the number of bytes read before
 *  end of file (less than `n`), or a negative code; on an error the bytes
 *  read so far are in `buf` but their count is lost. May suspend. */
CC_EXTERN ssize_t cc_read_full(int fd, void *buf, size_t n, int64_t deadline);

/** Writes all `n` bytes of `buf`, waiting as needed (partial writes are
 *  completed). Returns `n` or a negative code (-EPIPE, -ECONNRESET,
 *  -ETIMEDOUT, ...); after an error an unknown prefix of `buf` may have been
 *  written. Never raises SIGPIPE on sockets (on a pipe whose reader is
 *  gone, the process's SIGPIPE disposition applies). May suspend. */
CC_EXTERN ssize_t cc_write(int fd, const void *buf, size_t n, int64_t deadline);

/** Writes at least one byte of `buf` (as much as the kernel takes at once),
 *  waiting until the fd is writable. Returns the count written (> 0) or a
 *  negative code. May suspend. */
CC_EXTERN ssize_t cc_write_some(int fd, const void *buf, size_t n, int64_t deadline);

/** Writes every byte of the `iovcnt` buffers of `iov` (gathered, without
 *  copying them together), completing partial writes. `iov` is not
 *  modified. Returns the total written or a negative code (as cc_write).
 *  -EINVAL if iovcnt < 0. May suspend. */
CC_EXTERN ssize_t cc_writev(int fd, const struct iovec *iov, int iovcnt,
                            int64_t deadline);

/** Sends `count` bytes of the regular file `in_fd` to `out_fd` (a socket)
 *  without copying them through user space (sendfile(2)), starting at
 *  *offset (which is advanced) or, if `offset` is NULL, at in_fd's file
 *  position. Returns the bytes sent — less than `count` only if the file
 *  ended — or a negative code. May suspend. */
CC_EXTERN ssize_t cc_sendfile(int out_fd, int in_fd, off_t *offset, size_t count,
                              int64_t deadline);

/* ---- addresses ------------------------------------------------------------ */

/** A socket address of any family this module handles (IPv4, IPv6, Unix).
 *  Plain value type: copy it freely. */
typedef struct cc_addr {
  union {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_un un;
    struct sockaddr_storage ss;
  } u;
  socklen_t len; /**< meaningful bytes of `u` */
} cc_addr_t;

/** Fills *out from a literal IPv4 or IPv6 address ("127.0.0.1", "::1",
 *  "[::1]", "fe80::1%lo") and a port (0..65535). No name lookup: -EINVAL for
 *  anything that is not a literal address. Never suspends. */
CC_EXTERN int cc_addr_ip(cc_addr_t *out, const char *ip, int port);

/** Fills *out with a Unix-domain address. A leading '@' selects Linux's
 *  abstract namespace (no file is created). -ENAMETOOLONG if the path does
 *  not fit. Never suspends. */
CC_EXTERN int cc_addr_unix(cc_addr_t *out, const char *path);

/** Formats `a` as "1.2.3.4:80", "[::1]:443" or the Unix path into buf
 *  (always NUL-terminated if n > 0). Returns the length it needed (like
 *  snprintf) or -EAFNOSUPPORT. Never suspends. */
CC_EXTERN int cc_addr_format(const cc_addr_t *a, char *buf, size_t n);

/** The port of an IPv4/IPv6 address, or -EAFNOSUPPORT. */
CC_EXTERN int cc_addr_port(const cc_addr_t *a);

/** The local / remote address of a socket. 0 or -errno. */
CC_EXTERN int cc_sock_local_addr(int fd, cc_addr_t *out);
CC_EXTERN int cc_sock_peer_addr(int fd, cc_addr_t *out);

/* ---- name resolution --------------------------------------------------------
 * Literal addresses are parsed at once; "localhost" (and names under
 * ".localhost") resolve to the loopback addresses without a lookup; names
 * under the reserved ".invalid" domain fail at once with -CC_ERESOLVE
 * (RFC 6761). Any other name is resolved by getaddrinfo(3) on a short-lived
 * helper thread while only the calling coroutine waits, so the loop keeps
 * running. A lookup that times out is abandoned (its thread finishes on its
 * own and frees its result). */

/** Resolves `host` for `port` into out[0..max), IPv4 and IPv6 addresses
 *  (`family` AF_UNSPEC) or one family (AF_INET / AF_INET6), in the order
 *  getaddrinfo gives (RFC 6724 preference). Returns the number stored
 *  (>= 1), or -CC_ERESOLVE (the name does not exist or has no address of
 *  that family), -EINVAL, -ENOMEM, -ETIMEDOUT, -ECANCELED. May suspend;
 *  blocks a plain thread. */
CC_EXTERN int cc_resolve(const char *host, int port, int family, cc_addr_t *out,
                         size_t max, int64_t deadline);

/* ---- TCP and Unix-domain sockets ------------------------------------------- */

/** Options for the listen calls; zero-fill (or NULL) for the defaults. */
typedef struct cc_listen_opts {
  int backlog;    /**< listen(2) backlog; 0 means 4096 (capped by somaxconn) */
  bool reuseport; /**< SO_REUSEPORT: several sockets (one per loop/thread)
                       share the port and the kernel balances connections */
  bool v6only;    /**< IPv6 sockets: no IPv4-mapped connections */
} cc_listen_opts_t;

/** Binds a listening TCP socket to `host` (a literal address, a name, or
 *  NULL / "" / "*" for every address: "::" dual-stack, or "0.0.0.0" if IPv6
 *  is unavailable) and `port` (0 for an ephemeral port; read it with
 *  cc_sock_local_addr). SO_REUSEADDR is always on. Returns the socket fd
 *  (>= 0; close it with cc_close) or a negative code (-EADDRINUSE,
 *  -CC_ERESOLVE, ...). May suspend (only to resolve a name). */
CC_EXTERN int cc_tcp_listen(const char *host, int port, const cc_listen_opts_t *opts);

/** As cc_tcp_listen() for a given address (IPv4, IPv6 or Unix). */
CC_EXTERN int cc_listen_addr(const cc_addr_t *addr, const cc_listen_opts_t *opts);

/** Listens on a Unix-domain stream socket at `path` ('@' prefix: abstract
 *  namespace). A stale socket file left at `path` is removed first; any
 *  other existing file gives -EADDRINUSE. Returns the fd or a negative
 *  code. Never suspends. */
CC_EXTERN int cc_unix_listen(const char *path, const cc_listen_opts_t *opts);

/** Accepts one connection on the listening socket `lfd` (TCP or Unix-domain),
 *  waiting for one if
 *  none is pending. Successive calls drain a burst of pending connections
 *  with one accept4(2) each and no waiting. Returns the new connection's fd
 *  (non-blocking, close-on-exec, TCP_NODELAY for TCP; the caller owns it)
 *  and stores the peer's address in *peer if not NULL.
 *  When the process or system is out of file descriptors (-EMFILE /
 *  -ENFILE), it first sleeps a short back-off (growing from 5 ms to 200 ms
 *  over consecutive failures, within the deadline) and then returns that
 *  error, so an accept loop neither spins nor dies: it should report the
 *  error and call again. -ECONNABORTED is retried internally. May
 *  suspend. */
CC_EXTERN int cc_tcp_accept(int lfd, cc_addr_t *peer, int64_t deadline);

/** Connects to `host`:`port`, resolving the name (cc_resolve) and trying
 *  each address in turn until one accepts, all within `deadline`. Returns
 *  the connected fd (caller owns it) or the error of the last attempt
 *  (-ECONNREFUSED, -ETIMEDOUT, -CC_ERESOLVE, ...). May suspend. */
CC_EXTERN int cc_tcp_connect(const char *host, int port, int64_t deadline);

/** Connects a new stream socket to `addr` (IPv4, IPv6 or Unix): a
 *  non-blocking connect, a wait for writability and a check of SO_ERROR.
 *  Returns the fd or a negative code; on failure nothing is left open.
 *  May suspend. */
CC_EXTERN int cc_connect_addr(const cc_addr_t *addr, int64_t deadline);

/** Connects to the Unix-domain socket at `path`. As cc_connect_addr(). */
CC_EXTERN int cc_unix_connect(const char *path, int64_t deadline);

/** shutdown(2): `how` is SHUT_RD, SHUT_WR (half-close: the peer reads end
 *  of file) or SHUT_RDWR. 0 or -errno. Never suspends. */
CC_EXTERN int cc_shutdown(int fd, int how);

/** Turns TCP_NODELAY on or off. 0 or -errno. Never suspends. */
CC_EXTERN int cc_tcp_nodelay(int fd, bool on);

CC_END_DECLS
#endif
