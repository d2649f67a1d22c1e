/* TLS tests: a self-signed certificate is generated at run time with the
 * OpenSSL API (no files shipped, no `openssl` command needed), then used
 * for round trips, ALPN, half-close, a refused certificate, a wrong name,
 * handshake time-outs and a TLS cc_serve with a misbehaving client. */
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "test.h"

static char cert_path[64], key_path[64];

static void write_pem_files(void) {
  EVP_PKEY *pkey = EVP_EC_gen("P-256");
  ASSERT_NOT_NULL(pkey);
  X509 *x = X509_new();
  ASSERT_NOT_NULL(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, pkey);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  X509_EXTENSION *ext =
      X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  ASSERT_NOT_NULL(ext);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  ASSERT_GT(X509_sign(x, pkey, EVP_sha256()), 0);

  snprintf(cert_path, sizeof cert_path, "/tmp/concur-cert-%d.pem", (int)getpid());
  snprintf(key_path, sizeof key_path, "/tmp/concur-key-%d.pem", (int)getpid());
  FILE *f = fopen(cert_path, "we");
  ASSERT_NOT_NULL(f);
  ASSERT_EQ(PEM_write_X509(f, x), 1);
  fclose(f);
  f = fopen(key_path, "we");
  ASSERT_NOT_NULL(f);
  ASSERT_EQ(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
  fclose(f);
  X509_free(x);
  EVP_PKEY_free(pkey);
}

static void remove_pem_files(void) {
  unlink(cert_path);
  unlink(key_path);
}

static cc_tls_ctx_t *server_ctx(const char *alpn) {
  cc_tls_ctx_t *c;
  cc_tls_opts_t o = {
      .server = true, .cert_file = cert_path, .key_file = key_path, .alpn = alpn};
  int r = cc_tls_ctx_new(&c, &o);
  if (r < 0)
    CC_TEST_FAIL("server ctx: %s: %s", cc_strerror(r), cc_tls_last_error());
  return c;
}

static cc_tls_ctx_t *client_ctx(bool trust_ours, const char *alpn) {
  cc_tls_ctx_t *c;
  cc_tls_opts_t o = {.ca_file = trust_ours ? cert_path : NULL, .alpn = alpn};
  int r = cc_tls_ctx_new(&c, &o);
  if (r < 0)
    CC_TEST_FAIL("client ctx: %s: %s", cc_strerror(r), cc_tls_last_error());
  return c;
}

static int listen_local(int *port) {
  int lfd = cc_tcp_listen("127.0.0.1", 0, NULL);
  ASSERT_GE(lfd, 0);
  cc_addr_t la;
  cc_sock_local_addr(lfd, &la);
  *port = cc_addr_port(&la);
  return lfd;
}

/* ---- a raw TLS echo server task ------------------------------------------------------
 */

typedef struct {
  int lfd;
  cc_tls_ctx_t *ctx;
  int hs_result; /* the server's handshake outcome */
  int64_t hs_deadline_ms;
} tsrv_t;

static intptr_t tls_echo_server(void *arg) {
  tsrv_t *t = arg;
  int fd = cc_tcp_accept(t->lfd, NULL, cc_deadline_in(5000));
  if (fd < 0)
    return fd;
  cc_stream_t *s;
  int64_t ms = t->hs_deadline_ms ? t->hs_deadline_ms : 5000;
  t->hs_result = cc_tls_accept(&s, fd, t->ctx, NULL, cc_deadline_in(ms));
  if (t->hs_result < 0) {
    cc_close(fd); /* a failed handshake leaves the fd with us */
    return 0;
  }
  char buf[16384];
  ssize_t n;
  while ((n = cc_stream_read(s, buf, sizeof buf, cc_deadline_in(5000))) > 0) {
    if (cc_stream_write(s, buf, (size_t)n, cc_deadline_in(5000)) < 0 ||
        cc_stream_flush(s, cc_deadline_in(5000)) < 0)
      break;
  }
  if (n == 0) /* the client half-closed: answer, then close */
    cc_stream_shutdown_write(s, cc_deadline_in(1000));
  cc_stream_free(s);
  return 0;
}

typedef struct {
  cc_stream_t *s;
  char *buf;
  size_t n;
} rd_t;

static intptr_t reader_task(void *arg) {
  rd_t *r = arg;
  return cc_stream_read_exactly(r->s, r->buf, r->n, cc_deadline_in(10000));
}

static intptr_t roundtrip_main(void *arg) {
  int port;
  tsrv_t t = {.lfd = listen_local(&port), .ctx = server_ctx("h2,http/1.1")};
  cc_task_t *srv;
  ASSERT_OK(cc_spawn(&srv, tls_echo_server, &t));
  cc_tls_ctx_t *cctx = client_ctx(true, "http/1.1,h2");
  cc_stream_t *s;
  int r = cc_tls_open_connection(&s, "localhost", port, cctx, cc_deadline_in(5000));
  if (r < 0)
    CC_TEST_FAIL("connect: %s: %s", cc_strerror(r), cc_tls_last_error());
  cc_tls_ctx_free(cctx); /* the stream keeps its own reference */
  ASSERT_TRUE(cc_stream_is_tls(s));
  ASSERT_STR_EQ(cc_tls_alpn(s), "h2"); /* the server's preference wins */
  char line[64];
  for (int i = 0; i < 20; i++) {
    int n = snprintf(line, sizeof line, "secret %d\n", i);
    ASSERT_EQ(cc_stream_write(s, line, (size_t)n, CC_FOREVER), n);
    ASSERT_OK(cc_stream_flush(s, cc_deadline_in(2000)));
    char back[64];
    ASSERT_EQ(cc_stream_read_line(s, back, sizeof back, cc_deadline_in(2000)), n);
    ASSERT_STR_EQ(back, line);
  }
  /* 2 MiB through TLS while reading the echo concurrently. */
  size_t bn = 2 << 20;
  char *big = malloc(bn), *in = malloc(bn);
  for (size_t i = 0; i < bn; i++)
    big[i] = (char)(i * 5 + 1);
  rd_t rd = {s, in, bn};
  cc_task_t *rt;
  ASSERT_OK(cc_spawn(&rt, reader_task, &rd));
  ASSERT_EQ(cc_stream_write(s, big, bn, cc_deadline_in(10000)), (ssize_t)bn);
  ASSERT_OK(cc_stream_flush(s, cc_deadline_in(10000)));
  intptr_t got;
  ASSERT_OK(cc_join(rt, &got));
  ASSERT_EQ(got, (intptr_t)bn);
  ASSERT_EQ(memcmp(big, in, bn), 0);
  free(big);
  free(in);
  /* Half-close: our close_notify ends the server's reads; it answers with
   * its own, which we read as end of stream. */
  ASSERT_OK(cc_stream_shutdown_write(s, cc_deadline_in(2000)));
  char c;
  ASSERT_EQ(cc_stream_read(s, &c, 1, cc_deadline_in(2000)), 0);
  cc_stream_free(s);
  ASSERT_OK(cc_join(srv, NULL));
  ASSERT_OK(t.hs_result);
  cc_tls_ctx_free(t.ctx);
  cc_close(t.lfd);
  return 0;
}

TEST(tls_roundtrip) {
  write_pem_files();
  cc_test_run(roundtrip_main, NULL);
  remove_pem_files();
}

/* A TLS read_exactly whose deadline passes after part of the record came
 * keeps that part (as plain streams do). Deterministic: the echo of the
 * part is already buffered (peek) when the read starts. */
static intptr_t tls_partial_main(void *arg) {
  (void)arg;
  int port;
  tsrv_t t = {.lfd = listen_local(&port), .ctx = server_ctx(NULL)};
  cc_task_t *srv;
  ASSERT_OK(cc_spawn(&srv, tls_echo_server, &t));
  cc_tls_ctx_t *cctx = client_ctx(true, NULL);
  cc_stream_t *s;
  int r = cc_tls_open_connection(&s, "localhost", port, cctx, cc_deadline_in(5000));
  if (r < 0)
    CC_TEST_FAIL("connect: %s: %s", cc_strerror(r), cc_tls_last_error());
  cc_tls_ctx_free(cctx);
  ASSERT_EQ(cc_stream_write(s, "abc", 3, CC_FOREVER), 3);
  ASSERT_OK(cc_stream_flush(s, cc_deadline_in(2000)));
  const void *p;
  while (cc_stream_buffered(s) < 3)
    ASSERT_GT(cc_stream_peek(s, &p, cc_deadline_in(2000)), 0);
  char buf[16];
  ASSERT_ERR(cc_stream_read_exactly(s, buf, 6, cc_deadline_in(30)), -ETIMEDOUT);
  ASSERT_EQ(cc_stream_buffered(s), 3);
  ASSERT_EQ(cc_stream_write(s, "def", 3, CC_FOREVER), 3);
  ASSERT_OK(cc_stream_flush(s, cc_deadline_in(2000)));
  ASSERT_EQ(cc_stream_read_exactly(s, buf, 6, cc_deadline_in(2000)), 6);
  ASSERT_EQ(memcmp(buf, "abcdef", 6), 0);
  ASSERT_OK(cc_stream_shutdown_write(s, cc_deadline_in(2000)));
  char c;
  ASSERT_EQ(cc_stream_read(s, &c, 1, cc_deadline_in(2000)), 0);
  cc_stream_free(s);
  ASSERT_OK(cc_join(srv, NULL));
  cc_tls_ctx_free(t.ctx);
  cc_close(t.lfd);
  return 0;
}

TEST(tls_partial_read_keeps_bytes) {
  write_pem_files();
  cc_test_run(tls_partial_main, NULL);
  remove_pem_files();
}

/* The client checks the certificate against an IP literal (no SNI). */
static intptr_t ip_name_main(void *arg) {
  int port;
  tsrv_t t = {.lfd = listen_local(&port), .ctx = server_ctx(NULL)};
  cc_task_t *srv;
  ASSERT_OK(cc_spawn(&srv, tls_echo_server, &t));
  cc_tls_ctx_t *cctx = client_ctx(true, NULL);
  int fd = cc_tcp_connect("127.0.0.1", port, cc_deadline_in(2000));
  ASSERT_GE(fd, 0);
  cc_stream_t *s;
  int r = cc_tls_connect(&s, fd, cctx, "127.0.0.1", NULL, cc_deadline_in(5000));
  if (r < 0)
    CC_TEST_FAIL("connect: %s: %s", cc_strerror(r), cc_tls_last_error());
  ASSERT_NULL(cc_tls_alpn(s));
  ASSERT_EQ(cc_stream_write(s, "x", 1, CC_FOREVER), 1);
  ASSERT_OK(cc_stream_flush(s, CC_FOREVER));
  char c;
  ASSERT_EQ(cc_stream_read(s, &c, 1, cc_deadline_in(2000)), 1);
  cc_stream_free(s); /* owns and closes fd */
  ASSERT_OK(cc_join(srv, NULL));
  cc_tls_ctx_free(cctx);
  cc_tls_ctx_free(t.ctx);
  cc_close(t.lfd);
  return 0;
}

TEST(tls_ip_name) {
  write_pem_files();
  cc_test_run(ip_name_main, NULL);
  remove_pem_files();
}

/* A verifying client refuses a certificate that does not chain to a trusted
 * CA, and one that names another host; both sides see a clear error and
 * nothing leaks. */
static intptr_t bad_cert_main(void *arg) {
  const char *mode = arg;
  int port;
  tsrv_t t = {.lfd = listen_local(&port), .ctx = server_ctx(NULL)};
  cc_task_t *srv;
  ASSERT_OK(cc_spawn(&srv, tls_echo_server, &t));
  bool wrong_name = strcmp(mode, "name") == 0;
  cc_tls_ctx_t *cctx = client_ctx(wrong_name, NULL);
  int fd = cc_tcp_connect("127.0.0.1", port, cc_deadline_in(2000));
  ASSERT_GE(fd, 0);
  cc_stream_t *s = NULL;
  ASSERT_ERR(cc_tls_connect(&s, fd, cctx, wrong_name ? "example.com" : "localhost", NULL,
                            cc_deadline_in(5000)),
             -CC_ETLS);
  ASSERT_NULL(s);
  ASSERT_NOT_NULL(strstr(cc_tls_last_error(), "verify"));
  cc_close(fd); /* still ours after a failed handshake */
  ASSERT_OK(cc_join(srv, NULL));
  ASSERT_TRUE(t.hs_result == -CC_ETLS || t.hs_result == -ECONNRESET);
  cc_tls_ctx_free(cctx);
  cc_tls_ctx_free(t.ctx);
  cc_close(t.lfd);
  return 0;
}

TEST(tls_refuses_untrusted_cert) {
  write_pem_files();
  cc_test_run(bad_cert_main, "untrusted");
  remove_pem_files();
}

TEST(tls_refuses_wrong_name) {
  write_pem_files();
  cc_test_run(bad_cert_main, "name");
  remove_pem_files();
}

/* A client that connects and never starts the handshake: the server's
 * handshake deadline fires. A plain-text client: the server fails with
 * -CC_ETLS. */
static intptr_t hs_fault_main(void *arg) {
  int port;
  tsrv_t t = {.lfd = listen_local(&port), .ctx = server_ctx(NULL), .hs_deadline_ms = 100};
  cc_task_t *srv;
  ASSERT_OK(cc_spawn(&srv, tls_echo_server, &t));
  int fd = cc_tcp_connect("127.0.0.1", port, cc_deadline_in(2000));
  ASSERT_GE(fd, 0);
  ASSERT_OK(cc_join(srv, NULL));
  ASSERT_ERR(t.hs_result, -ETIMEDOUT);
  cc_close(fd);

  ASSERT_OK(cc_spawn(&srv, tls_echo_server, &t));
  t.hs_deadline_ms = 2000;
  fd = cc_tcp_connect("127.0.0.1", port, cc_deadline_in(2000));
  const char *req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(cc_write(fd, req, strlen(req), CC_FOREVER), (ssize_t)strlen(req));
  ASSERT_OK(cc_join(srv, NULL));
  ASSERT_ERR(t.hs_result, -CC_ETLS);
  cc_close(fd);
  cc_tls_ctx_free(t.ctx);
  cc_close(t.lfd);
  return 0;
}

TEST(tls_handshake_faults) {
  write_pem_files();
  cc_test_run(hs_fault_main, NULL);
  remove_pem_files();
}

/* ---- cc_serve over TLS ----------------------------------------------------------------
 */

typedef struct {
  int port;
  cc_tls_ctx_t *ctx;
  int hs_errors;
} tls_srv_t;

static void count_errors(int err, const char *what, void *arg) {
  tls_srv_t *st = arg;
  if (strstr(what, "TLS"))
    st->hs_errors++;
}

static intptr_t upper_echo(cc_stream_t *s, void *arg) {
  char line[128];
  ssize_t n;
  while ((n = cc_stream_read_line(s, line, sizeof line, cc_deadline_in(2000))) > 0) {
    for (ssize_t i = 0; i < n; i++)
      if (line[i] >= 'a' && line[i] <= 'z')
        line[i] = (char)(line[i] - 32);
    if (cc_stream_write(s, line, (size_t)n, CC_FOREVER) < 0 ||
        cc_stream_flush(s, cc_deadline_in(2000)) < 0)
      return -EPIPE;
  }
  return n;
}

static intptr_t tls_serve_task(void *arg) {
  tls_srv_t *st = arg;
  int lfd = listen_local(&st->port);
  cc_serve_opts_t o = {
      .tls = st->ctx, .handshake_timeout_ms = 2000, .on_error = count_errors};
  int r = cc_serve(lfd, upper_echo, st, &o);
  cc_close(lfd);
  return r == -ECANCELED ? 0 : r;
}

static intptr_t tls_client(void *arg) {
  tls_srv_t *st = arg;
  cc_tls_ctx_t *cctx = client_ctx(true, NULL);
  cc_stream_t *s;
  int r = cc_tls_open_connection(&s, "localhost", st->port, cctx, cc_deadline_in(5000));
  cc_tls_ctx_free(cctx);
  if (r < 0)
    return r;
  char back[64];
  for (int i = 0; i < 10; i++) {
    ASSERT_EQ(cc_stream_write(s, "hello tls\n", 10, CC_FOREVER), 10);
    ASSERT_OK(cc_stream_flush(s, cc_deadline_in(2000)));
    ASSERT_EQ(cc_stream_read_line(s, back, sizeof back, cc_deadline_in(2000)), 10);
    ASSERT_STR_EQ(back, "HELLO TLS\n");
  }
  cc_stream_free(s);
  return 10;
}

static intptr_t garbage_client(void *arg) {
  tls_srv_t *st = arg;
  int fd = cc_tcp_connect("127.0.0.1", st->port, cc_deadline_in(2000));
  cc_write(fd, "not tls at all\r\n\r\n", 18, CC_FOREVER);
  char c;
  cc_read(fd, &c, 1, cc_deadline_in(2000));
  cc_close(fd);
  return 0;
}

static intptr_t tls_serve_main(void *arg) {
  tls_srv_t st = {.ctx = server_ctx(NULL)};
  cc_task_t *srv;
  ASSERT_OK(cc_spawn(&srv, tls_serve_task, &st));
  while (st.port == 0)
    cc_sleep(1);
  cc_task_t *t[4];
  ASSERT_OK(cc_spawn(&t[0], tls_client, &st));
  ASSERT_OK(cc_spawn(&t[1], garbage_client, &st));
  ASSERT_OK(cc_spawn(&t[2], tls_client, &st));
  ASSERT_OK(cc_spawn(&t[3], garbage_client, &st));
  intptr_t res[4];
  ASSERT_OK(cc_gather(t, 4, res));
  ASSERT_EQ(res[0], 10);
  ASSERT_EQ(res[2], 10);
  ASSERT_EQ(st.hs_errors, 2);
  cc_cancel(srv);
  ASSERT_OK(cc_join(srv, NULL));
  cc_tls_ctx_free(st.ctx);
  return 0;
}

TEST(tls_serve) {
  write_pem_files();
  cc_test_run(tls_serve_main, NULL);
  remove_pem_files();
}

TEST(tls_ctx_errors) {
  cc_tls_ctx_t *c;
  cc_tls_opts_t o = {.server = true};
  ASSERT_ERR(cc_tls_ctx_new(&c, &o), -EINVAL); /* no certificate */
  o = (cc_tls_opts_t){
      .server = true, .cert_file = "/nonexistent.pem", .key_file = "/nonexistent.pem"};
  ASSERT_ERR(cc_tls_ctx_new(&c, &o), -CC_ETLS);
  ASSERT_NE(cc_tls_last_error()[0], '\0');
  o = (cc_tls_opts_t){.alpn = "h2,,x"};
  ASSERT_ERR(cc_tls_ctx_new(&c, &o), -EINVAL);
  ASSERT_OK(cc_tls_ctx_new(&c, NULL)); /* a verifying client with system CAs */
  ASSERT_NOT_NULL(cc_tls_ctx_native(c));
  cc_tls_ctx_free(c);
}

/* Writing to a peer that reset the connection is an error, never SIGPIPE
 * (the process would die: the test harness does not ignore it). */
static intptr_t reset_server(void *arg) {
  tsrv_t *t = arg;
  int fd = cc_tcp_accept(t->lfd, NULL, cc_deadline_in(5000));
  if (fd < 0)
    return fd;
  cc_stream_t *s;
  t->hs_result = cc_tls_accept(&s, fd, t->ctx, NULL, cc_deadline_in(5000));
  if (t->hs_result < 0) {
    cc_close(fd);
    return t->hs_result;
  }
  char c;
  cc_stream_read(s, &c, 1, cc_deadline_in(5000)); /* the client's go-ahead */
  cc_sleep(20);                                   /* ... and then its reset */
  static char junk[65536];
  ssize_t r = 0;
  for (int i = 0; i < 100 && r >= 0; i++) {
    r = cc_stream_write(s, junk, sizeof junk, cc_deadline_in(2000));
    if (r >= 0)
      r = cc_stream_flush(s, cc_deadline_in(2000));
  }
  cc_stream_free(s);
  return r;
}

static intptr_t tls_reset_main(void *arg) {
  int port;
  tsrv_t t = {.lfd = listen_local(&port), .ctx = server_ctx(NULL)};
  cc_task_t *srv;
  ASSERT_OK(cc_spawn(&srv, reset_server, &t));
  cc_tls_ctx_t *cctx = client_ctx(true, NULL);
  cc_stream_t *s;
  ASSERT_OK(cc_tls_open_connection(&s, "localhost", port, cctx, cc_deadline_in(5000)));
  ASSERT_EQ(cc_stream_write(s, "g", 1, CC_FOREVER), 1);
  ASSERT_OK(cc_stream_flush(s, CC_FOREVER));
  struct linger l = {1, 0};
  setsockopt(cc_stream_fd(s), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  cc_stream_free(s); /* RST */
  int r = cc_join(srv, NULL);
  ASSERT_TRUE(r == -EPIPE || r == -ECONNRESET);
  cc_tls_ctx_free(cctx);
  cc_tls_ctx_free(t.ctx);
  cc_close(t.lfd);
  return 0;
}

TEST(tls_write_to_reset_peer) {
  write_pem_files();
  cc_test_run(tls_reset_main, NULL);
  remove_pem_files();
}
