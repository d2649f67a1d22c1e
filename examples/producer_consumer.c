/* asyncio.Queue producer/consumer with back-pressure, with concur.
 *
 *   queue = asyncio.Queue(maxsize=8)
 *   async def producer(): for i in range(100): await queue.put(i)
 *   async def consumer(): while True: item = await queue.get(); ...
 *
 * Closing the queue (asyncio.Queue.shutdown) ends the consumers once they
 * have drained what is left.
 */
#include <stdio.h>

#include <concur.h>

enum { ITEMS = 1000, PRODUCERS = 3, CONSUMERS = 4 };

static intptr_t producer(void *arg) {
  cc_queue_t *q = arg;
  for (intptr_t i = 1; i <= ITEMS; i++) {
    int r = cc_queue_put(q, (void *)i); /* waits while the queue is full */
    if (r < 0)
      return r;
  }
  return 0;
}

static intptr_t consumer(void *arg) {
  cc_queue_t *q = arg;
  intptr_t sum = 0;
  void *item;
  int r;
  while ((r = cc_queue_get(q, &item)) == 0)
    sum += (intptr_t)item;
  return r == -CC_ECLOSED ? sum : r;
}

static intptr_t amain(void *arg) {
  cc_queue_t *q;
  int r = cc_queue_new(&q, 8);
  if (r < 0)
    return r;
  cc_group_t *producers;
  cc_task_t *consumers[CONSUMERS];
  if ((r = cc_group_new(&producers)) < 0)
    return r;
  for (int i = 0; i < PRODUCERS; i++)
    cc_group_spawn(producers, producer, q);
  for (int i = 0; i < CONSUMERS; i++)
    cc_spawn(&consumers[i], consumer, q);
  r = cc_group_wait(producers);
  cc_group_free(producers);
  cc_queue_close(q);
  intptr_t sums[CONSUMERS], total = 0;
  int g = cc_gather(consumers, CONSUMERS, sums);
  cc_queue_free(q);
  if (r < 0 || g < 0)
    return r < 0 ? r : g;
  for (int i = 0; i < CONSUMERS; i++) {
    printf("consumer %d summed %ld\n", i, (long)sums[i]);
    total += sums[i];
  }
  printf("total %ld (expected %ld)\n", (long)total,
         (long)PRODUCERS * ITEMS * (ITEMS + 1) / 2);
  return total == (intptr_t)PRODUCERS * ITEMS * (ITEMS + 1) / 2 ? 0 : -EIO;
}

int main(void) {
  int r = cc_run(amain, NULL, NULL);
  if (r < 0) {
    fprintf(stderr, "producer_consumer: %s\n", cc_strerror(r));
    return 1;
  }
  return 0;
}
