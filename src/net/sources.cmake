# net: fd waiting, read/write wrappers, TCP/Unix sockets, DNS, buffered
# streams, TLS (OpenSSL) and the connection server.
find_package(OpenSSL REQUIRED)
list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/net/io.c
  ${PROJECT_SOURCE_DIR}/src/net/addr.c
  ${PROJECT_SOURCE_DIR}/src/net/tcp.c
  ${PROJECT_SOURCE_DIR}/src/net/unix.c
  ${PROJECT_SOURCE_DIR}/src/net/dns.c
  ${PROJECT_SOURCE_DIR}/src/net/stream.c
  ${PROJECT_SOURCE_DIR}/src/net/tls.c
  ${PROJECT_SOURCE_DIR}/src/net/serve.c)
list(APPEND CC_PRIVATE_LIBS OpenSSL::SSL OpenSSL::Crypto)
