# Tracing: a run written as a Chrome trace-event file.
cc_example(trace_spans ARGS ${CMAKE_CURRENT_BINARY_DIR}/trace_spans.json TIMEOUT 30)
