# cc_add_tests(<name> SOURCES <files...> [LIBS <libs...>] [TIMEOUT <s>] [LABELS <l...>])
#
# Builds one test executable from SOURCES and registers one ctest test per
# TEST(case) found in the first source file, named <name>.<case>. Each case
# runs in its own process (`<exe> <case>`), so one crash names its case and
# cannot take the others with it.
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
  list(GET T_SOURCES 0 first)
  file(STRINGS ${first} lines REGEX "^TEST\\(([A-Za-z0-9_]+)\\)")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${first})
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^TEST\\(([A-Za-z0-9_]+)\\).*" "\\1" case "${line}")
    add_test(NAME ${name}.${case} COMMAND ${exe} ${case})
    set_tests_properties(${name}.${case} PROPERTIES TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77
                         LABELS "${name};${T_LABELS}")
  endforeach()
endfunction()
