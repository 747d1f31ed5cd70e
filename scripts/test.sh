#!/usr/bin/env bash
# Installs what is missing, builds einc twice (release with gcc; address/undefined sanitizers and
# the fuzzers with clang) and runs every test. The last line is ctest's summary.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$EINC_ROOT"

einc_build build
ctest --test-dir build --output-on-failure -j "$(nproc)" -LE sanitize-only

CC=clang CXX=clang++ einc_build build-asan -DEINC_SANITIZE=ON -DEINC_FUZZ=ON -DEINC_WITH_CUDA=OFF
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -LE slow
