#!/usr/bin/env bash
# --export-fixes: the YAML the scanner writes for each golden input, applied by
# clang-apply-replacements, gives the same text as `einc lint --fix` (up to the order of the
# #include lines and blank lines around them: clang's tooling sorts the include block it inserts
# into).
# usage: run_export.sh EINC GOLDEN_DIR INCLUDE_DIR WORK_DIR
set -euo pipefail
tool=$1 golden=$2 include=$3 work=$4
apply=$(command -v clang-apply-replacements-14 || command -v clang-apply-replacements || true)
if [ -z "$apply" ]; then echo "clang-apply-replacements not installed (clang-tools-14)"; exit 1; fi
marker='// ---- after einc lint --fix ----'
fail=0
rm -rf "$work"
for g in "$golden"/*.c; do
  name=$(basename "$g")
  dir="$work/${name%.*}"
  mkdir -p "$dir/src" "$dir/fixes"
  awk -v m="$marker" '$0 == m {exit} {print}' "$g" >"$dir/src/$name"
  awk -v m="$marker" 'found {print} $0 == m {found = 1}' "$g" >"$dir/expected"
  printf '[{"directory": "%s", "command": "cc -std=c11 -I%s -c %s -o x.o", "file": "%s"}]\n' \
    "$dir/src" "$include" "$name" "$name" >"$dir/src/compile_commands.json"
  status=0
  (cd "$dir/src" && "$tool" lint --export-fixes "$dir/fixes/fixes.yaml" "$name" >/dev/null) ||
    status=$?
  [ "$status" -le 1 ] # 1: findings remain, as they should: nothing was fixed in place
  grep -q 'MainSourceFile' "$dir/fixes/fixes.yaml"
  "$apply" "$dir/fixes"
  norm() { grep -v '^#include' "$1" | grep -v '^$' || true; grep '^#include' "$1" | sort; }
  if ! diff -u <(norm "$dir/expected") <(norm "$dir/src/$name"); then
    echo "FAIL $name"; cat "$dir/fixes/fixes.yaml"; fail=1
  else
    echo "ok   $name"
  fi
done
exit $fail
