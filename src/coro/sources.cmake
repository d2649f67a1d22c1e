# The context switch is chosen at configure time: hand-written assembly for
# x86_64 and aarch64, ucontext anywhere else (or when CONCUR_SWITCH=ucontext).
set(CC_ARCH ucontext)
if(NOT CONCUR_SWITCH STREQUAL "ucontext")
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    set(CC_ARCH x86_64)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
    set(CC_ARCH aarch64)
  elseif(CONCUR_SWITCH STREQUAL "asm")
    message(FATAL_ERROR "no assembly context switch for ${CMAKE_SYSTEM_PROCESSOR}")
  endif()
endif()
message(STATUS "concur: context switch: ${CC_ARCH}")
list(APPEND CC_PRIVATE_INCLUDES ${PROJECT_SOURCE_DIR}/src/coro/arch/${CC_ARCH})
list(APPEND CC_SOURCES
  ${PROJECT_SOURCE_DIR}/src/coro/stack.c
  ${PROJECT_SOURCE_DIR}/src/coro/arch/${CC_ARCH}/ctx.c)
if(NOT CC_ARCH STREQUAL "ucontext")
  list(APPEND CC_SOURCES ${PROJECT_SOURCE_DIR}/src/coro/arch/${CC_ARCH}/switch.S)
endif()
if(CONCUR_VALGRIND)
  list(APPEND CC_DEFINES CONCUR_VALGRIND)
endif()
