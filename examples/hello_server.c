/* A dozen-line web server (aiohttp.web / FastAPI's hello world):
 *   ./hello_server [PORT]      then: curl localhost:8080/hello/you
 * With no PORT it serves one request on an ephemeral port and exits, so that
 * the test run can check it. */
#include <concur.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>

static int hello(cc_req_t *req, void *arg) {
  char body[128];
  int n = snprintf(body, sizeof body, "Hello, %s!\n", cc_req_param(req, "name", NULL));
  if (arg)
    cc_server_shutdown(arg); /* self-test mode: one request */
  return cc_resp_send(req, 200, "text/plain", body, (size_t)n);
}

static void *self_test(void *arg) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/hello/world",
           cc_server_port(arg));
  return (void *)(intptr_t)system(cmd);
}

int main(int argc, char **argv) {
  cc_server_t *srv;
  cc_server_opts_t o = {.loops = argc > 1 ? 0 : 1, .handle_signals = true};
  if (cc_server_new(&srv, &o) < 0 ||
      cc_server_route(srv, "GET", "/hello/{name}", hello, argc > 1 ? NULL : srv) < 0 ||
      cc_server_listen(srv, "127.0.0.1", argc > 1 ? atoi(argv[1]) : 0) < 0)
    return 1;
  pthread_t t;
  if (argc <= 1)
    pthread_create(&t, NULL, self_test, srv);
  else
    printf("serving on http://127.0.0.1:%d/hello/you\n", cc_server_port(srv));
  int rc = cc_server_run(srv);
  if (argc <= 1)
    pthread_join(t, NULL);
  cc_server_free(srv);
  return rc < 0;
}
