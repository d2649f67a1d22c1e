list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/proc/process.c
  ${PROJECT_SOURCE_DIR}/src/proc/ipc.c
  ${PROJECT_SOURCE_DIR}/src/proc/pool.c
  ${PROJECT_SOURCE_DIR}/src/proc/pool_job.c
  ${PROJECT_SOURCE_DIR}/src/proc/pool_manager.c
  ${PROJECT_SOURCE_DIR}/src/proc/pool_worker.c)
