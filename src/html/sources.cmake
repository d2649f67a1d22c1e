# html: parsing and extraction on myhtml/modest (libmodest-dev), link
# resolution on libcurl's URL API (libcurl4-openssl-dev), charsets through
# glibc's iconv.
find_package(PkgConfig REQUIRED)
pkg_check_modules(CC_HTML_CURL REQUIRED libcurl)
find_library(CC_MODEST_LIB modest REQUIRED)
list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/html/charset.c
  ${PROJECT_SOURCE_DIR}/src/html/decode.c
  ${PROJECT_SOURCE_DIR}/src/html/doc.c
  ${PROJECT_SOURCE_DIR}/src/html/scan.c
  ${PROJECT_SOURCE_DIR}/src/html/selector.c
  ${PROJECT_SOURCE_DIR}/src/html/tokenize.c
  ${PROJECT_SOURCE_DIR}/src/html/url.c
  ${PROJECT_SOURCE_DIR}/src/html/urlnorm.c)
list(APPEND CC_PRIVATE_INCLUDES ${CC_HTML_CURL_INCLUDE_DIRS})
list(APPEND CC_PRIVATE_LIBS ${CC_MODEST_LIB} ${CC_HTML_CURL_LINK_LIBRARIES} m)
list(APPEND CC_PC_LIBS_PRIVATE -lmodest -lm)
