/* `concur trace FILE.json [-o timeline.svg] [--width PX]`: draws a trace
 * written with CONCUR_TRACE (or any Chrome trace-event file) as an SVG
 * timeline: a lane per thread and per worker process, spans coloured by
 * kind, a time axis and a legend. argv[0] is the command name ("trace").
 * Returns the exit status: 0, 1 on failure (unreadable or empty trace,
 * unwritable output), 2 on bad arguments. */
#ifndef CONCUR_TOOLS_CMD_TRACE_H
#define CONCUR_TOOLS_CMD_TRACE_H

int concur_trace_main(int argc, char **argv);

#endif
