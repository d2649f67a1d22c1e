# http: the shared HTTP vocabulary (http.c); the server and the client add
# their sources and libraries here.
list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/http/http.c)

# ---- client: libcurl's multi-socket interface driven by the loop ----------
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(CURL QUIET IMPORTED_TARGET libcurl>=7.73)
endif()
if(NOT CURL_FOUND)
  message(FATAL_ERROR "concur's HTTP client needs libcurl >= 7.73 with its pkg-config file: "
                      "apt-get install libcurl4-openssl-dev pkg-config")
endif()
list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/http/client.c
  ${PROJECT_SOURCE_DIR}/src/http/curl_loop.c)
list(APPEND CC_PRIVATE_LIBS PkgConfig::CURL)
# -lcurl rather than Requires.private: a static user then links the shared
# libcurl instead of every library that a static libcurl would pull in.
list(APPEND CC_PC_LIBS_PRIVATE -lcurl)
