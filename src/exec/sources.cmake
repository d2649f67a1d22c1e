# exec: threads, thread-level sync primitives, futures, the thread pool.
list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/exec/thread.c
  ${PROJECT_SOURCE_DIR}/src/exec/tsync.c
  ${PROJECT_SOURCE_DIR}/src/exec/future.c
  ${PROJECT_SOURCE_DIR}/src/exec/thread_pool.c)
