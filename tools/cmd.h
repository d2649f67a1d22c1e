/* The concur command's subcommands: what each one provides to the table in
 * concur.c (see there for how to add one), and the helpers they share. */
#ifndef CONCUR_TOOLS_CMD_H
#define CONCUR_TOOLS_CMD_H

#include <stddef.h>

#include <concur.h>

/* One subcommand, defined in tools/<name>.c as `concur_cmd_<name>`. */
typedef struct concur_cmd {
  const char *name; /* as typed: `concur <name> ...` */
  const char *args; /* its arguments, for the usage line: "[N]", "[DIR] [--workers N]" */
  const char *summary; /* one line for `concur --help` */
  const char *help;    /* the body of `concur <name> --help`: what it does, each
                          argument and option, defaults; lines end in '\n' */
  /* Runs the subcommand; argv[0] is its name, argv[1..argc) its arguments
   * (never --help/-h: the dispatcher answers those). Must reject an unknown
   * option or a surplus argument with concur_usage_error() before doing
   * anything. Returns the exit status: 0, 1 on failure, 2 on bad usage. */
  int (*main)(int argc, char **argv);
} concur_cmd_t;

/* Prints "concur <cmd>: <message>", the usage line of `cmd` and a pointer
 * to --help on stderr; returns 2 (the exit status for bad usage). */
int concur_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a positive decimal count argument into *out; on a bad one reports
 * it with concur_usage_error() and returns 2, else returns 0. */
int concur_parse_count(const char *cmd, const char *what, const char *arg, long *out);

/* Runs fn(arg) under cc_run_opts() with the given coroutine stack size (0:
 * the default), SIGINT/SIGTERM handling and a task dump on SIGUSR1; reports
 * a failure as "concur <cmd>: <error>". Returns an exit status (0 or 1). */
int concur_run(const char *cmd, cc_task_fn fn, void *arg, size_t stack);

/* The table entry of `name`, or NULL. */
const concur_cmd_t *concur_find_cmd(const char *name);

#endif
