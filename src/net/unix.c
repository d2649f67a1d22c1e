/* Unix-domain stream sockets (listen and connect; accept is cc_tcp_accept,
 * which takes any stream listener). */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "concur/net.h"

int cc_unix_listen(const char *path, const cc_listen_opts_t *opts) {
  cc_addr_t a;
  int r = cc_addr_unix(&a, path);
  if (r < 0)
    return r;
  if (path[0] != '@') {
    struct stat st;
    if (stat(path, &st) == 0) {
      if (!S_ISSOCK(st.st_mode))
        return -EADDRINUSE;
      (void)unlink(path);
    }
  }
  return cc_listen_addr(&a, opts);
}

int cc_unix_connect(const char *path, int64_t deadline) {
  cc_addr_t a;
  int r = cc_addr_unix(&a, path);
  if (r < 0)
    return r;
  return cc_connect_addr(&a, deadline);
}
