/* `concur fetch URL... [--parallel N] [-o DIR]`: concurrent downloads. */
#ifndef CONCUR_TOOLS_FETCH_H
#define CONCUR_TOOLS_FETCH_H

/* Fetches every URL of argv[1..] concurrently and prints a line per URL
 * (status, bytes, time, final URL). argv[0] is the command name ("fetch").
 * Returns the process exit status: 0, 1 when some URL failed, 2 on bad
 * arguments. */
int concur_fetch_main(int argc, char **argv);

#endif
