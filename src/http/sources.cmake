# http: the shared HTTP vocabulary (http.c); the server and the client add
# their sources and libraries here.
list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/http/http.c)
