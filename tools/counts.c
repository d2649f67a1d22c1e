/* The string -> count table of counts.h. */
#include "counts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <concur.h>

static uint64_t hash(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

int counts_init(counts_t *t, size_t cap) {
  t->e = calloc(cap, sizeof *t->e);
  t->cap = t->e ? cap : 0;
  t->n = 0;
  return t->e ? 0 : -ENOMEM;
}

void counts_free(counts_t *t) {
  if (!t->e)
    return;
  for (size_t i = 0; i < t->cap; i++)
    free(t->e[i].key);
  free(t->e);
  t->e = NULL;
  t->cap = t->n = 0;
}

static int grow(counts_t *t) {
  counts_t nt;
  if (counts_init(&nt, t->cap ? t->cap * 2 : 64) < 0)
    return -ENOMEM;
  for (size_t i = 0; i < t->cap; i++)
    if (t->e[i].key) {
      size_t j = hash(t->e[i].key, t->e[i].len) & (nt.cap - 1);
      while (nt.e[j].key)
        j = (j + 1) & (nt.cap - 1);
      nt.e[j] = t->e[i];
      nt.n++;
    }
  free(t->e);
  *t = nt;
  return 0;
}

counts_entry_t *counts_add(counts_t *t, const char *key, size_t len, uint64_t count) {
  if ((t->n + 1) * 2 > t->cap && grow(t) < 0)
    return NULL;
  size_t j = hash(key, len) & (t->cap - 1);
  while (t->e[j].key) {
    if (t->e[j].len == len && memcmp(t->e[j].key, key, len) == 0) {
      t->e[j].count += count;
      return &t->e[j];
    }
    j = (j + 1) & (t->cap - 1);
  }
  char *copy = malloc(len + 1);
  if (!copy)
    return NULL;
  memcpy(copy, key, len);
  copy[len] = 0;
  t->e[j] = (counts_entry_t){copy, len, count};
  t->n++;
  return &t->e[j];
}

counts_entry_t *counts_find(const counts_t *t, const char *key, size_t len) {
  if (!t->cap)
    return NULL;
  size_t j = hash(key, len) & (t->cap - 1);
  while (t->e[j].key) {
    if (t->e[j].len == len && memcmp(t->e[j].key, key, len) == 0)
      return &t->e[j];
    j = (j + 1) & (t->cap - 1);
  }
  return NULL;
}

ssize_t counts_write(const counts_t *t, void *out, size_t cap) {
  size_t used = 0;
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->e[i].key)
      continue;
    int k = snprintf((char *)out + used, cap - used, "%s\t%llu\n", t->e[i].key,
                     (unsigned long long)t->e[i].count);
    if (k < 0 || (size_t)k >= cap - used)
      return -CC_ETOOBIG;
    used += (size_t)k;
  }
  return (ssize_t)used;
}

int64_t counts_merge(counts_t *t, const char *data, size_t len) {
  const char *s = data, *end = data + len;
  int64_t sum = 0;
  while (s < end) {
    const char *tab = memchr(s, '\t', (size_t)(end - s));
    const char *nl = tab ? memchr(tab, '\n', (size_t)(end - tab)) : NULL;
    if (!nl)
      break;
    uint64_t c = strtoull(tab + 1, NULL, 10);
    if (!counts_add(t, s, (size_t)(tab - s), c))
      return -ENOMEM;
    sum += (int64_t)c;
    s = nl + 1;
  }
  return sum;
}

static int by_count(const void *a, const void *b) {
  const counts_entry_t *x = a, *y = b;
  if (x->count != y->count)
    return x->count < y->count ? 1 : -1;
  return strcmp(x->key, y->key);
}

counts_entry_t *counts_sorted(const counts_t *t) {
  counts_entry_t *all = malloc((t->n ? t->n : 1) * sizeof *all);
  if (!all)
    return NULL;
  size_t m = 0;
  for (size_t i = 0; i < t->cap; i++)
    if (t->e[i].key)
      all[m++] = t->e[i];
  qsort(all, m, sizeof *all, by_count);
  return all;
}
