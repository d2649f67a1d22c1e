list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/sync/lock.c
  ${PROJECT_SOURCE_DIR}/src/sync/event.c
  ${PROJECT_SOURCE_DIR}/src/sync/sem.c
  ${PROJECT_SOURCE_DIR}/src/sync/cond.c
  ${PROJECT_SOURCE_DIR}/src/sync/queue.c)
