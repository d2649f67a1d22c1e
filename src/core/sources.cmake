list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/core/error.c
  ${PROJECT_SOURCE_DIR}/src/core/clock.c
  ${PROJECT_SOURCE_DIR}/src/core/trace.c
  ${PROJECT_SOURCE_DIR}/src/core/progress.c)
list(APPEND CC_PRIVATE_LIBS ${CMAKE_DL_LIBS})
