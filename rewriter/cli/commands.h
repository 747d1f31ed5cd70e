/*
 * The subcommands of the `einc` tool. Each takes the arguments after its name (argv[0] is the
 * subcommand) and returns the process exit status: 0 success, 1 findings or failures, 2 usage
 * or I/O error.
 */
#ifndef EINC_CLI_COMMANDS_H
#define EINC_CLI_COMMANDS_H

#include <stdio.h>

#include "einc/einc.h"

int einc_cli_explain(int argc, char **argv);

/* Subcommands that live with the part of einc they drive; a build without that part leaves
 * them undefined and `einc` says so. */
int einc_cli_conformance(int argc, char **argv) __attribute__((weak));
int einc_cli_lint(int argc, char **argv) __attribute__((weak));
int einc_cli_gen(int argc, char **argv) __attribute__((weak));

/* "2,3,4" or "2,?,4" (? = bound at run time) into a shape; false on a malformed list. */
bool einc_cli_parse_shape(const char *text, einc_shape *out);

#endif
