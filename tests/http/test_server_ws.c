/* WebSockets with python3-websockets as the client (text, binary, ping,
 * close), and the listeners beyond plain IPv4: IPv6, a Unix socket, TLS
 * with ALPN http/1.1 (certificate made with the openssl command). */
#include "http_test.h"

#define PY "/usr/bin/python3"

static int h_ws(cc_req_t *r, void *arg) {
  cc_ws_t *ws;
  if (cc_ws_upgrade(r, &ws) < 0)
    return 0;
  for (;;) {
    int op;
    const void *data;
    ssize_t n = cc_ws_recv(ws, &op, &data, cc_deadline_in(10000));
    if (n < 0 || op == CC_WS_CLOSE)
      break;
    if (op == CC_WS_TEXT) {
      char *buf = malloc((size_t)n + 8);
      int k = sprintf(buf, "echo: %.*s", (int)n, (const char *)data);
      int e = cc_ws_send(ws, CC_WS_TEXT, buf, (size_t)k);
      free(buf);
      if (e < 0)
        break;
    } else if (op == CC_WS_BINARY) {
      unsigned char rev[512];
      for (ssize_t i = 0; i < n && i < 512; i++)
        rev[i] = ((const unsigned char *)data)[n - 1 - i];
      if (cc_ws_send(ws, CC_WS_BINARY, rev, (size_t)(n < 512 ? n : 512)) < 0)
        break;
    }
    if (n == 3 && memcmp(data, "bye", 3) == 0) {
      cc_ws_close(ws, 1000, "done");
      /* wait for the client's close reply */
      while (cc_ws_recv(ws, &op, &data, cc_deadline_in(5000)) >= 0 && op != CC_WS_CLOSE) {
      }
      break;
    }
  }
  cc_ws_free(ws);
  return 0;
}

static int h_plain(cc_req_t *r, void *arg) {
  return cc_resp_send(r, 200, "text/plain", "Hello, World!", 13);
}

static cc_server_t *mk(void) {
  cc_server_t *s;
  cc_server_opts_t o = {.loops = 1};
  ASSERT_OK(cc_server_new(&s, &o));
  ASSERT_OK(cc_server_route(s, "GET", "/ws", h_ws, NULL));
  ASSERT_OK(cc_server_route(s, "GET", "/plaintext", h_plain, NULL));
  return s;
}

TEST(websocket_python) {
  if (system(PY " -c 'import websockets' 2>/dev/null") != 0)
    SKIP("python3-websockets is not installed");
  tsrv_t t;
  tsrv_start(&t, mk());
  char cmd[4096], out[4096];
  snprintf(cmd, sizeof cmd,
           "PORT=%d " PY " - <<'EOF'\n"
           "import asyncio, os, websockets\n"
           "async def main():\n"
           "    async with websockets.connect('ws://127.0.0.1:%%s/ws' %% "
           "os.environ['PORT']) as ws:\n"
           "        await ws.send('hello')\n"
           "        assert await ws.recv() == 'echo: hello'\n"
           "        await ws.send(b'\\x01\\x02\\x03')\n"
           "        assert await ws.recv() == b'\\x03\\x02\\x01'\n"
           "        pong = await ws.ping(b'p')\n"
           "        await asyncio.wait_for(pong, 5)\n"
           "        big = 'x' * 70000\n"
           "        await ws.send(big)\n"
           "        r = await ws.recv(); assert r.startswith('echo: xxx'), r[:20]\n"
           "        await ws.send('bye')\n"
           "        assert await ws.recv() == 'echo: bye'\n"
           "        try:\n"
           "            await ws.recv()\n"
           "        except websockets.ConnectionClosedOK as e:\n"
           "            assert e.rcvd.code == 1000, e\n"
           "    async with websockets.connect('ws://127.0.0.1:%%s/ws' %% "
           "os.environ['PORT']) as ws:\n"
           "        await ws.send('again')\n"
           "        assert await ws.recv() == 'echo: again'\n"
           "    print('OK')\n"
           "asyncio.run(main())\n"
           "EOF\n",
           t.port);
  int rc = trun(cmd, out, sizeof out);
  if (rc != 0 || !strstr(out, "OK"))
    CC_TEST_FAIL("websockets client failed (%d): %s", rc, out);
  /* Not a handshake: 426. */
  char buf[4096];
  ASSERT_EQ(tget(t.port, "/ws", buf, sizeof buf), 426);
  ASSERT_EQ(tget(t.port, "/plaintext", buf, sizeof buf), 200);
  tsrv_stop(&t);
}

TEST(ipv6_and_unix) {
  cc_server_t *s = mk();
  int fd6 = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  bool have6 = fd6 >= 0 && bind(fd6, (struct sockaddr *)&a6, sizeof a6) == 0;
  if (fd6 >= 0)
    close(fd6);
  char upath[64];
  snprintf(upath, sizeof upath, "/tmp/cc_srv_%d.sock", (int)getpid());
  ASSERT_OK(cc_server_listen_unix(s, upath));
  int port6 = 0;
  if (have6) {
    ASSERT_OK(cc_server_listen(s, "::1", 0));
    port6 = cc_server_port(s); /* the first TCP listener */
  }
  tsrv_t t;
  tsrv_start(&t, s); /* and 127.0.0.1 */
  char cmd[512], out[4096];
  snprintf(cmd, sizeof cmd, "curl -s --unix-socket %s http://x/plaintext", upath);
  if (thave("curl")) {
    ASSERT_EQ(trun(cmd, out, sizeof out), 0);
    ASSERT_STR_EQ(out, "Hello, World!");
  }
  if (have6 && thave("curl")) {
    snprintf(cmd, sizeof cmd, "curl -s -g http://[::1]:%d/plaintext", port6);
    ASSERT_EQ(trun(cmd, out, sizeof out), 0);
    ASSERT_NOT_NULL(strstr(out, "Hello, World!"));
  }
  tsrv_stop(&t);
  ASSERT_EQ(access(upath, F_OK), -1); /* the socket file is removed */
}

