/* The seed articles' scraper: fetch several pages at once (aiohttp +
 * asyncio.gather), with concur.
 *
 *   async def fetch(session, url):
 *       async with session.get(url) as r:
 *           return r.status, len(await r.read()), r.url
 *   async def main(urls):
 *       async with aiohttp.ClientSession() as session:
 *           await asyncio.gather(*(fetch(session, u) for u in urls))
 *
 *   seed_scraper URL...
 */
#include <stdio.h>

#include <concur.h>

static cc_http_session_t *session;

static intptr_t fetch(void *url) {
  cc_http_response_t *r;
  int rc = cc_http_get(session, url, &r); /* suspends this coroutine only */
  if (rc < 0)
    return rc;
  printf("%d %6zu bytes  %s\n", r->status, r->body_len, r->url);
  cc_http_response_free(r);
  return 0;
}

static intptr_t amain(void *arg) {
  char **urls = arg;
  size_t n = 0;
  while (urls[n])
    n++;
  cc_task_t *tasks[n];
  int rc = cc_http_session_new(&session, NULL);
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = cc_spawn(&tasks[i], fetch, urls[i]);
  if (rc == 0)
    rc = cc_gather(tasks, n, NULL); /* every page fetched concurrently */
  cc_http_session_free(session);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: seed_scraper URL...\n");
    return 2;
  }
  intptr_t res;
  int rc = cc_run(amain, argv + 1, &res);
  if (rc < 0)
    fprintf(stderr, "seed_scraper: %s\n", cc_strerror(rc));
  return rc < 0 ? 1 : 0;
}
