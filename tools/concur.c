/* The concur command: the showcase (`concur demo`) and the jobs concur is
 * for, built on the public API only. This file holds the command table and
 * the dispatcher; each subcommand lives in its own file, tools/<name>.c.
 *
 *   concur [demo]                      the showcase (also with no command)
 *   concur <command> [args...]         run a subcommand
 *   concur <command> --help            its usage, on stdout (exit 0)
 *   concur --help | help [command]     this list, on stdout (exit 0)
 *   concur --version
 * Bad usage (an unknown command or option, a surplus or malformed argument)
 * prints a message on stderr and exits with status 2.
 *
 * Adding a subcommand `foo`:
 *   1. write tools/foo.c defining `const concur_cmd_t concur_cmd_foo = {...}`
 *      (name, argument synopsis, one-line summary, --help text, main; see
 *      tools/cmd.h for the rules main() follows, and tools/sleepers.c for a
 *      short example);
 *   2. add one line `X(foo)` to CONCUR_COMMANDS below (in the order of
 *      `concur --help`).
 * That is all: tools/CMakeLists.txt reads the X(...) lines of this file and
 * compiles tools/<name>.c for each, and tools/test_cli.sh checks every
 * subcommand's --help and its rejection of an unknown option.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

/* clang-format off */
#define CONCUR_COMMANDS(X)                                                               \
  X(demo)                                                                                \
  X(sleepers)                                                                            \
  X(spawn)                                                                               \
  X(mine)                                                                                \
  X(fetch)                                                                               \
  X(serve)                                                                               \
  X(crawl)                                                                               \
  X(trace)
/* clang-format on */

#define DECLARE(name) extern const concur_cmd_t concur_cmd_##name;
CONCUR_COMMANDS(DECLARE)
#define ENTRY(name) &concur_cmd_##name,
static const concur_cmd_t *const commands[] = {CONCUR_COMMANDS(ENTRY)};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

const concur_cmd_t *concur_find_cmd(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

/* ---- helpers shared by the subcommands (cmd.h) --------------------------------- */

int concur_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "concur%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  const concur_cmd_t *c = cmd ? concur_find_cmd(cmd) : NULL;
  if (c)
    fprintf(stderr, "\nusage: concur %s%s%s\nTry 'concur %s --help'.\n", c->name,
            *c->args ? " " : "", c->args, c->name);
  else
    fprintf(stderr, "\nTry 'concur --help'.\n");
  return 2;
}

int concur_parse_count(const char *cmd, const char *what, const char *arg, long *out) {
  char *end;
  errno = 0;
  long n = strtol(arg, &end, 10);
  if (end == arg || *end || n <= 0 || errno)
    return concur_usage_error(cmd, "bad %s '%s' (a positive whole number)", what, arg);
  *out = n;
  return 0;
}

int concur_run(const char *cmd, cc_task_fn fn, void *arg, size_t stack) {
  cc_loop_opts_t o = {
      .stack_size = stack, .handle_signals = true, .dump_on_sigusr1 = true};
  int r = cc_run_opts(&o, fn, arg, NULL);
  if (r < 0)
    fprintf(stderr, "concur %s: %s\n", cmd, cc_strerror(r));
  return r < 0 ? 1 : 0;
}

/* ---- the dispatcher ---------------------------------------------------------------- */

static void print_usage(FILE *out) {
  fprintf(out,
          "usage: concur [COMMAND [ARGS...]]\n"
          "       concur COMMAND --help\n"
          "       concur --help | --version\n"
          "\n"
          "concur, Python's concurrency toolkit for C (asyncio-style coroutines, tasks,\n"
          "pools, networking), at work. With no command, runs the demo.\n"
          "\n"
          "commands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++) {
    char left[64];
    snprintf(left, sizeof left, "%s%s%s", commands[i]->name,
             *commands[i]->args ? " " : "", commands[i]->args);
    fprintf(out, "  %-26s %s\n", left, commands[i]->summary);
  }
  fprintf(out, "  %-26s %s\n", "help [COMMAND]", "this list, or the usage of COMMAND");
  fprintf(out, "\noptions:\n"
               "  -h, --help                 this list\n"
               "  --version                  the library's version\n"
               "\nExit status: 0 on success, 1 on failure, 2 on bad usage.\n");
}

static void print_cmd_help(const concur_cmd_t *c) {
  printf("usage: concur %s%s%s\n\n%s\n%s", c->name, *c->args ? " " : "", c->args,
         c->summary, *c->help ? "\n" : "");
  fputs(c->help, stdout);
}

static int is_help(const char *a) {
  return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    char *dargv[] = {"demo", NULL};
    return concur_find_cmd("demo")->main(1, dargv);
  }
  const char *cmd = argv[1];
  if (is_help(cmd) || strcmp(cmd, "help") == 0) {
    if (argc == 2) {
      print_usage(stdout);
      return 0;
    }
    if (strcmp(cmd, "help") == 0 && argc == 3) {
      const concur_cmd_t *c = concur_find_cmd(argv[2]);
      if (!c)
        return concur_usage_error(NULL, "no command '%s'", argv[2]);
      print_cmd_help(c);
      return 0;
    }
    return concur_usage_error(NULL, "unexpected argument '%s'", argv[2]);
  }
  if (strcmp(cmd, "--version") == 0) {
    if (argc > 2)
      return concur_usage_error(NULL, "unexpected argument '%s'", argv[2]);
    printf("concur %s\n", cc_version_string());
    return 0;
  }
  const concur_cmd_t *c = concur_find_cmd(cmd);
  if (!c)
    return concur_usage_error(NULL, "%s '%s'",
                              cmd[0] == '-' ? "unknown option" : "no command", cmd);
  for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (is_help(argv[i])) {
      print_cmd_help(c);
      return 0;
    }
  return c->main(argc - 1, argv + 1);
}
