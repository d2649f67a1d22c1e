/* Internal: helpers shared by the files of src/net. */
#ifndef CC_NET_INT_H
#define CC_NET_INT_H

#include <stdint.h>

#include "concur/net.h"

/* Waits for `fd` with the loop (in a coroutine) or poll(2) (plain thread).
 * events: CC__READ or CC__WRITE. */
int cc__net_wait(int fd, unsigned events, int64_t deadline);

/* Yields once the running task has done a long run of I/O calls without
 * suspending (see io.c). 0, or the error of the yield (-ECANCELED ...). */
int cc__net_fair(void);

/* The same with an explicit budget (accept bursts use a larger one: an
 * accept is cheap and the kernel's queue is finite). */
int cc__net_fair_n(unsigned budget);

/* Sleeps until `deadline` capped at `ms` from now, in a coroutine or on a
 * plain thread. 0 or -ETIMEDOUT / -ECANCELED. */
int cc__net_sleep(int64_t ms, int64_t deadline);

#endif
