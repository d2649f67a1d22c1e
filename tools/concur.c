/* The concur command. */
#include <stdio.h>
#include <string.h>

#include <concur.h>

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--version") == 0) {
    printf("concur %s\n", cc_version_string());
    return 0;
  }
  fprintf(stderr, "usage: concur [demo|--version]\n");
  return 2;
}
