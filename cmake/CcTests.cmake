# cc_add_tests(<name> SOURCES <files...> [LIBS <libs...>] [TIMEOUT <s>] [LABELS <l...>])
#
# Builds one test executable from SOURCES and registers one ctest test per
# TEST(case) found in any of the sources, named <name>.<case> (a case name
# must be unique within the executable). Each case runs in its own process
# (`<exe> <case>`), so one crash names its case and cannot take the others
# with it. After the case returns, tests/test_main.c checks that it leaked no
# file descriptor, child process or memory mapping (coroutine stacks, task
# slabs, shared memory: every mmap made by concur or the test is tracked,
# through the linker's --wrap below).
function(cc_add_tests name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  set(exe test_${name})
  add_executable(${exe} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/tests/test_main.c)
  target_include_directories(${exe} PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src ${CC_PRIVATE_INCLUDES})
  target_compile_definitions(${exe} PRIVATE _GNU_SOURCE)
  target_compile_options(${exe} PRIVATE ${CC_WARNINGS} -Wno-missing-prototypes)
  target_link_libraries(${exe} PRIVATE concur_static ${T_LIBS})
  target_link_options(${exe} PRIVATE -Wl,--wrap=mmap -Wl,--wrap=munmap)
  set(seen "")
  foreach(src IN LISTS T_SOURCES)
    get_filename_component(path ${src} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${path})
    file(STRINGS ${path} lines REGEX "^TEST\\(([A-Za-z0-9_]+)\\)")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^TEST\\(([A-Za-z0-9_]+)\\).*" "\\1" case "${line}")
      if(case IN_LIST seen)
        message(FATAL_ERROR "cc_add_tests(${name}): TEST(${case}) defined twice (${src})")
      endif()
      list(APPEND seen ${case})
      add_test(NAME ${name}.${case} COMMAND ${exe} ${case})
      set_tests_properties(${name}.${case} PROPERTIES TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77
                           LABELS "${name};${T_LABELS}")
    endforeach()
  endforeach()
endfunction()

# The harness checks itself: each leaks_* case of tests/test_harness*.c must be
# reported (the test passes on the report), clean_global_state must pass.
cc_add_tests(harness SOURCES ${CMAKE_CURRENT_LIST_DIR}/../tests/test_harness.c
             ${CMAKE_CURRENT_LIST_DIR}/../tests/test_harness_more.c LABELS tsan)
foreach(case leaks_mapping leaks_partly_unmapped_mapping leaks_loop)
  set_tests_properties(harness.${case} PROPERTIES PASS_REGULAR_EXPRESSION
                       "${case}: leaked [0-9]+ memory mapping")
endforeach()
set_tests_properties(harness.leaks_fd PROPERTIES PASS_REGULAR_EXPRESSION
                     "leaks_fd: leaked 2 file descriptor")

# Packaging: install into a temporary prefix and build a user's program
# against it four ways (tests/install/run.sh). Sanitized builds are left out:
# their libraries need the sanitizer runtime in every program that uses them.
if(NOT CC_SAN_FLAGS)
  add_test(NAME install.consumers
           COMMAND sh ${PROJECT_SOURCE_DIR}/tests/install/run.sh ${PROJECT_BINARY_DIR}
                   ${PROJECT_BINARY_DIR}/install-test ${CMAKE_C_COMPILER})
  set_tests_properties(install.consumers PROPERTIES LABELS install TIMEOUT 300)
endif()
