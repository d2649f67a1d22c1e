/* concur: error codes.
 *
 * Every fallible call returns a negative code from this table. The table is
 * one X-macro so that cc_strerror() and cc_err_name() can never disagree with
 * the codes (the pattern of libuv's UV_ERRNO_MAP). System errors keep their
 * errno value, negated; concur's own conditions live above 4000 so they can
 * never collide with a kernel errno.
 */
#ifndef CONCUR_ERROR_H
#define CONCUR_ERROR_H

#include <errno.h>

#include "common.h"

/* concur's own error numbers (negate them, like errno values). */
#define CC_EWORKER     4001 /* a worker process died while running an item */
#define CC_ENOTCORO    4002 /* a suspending call was made outside a coroutine */
#define CC_ERESOLVE    4003 /* a host name did not resolve */
#define CC_ETLS        4004 /* TLS handshake or record layer failure */
#define CC_EPROTO_HTTP 4005 /* malformed HTTP message */
#define CC_ECLOSED     4006 /* the object (queue, pool, executor) was closed */
#define CC_ETOOBIG     4007 /* a message or line exceeded its configured maximum */
#define CC_EMPI        4080 /* an MPI call failed (concur::mpi) */
#define CC_ECHECKPOINT 4081 /* a checkpoint file does not belong to this map */
/* HTTP client (4020-4039). */
#define CC_EHTTP_PARTIAL   4020 /* the response body ended early */
#define CC_EHTTP_CERT      4021 /* the server's certificate failed verification */
#define CC_EHTTP_REDIRECTS 4022 /* too many redirects */
#define CC_EHTTP_CURL      4023 /* another libcurl failure */
#define CC_EHTML           4060 /* the HTML parser failed internally */
#define CC_ESELECTOR       4061 /* a CSS selector did not parse */
#define CC_ENOTHIER        4062 /* a URL is not hierarchical (mailto:, javascript:, data:) */

