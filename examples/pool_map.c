/* Data mining with a process pool: Python's
 *
 *     with multiprocessing.Pool() as pool:
 *         results = pool.map(process_data, data)
 *
 * written with concur, for the natural C case of an array of records mapped
 * to an array of records. Here: a million readings, each smoothed into a
 * small summary record on every core. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <concur.h>

typedef struct reading {
  int32_t sensor;
  double value;
} reading_t;

typedef struct summary {
  int32_t sensor;
  double score;
} summary_t;

static int process_data(const void *in, void *out, void *ctx) {
  (void)ctx;
  const reading_t *r = in;
  summary_t *s = out;
  double x = r->value;
  for (int i = 0; i < 20; i++) /* some work per item */
    x = 0.5 * (x + r->value / (x > 0 ? x : 1));
  s->sensor = r->sensor;
  s->score = x; /* ~ sqrt(value) */
  return 0;
}

int main(void) {
  enum { N = 1000000 };
  reading_t *data = malloc(N * sizeof *data);
  summary_t *results = malloc(N * sizeof *results);
  if (!data || !results)
    return 1;
  for (int i = 0; i < N; i++)
    data[i] = (reading_t){.sensor = i % 100, .value = (double)i};

  cc_pool_t *pool;
  if (cc_pool_new(&pool, NULL) < 0) /* one worker per core */
    return 1;
  int64_t t0 = cc_now_ns();
  size_t failed_idx;
  int r = cc_pool_map_records(pool, process_data, NULL, data, sizeof *data, results,
                              sizeof *results, N, &failed_idx, NULL);
  double ms = (double)(cc_now_ns() - t0) / 1e6;
  cc_pool_free(pool);
  if (r < 0) {
    fprintf(stderr, "map failed at item %zu: %s\n", failed_idx, cc_strerror(r));
    return 1;
  }
  for (int i = 0; i < N; i += N / 4)
    printf("sensor %2d: value %8.0f -> score %8.2f\n", results[i].sensor, data[i].value,
           results[i].score);
  if (fabs(results[N - 1].score - sqrt((double)(N - 1))) > 1e-6)
    return 1;
  printf("%d items on %d workers in %.1f ms\n", N, cc_cpu_count(), ms);
  free(data);
  free(results);
  return 0;
}
