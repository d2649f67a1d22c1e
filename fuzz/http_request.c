/* Fuzz target: bytes in, through llhttp, the limits and the router, and
 * responses out — the server's request path without a socket. The input is
 * fed in two pieces (split where its first byte says) so that requests
 * cut across reads are exercised too; handlers read every part of the
 * request (params, query, headers, body) and answer buffered, streamed
 * and error responses. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "concur.h"
#include "http/server_int.h"

static int h_plain(cc_req_t *r, void *arg) {
  return cc_resp_send(r, 200, "text/plain", "Hello, World!", 13);
}

static int h_all(cc_req_t *r, void *arg) {
  size_t n = 0, total = 0;
  const char *s;
  if ((s = cc_req_param(r, "id", &n)))
    total += n;
  if ((s = cc_req_param(r, "rest", &n)))
    total += n;
  if ((s = cc_req_query(r, "q", &n)))
    total += n;
  if ((s = cc_req_query(r, "x y", &n)))
    total += n;
  if ((s = cc_req_path(r, &n)))
    total += n;
  if ((s = cc_req_header(r, "content-type", &n)))
    total += n;
  size_t nh;
  cc_req_headers(r, &nh);
  cc_req_body(r, &n);
  total += n + nh;
  cc_resp_header(r, "X-Total", "1");
  if (total % 3 == 0) {
    int e = cc_resp_start(r, 201, "text/plain");
    if (e == 0)
      e = cc_resp_write(r, "abc", 3);
    return e;
  }
  if (total % 3 == 1)
    return -5; /* a failing handler: 500 */
  return cc_resp_text(r, 200, "ok");
}

static int h_stream(cc_req_t *r, void *arg) {
  char buf[7];
  ssize_t n, total = 0;
  while ((n = cc_req_read(r, buf, sizeof buf)) > 0)
    total += n;
  if (n < 0)
    return (int)n;
  return cc_resp_json(r, 200, json_pack("{s:i}", "n", (int)total));
}

static int h_json(cc_req_t *r, void *arg) {
  int err;
  json_t *v = cc_req_json(r, &err);
  if (!v)
    return cc_resp_text(r, 400, "bad");
  return cc_resp_json(r, 200, json_incref(v));
}

static cc_server_t *srv;
static worker_t w;
static char sdir[] = "/tmp/cc_fuzz_static_XXXXXX", sfile[64];

static void rm_static(void) {
  unlink(sfile);
  rmdir(sdir);
}

static void init(void) {
  cc_server_opts_t o = {.loops = 1,
                        .max_body = 4096,
                        .max_header_size = 8192,
                        .max_headers = 20,
                        .max_uri = 1024,
                        .max_header_line = 2048};
  if (cc_server_new(&srv, &o) < 0)
    abort();
  cc_server_route(srv, "GET", "/plaintext", h_plain, NULL);
  cc_server_route(srv, "GET", "/users/{id}", h_all, NULL);
  cc_server_route(srv, "POST", "/users/{id}/items", h_all, NULL);
  cc_server_route(srv, NULL, "/any/{rest...}", h_all, NULL);
  cc_server_route(srv, "PROPFIND", "/dav", h_all, NULL);
  cc_route_opts_t ro = {.stream_body = true, .max_body = 100};
  cc_server_route_opts(srv, "POST", "/up", h_stream, NULL, &ro);
  cc_server_route(srv, "POST", "/json", h_json, NULL);
  /* Static files: Range parsing (multipart/byteranges), conditionals. */
  if (mkdtemp(sdir)) {
    atexit(rm_static);
    snprintf(sfile, sizeof sfile, "%s/f.txt", sdir);
    FILE *f = fopen(sfile, "w");
    if (f) {
      fputs("0123456789abcdefghijABCDEFGHIJklmnopqrstKLMNOPQRST", f);
      fclose(f);
    }
    cc_server_static(srv, "/s", sdir);
  }
  w.srv = srv;
  w.date_sec = -1;
  cc__worker_date(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!srv)
    init();
  conn_t c;
  memset(&c, 0, sizeof c);
  cc__h1_init(&c, &w, -1);
  size_t cut = size ? data[0] % (size + 1) : 0;
  if (cc__h1_feed(&c, data, cut) == 0)
    cc__h1_feed(&c, data + cut, size - cut);
  cc__h1_free(&c);
  w.log_len = 0;
  return 0;
}
