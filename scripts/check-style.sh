#!/usr/bin/env bash
# The house style, checked: C, CUDA and OpenCL sources match .clang-format, and every text file
# follows .editorconfig (final newline, no trailing blanks outside Markdown, no tabs in C).
# Prints the offending files and ends with `N passed, N failed`.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
format=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$format" ]; then echo "clang-format is not installed"; exit 1; fi
passed=0
failed=0
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files)
else
  mapfile -t files < <(find . -type f -not -path './build*' -not -path '*/node_modules/*' \
    -not -path './.git/*' | sed 's|^\./||')
fi
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  case "$f" in
  tests/*/golden/*) continue ;; # expected outputs, byte for byte
  esac
  problem=""
  case "$f" in
  *.c | *.h | *.cu | *.cuh)
    "$format" --dry-run -Werror "$f" >/dev/null 2>&1 || problem="not clang-formatted"
    grep -q $'\t' "$f" && problem="${problem:+$problem; }tabs"
    ;;
  esac
  case "$f" in
  *.c | *.h | *.cu | *.cuh | *.cl | *.txt | *.cmake | *.sh | *.py | *.scm | *.einc | *.json | *.in)
    [ -s "$f" ] && [ -n "$(tail -c1 "$f")" ] && problem="${problem:+$problem; }no final newline"
    grep -qE '[[:blank:]]+$' "$f" && problem="${problem:+$problem; }trailing blanks"
    ;;
  esac
  if [ -n "$problem" ]; then
    echo "$f: $problem"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
