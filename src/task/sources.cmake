list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/task/task.c
  ${PROJECT_SOURCE_DIR}/src/task/run.c
  ${PROJECT_SOURCE_DIR}/src/task/group.c
  ${PROJECT_SOURCE_DIR}/src/task/wait.c)
