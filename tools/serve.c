/* concur serve [DIR] [--port N] [--host H] [--threads N] [--access-log FILE]
 *
 * A static file server over DIR (default: the current directory), like
 * `python3 -m http.server`: prints its URL and serves until Ctrl-C, with a
 * graceful shutdown. Built on the public API only (server.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static int serve_main(int argc, char **argv) {
  const char *dir = ".", *host = "127.0.0.1", *log = NULL;
  int port = 8000, threads = 0;
  bool have_dir = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] == '-' && a[1]) {
      if (strcmp(a, "--port") && strcmp(a, "--threads") && strcmp(a, "--host") &&
          strcmp(a, "--access-log"))
        return concur_usage_error(argv[0], "unknown option '%s'", a);
      if (i + 1 >= argc)
        return concur_usage_error(argv[0], "%s needs a value", a);
      const char *v = argv[++i];
      char *end;
      if (strcmp(a, "--port") == 0) {
        long p = strtol(v, &end, 10);
        if (*end || !*v || p < 0 || p > 65535)
          return concur_usage_error(argv[0], "bad port '%s'", v);
        port = (int)p;
      } else if (strcmp(a, "--threads") == 0) {
        long t = strtol(v, &end, 10);
        if (*end || !*v || t < 0 || t > 64)
          return concur_usage_error(argv[0], "bad thread count '%s' (0-64)", v);
        threads = (int)t;
      } else if (strcmp(a, "--host") == 0) {
        host = strcmp(v, "*") == 0 ? NULL : v;
      } else if (strcmp(a, "--access-log") == 0) {
        log = v;
      }
    } else if (!have_dir) {
      dir = a;
      have_dir = true;
    } else {
      return concur_usage_error(argv[0], "unexpected argument '%s'", a);
    }
  }
  cc_server_t *srv;
  cc_server_opts_t o = {.loops = threads, .handle_signals = true, .access_log = log};
  int e = cc_server_new(&srv, &o);
  if (e < 0) {
    fprintf(stderr, "concur serve: %s%s%s\n", log ? log : "", log ? ": " : "",
            cc_strerror(e));
    return 1;
  }
  if ((e = cc_server_static(srv, "/", dir)) < 0) {
    fprintf(stderr, "concur serve: %s: %s\n", dir, cc_strerror(e));
    cc_server_free(srv);
    return 1;
  }
  if ((e = cc_server_listen(srv, host, port)) < 0) {
    fprintf(stderr, "concur serve: listen on %s:%d: %s\n", host ? host : "*", port,
            cc_strerror(e));
    cc_server_free(srv);
    return 1;
  }
  const char *shown = host ? host : "0.0.0.0";
  bool v6 = strchr(shown, ':') != NULL;
  printf("Serving %s at http://%s%s%s:%d/ (Ctrl-C to stop)\n", dir, v6 ? "[" : "", shown,
         v6 ? "]" : "", cc_server_port(srv));
  fflush(stdout);
  e = cc_server_run(srv);
  cc_server_free(srv);
  if (e < 0) {
    fprintf(stderr, "concur serve: %s\n", cc_strerror(e));
    return 1;
  }
  return 0;
}

const concur_cmd_t concur_cmd_serve = {
    .name = "serve",
    .args = "[DIR] [--port N] [--host H] [--threads N] [--access-log FILE]",
    .summary = "serve the files of DIR over HTTP (python -m http.server)",
    .help = "Serves the files under DIR (default: the current directory) over HTTP\n"
            "until Ctrl-C: index.html for directories, ETag/Last-Modified, Range,\n"
            "sendfile; nothing outside DIR is ever served.\n"
            "\n"
            "  --port N          port (default 8000; 0: any free port)\n"
            "  --host H          address to listen on (default 127.0.0.1; * for all)\n"
            "  --threads N       event loops (default: one per CPU)\n"
            "  --access-log F    common log format, one line per request, to F (- for\n"
            "                    stdout); off by default\n",
    .main = serve_main,
};
