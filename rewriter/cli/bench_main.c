/*
 * einc-bench: `einc bench` as a program of its own (the same code; see bench.c).
 */
int einc_cli_bench(int argc, char **argv);

int main(int argc, char **argv) {
  return einc_cli_bench(argc, argv);
}
