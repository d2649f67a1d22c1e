/* concur: shared definitions for every public header.
 *
 * Conventions that hold across the whole API:
 *  - Functions that can fail return 0 (or a non-negative value) on success and
 *    a negative errno-style code on failure, e.g. -ETIMEDOUT. cc_strerror()
 *    names every code. errno itself is never the error channel, because a
 *    suspension point may let another coroutine clobber it.
 *  - Times are milliseconds. A deadline is an absolute point on the
 *    monotonic clock of cc_now(); CC_FOREVER (-1) means "no deadline".
 *  - "May suspend" in a function's documentation means the call can switch
 *    away from the calling coroutine; other coroutines of the same loop run
 *    in the meantime. Such functions must be called from a coroutine (inside
 *    cc_run) unless their documentation says otherwise.
 */
#ifndef CONCUR_COMMON_H
#define CONCUR_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(CONCUR_BUILDING) && defined(__GNUC__)
#define CC_EXTERN __attribute__((visibility("default")))
#else
#define CC_EXTERN
#endif

#ifdef __cplusplus
#define CC_BEGIN_DECLS extern "C" {
#define CC_END_DECLS   }
#else
#define CC_BEGIN_DECLS
#define CC_END_DECLS
#endif

/** A deadline that never passes. */
#define CC_FOREVER ((int64_t)-1)

#endif