/* X(NAME, value, message) for every code cc_strerror() knows. */
#define CC_ERRNO_MAP(X)                                                                  \
  X(EPERM, EPERM, "operation not permitted")                                             \
  X(ENOENT, ENOENT, "no such file or directory")                                         \
  X(ESRCH, ESRCH, "no such process or task")                                             \
  X(EINTR, EINTR, "interrupted system call")                                             \
  X(EIO, EIO, "i/o error")                                                               \
  X(E2BIG, E2BIG, "argument list too long")                                              \
  X(EBADF, EBADF, "bad file descriptor")                                                 \
  X(ECHILD, ECHILD, "no child process")                                                  \
  X(EAGAIN, EAGAIN, "resource temporarily unavailable")                                  \
  X(ENOMEM, ENOMEM, "not enough memory")                                                 \
  X(EACCES, EACCES, "permission denied")                                                 \
  X(EFAULT, EFAULT, "bad address")                                                       \
  X(EBUSY, EBUSY, "resource busy")                                                       \
  X(EEXIST, EEXIST, "already exists")                                                    \
  X(EXDEV, EXDEV, "cross-device link")                                                   \
  X(ENOTDIR, ENOTDIR, "not a directory")                                                 \
  X(EISDIR, EISDIR, "is a directory")                                                    \
  X(EINVAL, EINVAL, "invalid argument")                                                  \
  X(ENFILE, ENFILE, "file table overflow")                                               \
  X(EMFILE, EMFILE, "too many open files")                                               \
  X(ENOSPC, ENOSPC, "no space left on device")                                           \
  X(ESPIPE, ESPIPE, "invalid seek")                                                      \
  X(EPIPE, EPIPE, "broken pipe")                                                         \
  X(EDOM, EDOM, "argument out of domain")                                                \
  X(ERANGE, ERANGE, "result out of range")                                               \
  X(EDEADLK, EDEADLK, "resource deadlock would occur")                                   \
  X(ENAMETOOLONG, ENAMETOOLONG, "name too long")                                         \
  X(ENOSYS, ENOSYS, "function not implemented")                                          \
  X(ENOTEMPTY, ENOTEMPTY, "directory not empty")                                         \
  X(ELOOP, ELOOP, "too many symbolic links")                                             \
  X(ENODATA, ENODATA, "no data available")                                               \
  X(ETIME, ETIME, "timer expired")                                                       \
  X(EPROTO, EPROTO, "protocol error")                                                    \
  X(EBADMSG, EBADMSG, "bad message")                                                     \
  X(EOVERFLOW, EOVERFLOW, "value too large")                                             \
  X(EILSEQ, EILSEQ, "illegal byte sequence")                                             \
  X(ENOTSOCK, ENOTSOCK, "socket operation on non-socket")                                \
  X(EDESTADDRREQ, EDESTADDRREQ, "destination address required")                          \
  X(EMSGSIZE, EMSGSIZE, "message too long")                                              \
  X(EPROTOTYPE, EPROTOTYPE, "protocol wrong type for socket")                            \
  X(ENOPROTOOPT, ENOPROTOOPT, "protocol not available")                                  \
  X(EPROTONOSUPPORT, EPROTONOSUPPORT, "protocol not supported")                          \
  X(ENOTSUP, ENOTSUP, "operation not supported")                                         \
  X(EAFNOSUPPORT, EAFNOSUPPORT, "address family not supported")                          \
  X(EADDRINUSE, EADDRINUSE, "address already in use")                                    \
  X(EADDRNOTAVAIL, EADDRNOTAVAIL, "address not available")                               \
  X(ENETDOWN, ENETDOWN, "network is down")                                               \
  X(ENETUNREACH, ENETUNREACH, "network is unreachable")                                  \
  X(ECONNABORTED, ECONNABORTED, "connection aborted")                                    \
  X(ECONNRESET, ECONNRESET, "connection reset by peer")                                  \
  X(ENOBUFS, ENOBUFS, "no buffer space available")                                       \
  X(EISCONN, EISCONN, "socket is already connected")                                     \
  X(ENOTCONN, ENOTCONN, "socket is not connected")                                       \
  X(ESHUTDOWN, ESHUTDOWN, "cannot send after shutdown")                                  \
  X(ETIMEDOUT, ETIMEDOUT, "timed out")                                                   \
  X(ECONNREFUSED, ECONNREFUSED, "connection refused")                                    \
  X(EHOSTDOWN, EHOSTDOWN, "host is down")                                                \
  X(EHOSTUNREACH, EHOSTUNREACH, "host is unreachable")                                   \
  X(EALREADY, EALREADY, "operation already in progress")                                 \
  X(EINPROGRESS, EINPROGRESS, "operation in progress")                                   \
  X(ECANCELED, ECANCELED, "operation canceled")                                          \
  X(EOWNERDEAD, EOWNERDEAD, "previous owner died")                                       \
  X(CC_EWORKER, CC_EWORKER, "worker process died while running the item")                \
  X(CC_ENOTCORO, CC_ENOTCORO, "suspending call made outside a coroutine")                \
  X(CC_ERESOLVE, CC_ERESOLVE, "host name did not resolve")                               \
  X(CC_ETLS, CC_ETLS, "TLS failure")                                                     \
  X(CC_EPROTO_HTTP, CC_EPROTO_HTTP, "malformed HTTP message")                            \
  X(CC_ECLOSED, CC_ECLOSED, "object is closed")                                          \
  X(CC_ETOOBIG, CC_ETOOBIG, "message exceeds the configured maximum")                    \
  X(CC_EMPI, CC_EMPI, "MPI call failed")                                                 \
  X(CC_ECHECKPOINT, CC_ECHECKPOINT, "checkpoint file does not match this map")           \
  X(CC_EHTTP_PARTIAL, CC_EHTTP_PARTIAL, "HTTP response body truncated")                  \
  X(CC_EHTTP_CERT, CC_EHTTP_CERT, "TLS certificate verification failed")                 \
  X(CC_EHTTP_REDIRECTS, CC_EHTTP_REDIRECTS, "too many HTTP redirects")                   \
  X(CC_EHTTP_CURL, CC_EHTTP_CURL, "HTTP client failure (libcurl)")                       \
  X(CC_EHTML, CC_EHTML, "HTML parser failure")                                           \
  X(CC_ESELECTOR, CC_ESELECTOR, "invalid CSS selector")                                  \
  X(CC_ENOTHIER, CC_ENOTHIER, "URL is not hierarchical")

CC_BEGIN_DECLS

/** A human-readable message for a code returned by any concur call; accepts
 *  the code negative (as returned) or positive. Never NULL; unknown codes
 *  give "unknown error". The string is static: do not free it. Thread-safe. */
CC_EXTERN const char *cc_strerror(int err);

/** The symbolic name of a code, e.g. "ETIMEDOUT" for -ETIMEDOUT, or
 *  "UNKNOWN". Static string; thread-safe. */
CC_EXTERN const char *cc_err_name(int err);

CC_END_DECLS
#endif
