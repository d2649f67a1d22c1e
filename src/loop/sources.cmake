list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/loop/loop.c
  ${PROJECT_SOURCE_DIR}/src/loop/io.c
  ${PROJECT_SOURCE_DIR}/src/loop/tasks.c
  ${PROJECT_SOURCE_DIR}/src/loop/timer.c
  ${PROJECT_SOURCE_DIR}/src/loop/backend/epoll.c)
