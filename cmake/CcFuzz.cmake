# cc_add_fuzzer(<name> SOURCES <files...> [LIBS <libs...>])
#
# Builds the libFuzzer target fuzz_<name> (a LLVMFuzzerTestOneInput in
# SOURCES) against concur_static, with the library's private headers (src/)
# on the include path so a target may drive an internal parser. The seed
# corpus is fuzz/corpus/<name>/ (required, one input per file). Registers the
# ctest fuzz.<name> (label "fuzz"): it copies the seeds into the build
# directory (the source tree is never written), runs the target on that copy
# for CC_FUZZ_TIME seconds (-timeout=5 per input) and fails on any crash,
# sanitizer report, leak or hang; the reproducer is left in
# <build>/fuzz/run/<name>/artifacts/ (re-run it with `fuzz_<name> <file>`).
# That is with -DCONCUR_FUZZ=ON (the `fuzz` preset: clang-14, the library
# built with -fsanitize=fuzzer-no-link,address,undefined). In the ordinary
# builds with tests (release, asan; any compiler) the same sources are linked
# with fuzz/replay_main.c instead, and the ctest fuzz_replay.<name> runs the
# target once on every seed: the corpus is a regression suite everywhere.
set(CC_FUZZ_TIME 15 CACHE STRING "Seconds each fuzz.<name> ctest runs its target")
set(CC_FUZZ_RUNNER ${CMAKE_CURRENT_LIST_DIR}/CcFuzzRun.cmake)
if(NOT TARGET fuzzers)
  add_custom_target(fuzzers) # builds every fuzz target (the fuzz build preset's target)
endif()

function(cc_add_fuzzer name)
  cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
  set(corpus ${CMAKE_CURRENT_SOURCE_DIR}/corpus/${name})
  if(NOT IS_DIRECTORY ${corpus})
    message(FATAL_ERROR "cc_add_fuzzer(${name}): no seed corpus ${corpus}")
  endif()
  set(exe fuzz_${name})
  if(NOT CONCUR_FUZZ)
    add_executable(${exe} ${F_SOURCES} ${PROJECT_SOURCE_DIR}/fuzz/replay_main.c)
  else()
    add_executable(${exe} ${F_SOURCES})
  endif()
  target_include_directories(${exe} PRIVATE ${PROJECT_SOURCE_DIR}/src
                             ${CMAKE_CURRENT_SOURCE_DIR} ${CC_PRIVATE_INCLUDES})
  target_compile_definitions(${exe} PRIVATE _GNU_SOURCE)
  target_compile_options(${exe} PRIVATE ${CC_WARNINGS} -Wno-missing-prototypes)
  target_link_libraries(${exe} PRIVATE concur_static ${F_LIBS})
  add_dependencies(fuzzers ${exe})
  if(NOT CONCUR_FUZZ)
    add_test(NAME fuzz_replay.${name} COMMAND ${exe} ${corpus})
    set_tests_properties(fuzz_replay.${name} PROPERTIES LABELS "fuzz_replay;${name}" TIMEOUT 120)
    return()
  endif()
  target_compile_options(${exe} PRIVATE -fsanitize=fuzzer)
  target_link_options(${exe} PRIVATE -fsanitize=fuzzer)
  math(EXPR limit "${CC_FUZZ_TIME} + 120")
  add_test(NAME fuzz.${name}
           COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:${exe}> -DSEEDS=${corpus}
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/run/${name} -DSECONDS=${CC_FUZZ_TIME}
                   -P ${CC_FUZZ_RUNNER})
  set_tests_properties(fuzz.${name} PROPERTIES LABELS "fuzz;${name}" TIMEOUT ${limit})
endfunction()
