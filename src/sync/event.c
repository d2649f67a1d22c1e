/* cc_event: asyncio.Event. */
#include <errno.h>
#include <stdlib.h>

#include "sync/sync_int.h"

struct cc_event {
  bool set;
  cc__wlist_t waiters;
};

int cc_event_new(cc_event_t **out) {
  if (!out)
    return -EINVAL;
  cc_event_t *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  *out = e;
  return 0;
}

int cc_event_free(cc_event_t *e) {
  if (!e)
    return 0;
  if (e->waiters.head)
    return -EBUSY;
  free(e);
  return 0;
}

void cc_event_set(cc_event_t *e) {
  if (!e || e->set)
    return;
  e->set = true;
  while (cc__handoff(&e->waiters, 0)) {
  }
}

void cc_event_clear(cc_event_t *e) {
  if (e)
    e->set = false;
}

bool cc_event_is_set(const cc_event_t *e) {
  return e && e->set;
}

int cc_event_wait(cc_event_t *e) {
  if (!cc__self())
    return -CC_ENOTCORO;
  if (!e)
    return -EINVAL;
  if (e->set)
    return 0;
  cc__waiter_t w;
  cc__waiter_init(&w, NULL);
  cc__wlist_push(&e->waiters, &w);
  int r = cc__park("event", e, CC_FOREVER);
  if (r < 0)
    cc__wlist_remove(&e->waiters, &w);
  return r;
}
