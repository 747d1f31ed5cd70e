/*
 * `einc`: the command-line front of the pattern compiler. It only dispatches; each subcommand
 * lives in its own file and returns the exit status.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

static void einc__usage(FILE *f) {
  fprintf(f, "usage: einc <command> [options]\n"
             "\n"
             "commands:\n"
             "  explain PATTERN [--op OP] [--reduction R] [--shape 2,3,4] [NAME=VALUE ...]\n"
             "          [--dtype DT] [--emit plan|torch|numpy|c|cuda|opencl]\n"
             "                      show how a pattern compiles: its axes, plan and class\n"
             "  conformance FILE.jsonl [--via interp|c] [--verbose]\n"
             "                      run einops conformance cases\n"
             "  lint [--fix] [--diff] [--format text|json|sarif] PATH...\n"
             "                      find run-time pattern parsing in Python / C / C++ / CUDA\n"
             "  gen ...             generate C / CUDA / OpenCL from a pattern manifest\n"
             "  bench ...           run the benchmarks\n"
             "\n"
             "Run `einc <command> --help` for a command's options.\n");
}

/* `einc bench ...`: the benchmarks link the runtime and its GPU libraries, so they live in
 * einc-bench, installed beside einc; this hands the arguments over. */
static int einc__exec_bench(char **argv) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 16);
  if (n > 0) {
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) {
      strcpy(slash + 1, "einc-bench");
      argv[0] = self;
      execv(self, argv);
    }
  }
  argv[0] = "einc-bench";
  execvp("einc-bench", argv);
  fprintf(stderr, "einc: cannot run einc-bench (%s); it is built with the runtime\n",
          strerror(errno));
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    einc__usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    einc__usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "bench")) return einc__exec_bench(argv + 1);
  struct {
    const char *name;
    int (*run)(int, char **);
    const char *part;
  } commands[] = {
      {"explain", einc_cli_explain, NULL},
      {"conformance", einc_cli_conformance, "the conformance runner (needs json-c and OpenSSL)"},
      {"lint", einc_cli_lint, "the linters"},
      {"gen", einc_cli_gen, "the code generator"},
  };
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp(cmd, commands[i].name)) continue;
    if (!commands[i].run) {
      fprintf(stderr, "einc: this build of einc does not include %s (`einc %s`)\n",
              commands[i].part, cmd);
      return 2;
    }
    return commands[i].run(argc - 1, argv + 1);
  }
  fprintf(stderr, "einc: unknown command '%s'\n\n", cmd);
  einc__usage(stderr);
  return 2;
}