TEST(tls_alpn) {
  if (!thave("openssl") || !thave("curl"))
    SKIP("openssl or curl is not installed");
  char dir[] = "/tmp/cc_tls_XXXXXX";
  ASSERT_NOT_NULL(mkdtemp(dir));
  char cmd[1024], out[8192], cert[128], key[128];
  snprintf(cert, sizeof cert, "%s/cert.pem", dir);
  snprintf(key, sizeof key, "%s/key.pem", dir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
           "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
           key, cert);
  ASSERT_EQ(system(cmd), 0);
  cc_tls_ctx_t *ctx;
  cc_tls_opts_t to = {
      .server = true, .cert_file = cert, .key_file = key, .alpn = "http/1.1"};
  ASSERT_OK(cc_tls_ctx_new(&ctx, &to));
  cc_server_t *s = mk();
  ASSERT_OK(cc_server_listen_tls(s, "127.0.0.1", 0, ctx));
  int tport = cc_server_port(s);
  tsrv_t t;
  tsrv_start(&t, s); /* plain too, on another port */
  snprintf(cmd, sizeof cmd,
           "curl -sv --cacert %s https://127.0.0.1:%d/plaintext "
           "https://127.0.0.1:%d/plaintext "
           "2>&1",
           cert, tport, tport);
  ASSERT_EQ(trun(cmd, out, sizeof out), 0);
  ASSERT_NOT_NULL(strstr(out, "ALPN: server accepted http/1.1"));
  ASSERT_NOT_NULL(strstr(out, "Hello, World!"));
  ASSERT_TRUE(strstr(out, "Re-using existing connection") ||
              strstr(out, "Reusing existing"));
  tsrv_stop(&t);
  cc_tls_ctx_free(ctx);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ASSERT_EQ(system(cmd), 0);
}

/* WebSockets over the TLS listener: python3-websockets with an ssl context
 * that trusts a self-signed certificate made here. */
TEST(websocket_tls) {
  if (!thave("openssl"))
    SKIP("openssl is not installed");
  if (system(PY " -c 'import websockets' 2>/dev/null") != 0)
    SKIP("python3-websockets is not installed");
  char dir[] = "/tmp/cc_wss_XXXXXX";
  ASSERT_NOT_NULL(mkdtemp(dir));
  char cmd[4096], out[4096], cert[128], key[128];
  snprintf(cert, sizeof cert, "%s/cert.pem", dir);
  snprintf(key, sizeof key, "%s/key.pem", dir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
           "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
           key, cert);
  ASSERT_EQ(system(cmd), 0);
  cc_tls_ctx_t *ctx;
  cc_tls_opts_t to = {
      .server = true, .cert_file = cert, .key_file = key, .alpn = "http/1.1"};
  ASSERT_OK(cc_tls_ctx_new(&ctx, &to));
  cc_server_t *s = mk();
  ASSERT_OK(cc_server_listen_tls(s, "127.0.0.1", 0, ctx));
  int tport = cc_server_port(s);
  tsrv_t t;
  tsrv_start(&t, s);
  snprintf(cmd, sizeof cmd,
           "PORT=%d CERT=%s " PY " - <<'EOF'\n"
           "import asyncio, os, ssl, websockets\n"
           "ctx = ssl.create_default_context(cafile=os.environ['CERT'])\n"
           "url = 'wss://127.0.0.1:%%s/ws' %% os.environ['PORT']\n"
           "async def main():\n"
           "    async with websockets.connect(url, ssl=ctx) as ws:\n"
           "        await ws.send('hello')\n"
           "        assert await ws.recv() == 'echo: hello'\n"
           "        await ws.send(b'\\x01\\x02\\x03')\n"
           "        assert await ws.recv() == b'\\x03\\x02\\x01'\n"
           "        pong = await ws.ping(b'p')\n"
           "        await asyncio.wait_for(pong, 5)\n"
           "        big = 'y' * 70000\n"
           "        await ws.send(big)\n"
           "        r = await ws.recv(); assert r == 'echo: ' + big, r[:20]\n"
           "        for i in range(20):\n"
           "            await ws.send('m%%d' %% i)\n"
           "        for i in range(20):\n"
           "            assert await ws.recv() == 'echo: m%%d' %% i\n"
           "        await ws.send('bye')\n"
           "        assert await ws.recv() == 'echo: bye'\n"
           "        try:\n"
           "            await ws.recv()\n"
           "        except websockets.ConnectionClosedOK as e:\n"
           "            assert e.rcvd.code == 1000, e\n"
           "    async with websockets.connect(url, ssl=ctx) as ws:\n"
           "        await ws.send('again')\n"
           "        assert await ws.recv() == 'echo: again'\n"
           "    print('OK')\n"
           "asyncio.run(main())\n"
           "EOF\n",
           tport, cert);
  ASSERT_EQ(trun(cmd, out, sizeof out), 0);
  ASSERT_NOT_NULL(strstr(out, "OK"));
  cc_server_stats_t st;
  for (int i = 0; i < 200; i++) {
    cc_server_stats(t.srv, &st);
    if (st.live_conns == 0)
      break;
    usleep(10000);
  }
  ASSERT_EQ(st.live_conns, 0u);
  tsrv_stop(&t);
  cc_tls_ctx_free(ctx);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ASSERT_EQ(system(cmd), 0);
}
