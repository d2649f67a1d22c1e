/* Helpers shared by the benchmark programs: the clock, peak RSS, and the
 * size argument. Every program prints one line per workload:
 *   W<id> <name> impl=concur key=value ... */
#ifndef CC_BENCH_COMMON_H
#define CC_BENCH_COMMON_H

#include <stdint.h>

/* Seconds on the monotonic clock. */
double bench_now(void);
/* Peak resident set of this process in MiB (getrusage ru_maxrss). */
double bench_rss_mb(void);
/* Current resident set of this process in MiB (/proc/self/statm). */
double bench_rss_now_mb(void);
/* argv[i] as a count, or `dflt` when absent; exits on garbage. */
long long bench_arg(int argc, char **argv, int i, long long dflt);

#endif
