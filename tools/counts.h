/* A string -> count hash table for the concur command's word counters
 * (`concur mine`, `concur crawl --mine`) and the crawler's string sets, with
 * the "word\tcount\n" text that worker processes send back to the parent.
 * Open addressing, power-of-two capacity, grown at half full. Not
 * thread-safe; keys are copied. */
#ifndef CONCUR_TOOLS_COUNTS_H
#define CONCUR_TOOLS_COUNTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct counts_entry {
  char *key; /* NUL-terminated copy; NULL for an empty slot */
  size_t len;
  uint64_t count;
} counts_entry_t;

typedef struct counts {
  counts_entry_t *e;
  size_t cap, n; /* slots, keys */
} counts_t;

/* Makes an empty table of `cap` slots (a power of two). 0 or -ENOMEM. */
int counts_init(counts_t *t, size_t cap);

/* Frees every key and the slots; safe on a zero-filled or freed table. */
void counts_free(counts_t *t);

/* Adds `count` to the entry of the `len` bytes at `key`, made if absent;
 * returns the entry, or NULL when out of memory (the table is unchanged). */
counts_entry_t *counts_add(counts_t *t, const char *key, size_t len, uint64_t count);

/* The entry of `key`, or NULL. */
counts_entry_t *counts_find(const counts_t *t, const char *key, size_t len);

/* Writes every entry as "key\tcount\n" into out[0..cap): the length written,
 * or -CC_ETOOBIG when it does not fit. */
ssize_t counts_write(const counts_t *t, void *out, size_t cap);

/* Adds every "key\tcount\n" line of data[0..len) to `t` (a line cut short
 * ends the reading); returns the sum of the counts read, or -ENOMEM. */
int64_t counts_merge(counts_t *t, const char *data, size_t len);

/* The entries sorted by count, descending, then by key: a malloc'd array of
 * t->n copies (the keys still belong to the table), or NULL when out of
 * memory. */
counts_entry_t *counts_sorted(const counts_t *t);

#endif
