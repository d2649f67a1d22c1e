# Runs one libFuzzer target for a bounded time on a copy of its seed corpus
# (cmake -DEXE=... -DSEEDS=... -DWORK=... -DSECONDS=... -P CcFuzzRun.cmake);
# called by the fuzz.<name> ctest of cc_add_fuzzer() (CcFuzz.cmake).
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(GLOB seeds ${SEEDS}/*)
if(seeds)
  file(COPY ${seeds} DESTINATION ${WORK}/corpus)
endif()
execute_process(
  COMMAND ${EXE} -max_total_time=${SECONDS} -timeout=5 -rss_limit_mb=2048
          -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus
  WORKING_DIRECTORY ${WORK}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found ${WORK}/artifacts/*)
  message(FATAL_ERROR "${EXE} failed (${rc}); reproducer: ${found}\n"
                      "re-run it with: ${EXE} <file>")
endif()
