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
  ${PROJECT_SOURCE_DIR}/src/http/curl_loop.c
  ${PROJECT_SOURCE_DIR}/src/http/h1_client.c)
list(APPEND CC_PRIVATE_LIBS PkgConfig::CURL)
# The native HTTP/1.1 transport decodes bodies itself: zlib (gzip, deflate),
# libbrotlidec (br) and libzstd (zstd), the decoders libcurl links.
pkg_check_modules(CC_DECODERS QUIET IMPORTED_TARGET zlib libbrotlidec libzstd)
if(NOT CC_DECODERS_FOUND)
  message(FATAL_ERROR "concur's HTTP client needs zlib, libbrotlidec and libzstd with their "
                      "pkg-config files: apt-get install zlib1g-dev libbrotli-dev libzstd-dev")
endif()
list(APPEND CC_PRIVATE_LIBS PkgConfig::CC_DECODERS)
list(APPEND CC_PC_LIBS_PRIVATE -lz -lbrotlidec -lzstd)
# -lcurl rather than Requires.private: a static user then links the shared
# libcurl instead of every library that a static libcurl would pull in.
list(APPEND CC_PC_LIBS_PRIVATE -lcurl)
# ---- server --------------------------------------------------------------
# llhttp: Debian's node-llhttp ships its C sources, compiled into the build.
find_path(CC_LLHTTP_INCLUDE llhttp.h PATHS /usr/share/include/llhttp NO_DEFAULT_PATH)
find_file(CC_LLHTTP_C llhttp.c PATHS /usr/share/llhttp NO_DEFAULT_PATH)
if(NOT CC_LLHTTP_INCLUDE OR NOT CC_LLHTTP_C)
  message(FATAL_ERROR "llhttp not found: install Debian's node-llhttp "
                      "(/usr/share/llhttp/*.c, /usr/share/include/llhttp/llhttp.h)")
endif()
get_filename_component(CC_LLHTTP_DIR ${CC_LLHTTP_C} DIRECTORY)
set(CC_LLHTTP_SOURCES ${CC_LLHTTP_DIR}/llhttp.c ${CC_LLHTTP_DIR}/api.c ${CC_LLHTTP_DIR}/http.c)
# Generated code: not ours to warn about.
set_source_files_properties(${CC_LLHTTP_SOURCES} PROPERTIES COMPILE_OPTIONS "-w")
list(APPEND CC_SOURCES ${CC_LLHTTP_SOURCES}
  ${PROJECT_SOURCE_DIR}/src/http/server.c
  ${PROJECT_SOURCE_DIR}/src/http/h1.c
  ${PROJECT_SOURCE_DIR}/src/http/router.c
  ${PROJECT_SOURCE_DIR}/src/http/static.c
  ${PROJECT_SOURCE_DIR}/src/http/json.c
  ${PROJECT_SOURCE_DIR}/src/http/ws.c)
list(APPEND CC_PRIVATE_INCLUDES ${CC_LLHTTP_INCLUDE})
# jansson (JSON) through pkg-config; its plain name goes into the exported
# link interface, so users of the static library link it too.
find_package(PkgConfig REQUIRED)
pkg_check_modules(CC_JANSSON REQUIRED jansson)
list(APPEND CC_PRIVATE_INCLUDES ${CC_JANSSON_INCLUDE_DIRS})
list(APPEND CC_PRIVATE_LIBS ${CC_JANSSON_LIBRARIES})
list(APPEND CC_PC_REQUIRES_PRIVATE jansson)
# wslay (WebSocket framing): Debian's libwslay-dev ships no pkg-config file,
# so the header and the library are looked for directly.
find_path(CC_WSLAY_INCLUDE wslay/wslay.h)
find_library(CC_WSLAY_LIB wslay)
if(NOT CC_WSLAY_INCLUDE OR NOT CC_WSLAY_LIB)
  message(FATAL_ERROR "wslay not found: install Debian's libwslay-dev")
endif()
list(APPEND CC_PRIVATE_INCLUDES ${CC_WSLAY_INCLUDE})
list(APPEND CC_PRIVATE_LIBS wslay)
list(APPEND CC_PC_LIBS_PRIVATE -lwslay)
