/* JSON request bodies and responses through jansson (FastAPI's bodies and
 * dict responses, aiohttp's request.json() and web.json_response). */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

#include "http/server_int.h"

json_t *cc_req_json(cc_req_t *r, int *err) {
  if (r->json)
    return r->json;
  size_t n;
  const void *b = cc_req_body(r, &n);
  if (!b || n == 0) {
    if (err)
      *err = -ENODATA;
    return NULL;
  }
  json_error_t je;
  r->json = json_loadb(b, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
  if (!r->json && err)
    *err = -EBADMSG;
  return r->json;
}

void cc__req_json_free(cc_req_t *r) {
  if (r->json) {
    json_decref(r->json);
    r->json = NULL;
  }
}

int cc_resp_json(cc_req_t *r, int status, json_t *v) {
  if (!v)
    return -EINVAL;
  if (r->started) {
    json_decref(v);
    return -EALREADY;
  }
  size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
  int e = cc__resp_head(r, status, "application/json", (int64_t)n, NULL, 0);
  if (e == 0 && n && !r->head) {
    conn_t *c = r->c;
    if (c->wlen + n > c->wcap) {
      char *p = realloc(c->wbuf, c->wlen + n);
      if (!p) {
        json_decref(v);
        c->close = true; /* the head is out: the response cannot be completed */
        return -ENOMEM;
      }
      c->wbuf = p;
      c->wcap = c->wlen + n;
    }
    c->wlen += json_dumpb(v, c->wbuf + c->wlen, n, JSON_COMPACT | JSON_ENCODE_ANY);
  }
  if (e == 0) {
    r->sent_bytes = n;
    r->finished = true;
  }
  json_decref(v);
  return e;
}
