/* `concur mine [dir] [--workers N]`: the data-mining part of the demo. */
#ifndef CONCUR_TOOLS_MINE_H
#define CONCUR_TOOLS_MINE_H

/* Counts word frequencies over the HTML files under `dir` (default: the
 * Python documentation of python3-doc) in the process pool, with the shared
 * progress display on stderr (a bar on a terminal, stats lines otherwise,
 * include/concur/progress.h), and prints the top 20 words, the number of
 * files, their size in MB and the time taken. argv[0] is the command name
 * ("mine"). Returns the process exit status: 0, 1 on failure, 2 on bad
 * arguments. */
int concur_mine_main(int argc, char **argv);

#endif
