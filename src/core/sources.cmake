list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/core/error.c
  ${PROJECT_SOURCE_DIR}/src/core/clock.c)
