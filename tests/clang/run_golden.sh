#!/usr/bin/env bash
# Golden tests of the libclang scanner: each golden file holds the input, a marker line, and the
# expected text after `einc lint --fix`. Each input is linted in a temporary folder with a
# compile_commands.json; the fixed text must match, the manifest must compile with `einc gen`,
# `einc gen --scan` on the original must generate every function the fix calls, and a second run
# must find nothing left to fix.
# usage: run_golden.sh EINC GOLDEN_DIR INCLUDE_DIR WORK_DIR
set -euo pipefail
einc=$1 golden=$2 include=$3 work=$4
marker='// ---- after einc lint --fix ----'
fail=0
rm -rf "$work"
for g in "$golden"/*; do
  name=$(basename "$g")
  dir="$work/${name%.*}"
  mkdir -p "$dir"
  awk -v m="$marker" '$0 == m {exit} {print}' "$g" >"$dir/$name"
  awk -v m="$marker" 'found {print} $0 == m {found = 1}' "$g" >"$dir/expected"
  std=-std=c11
  case "$name" in *.cpp) std=-std=c++17 ;; *.cu) std="-x cuda --cuda-host-only -nocudainc -nocudalib" ;; esac
  printf '[{"directory": "%s", "command": "cc %s -I%s -c %s -o x.o", "file": "%s"}]\n' \
    "$dir" "$std" "$include" "$name" "$name" >"$dir/compile_commands.json"
  # einc gen --scan compiles the same calls without editing the source
  (cd "$dir" && "$einc" gen --scan "$name" -o scan --name scanned) || { echo "FAIL $name: gen --scan"; fail=1; }
  (cd "$dir" && "$einc" lint --fix "$name" >"$dir/lint.out" 2>&1) || true
  # Function names carry a hash of the call; the expected text may write 00000000 for it.
  sed -E 's/(einc_(rearrange|reduce|repeat)_)[0-9a-f]{8}/\100000000/g' "$dir/$name" >"$dir/got.norm"
  sed -E 's/(einc_(rearrange|reduce|repeat)_)[0-9a-f]{8}/\100000000/g' "$dir/expected" >"$dir/want.norm"
  if ! diff -u "$dir/want.norm" "$dir/got.norm"; then
    echo "FAIL $name: fixed text differs"; cat "$dir/lint.out"; fail=1; continue
  fi
  # names that appear in the expected text in full must match exactly
  for fn in $(grep -oE 'einc_(rearrange|reduce|repeat)_[0-9a-f]{8}' "$dir/expected" | grep -v _00000000 || true); do
    grep -q "$fn" "$dir/$name" || { echo "FAIL $name: $fn not generated"; fail=1; }
  done
  # every function the fix calls is in the manifest, and the manifest compiles
  for fn in $(grep -oE 'einc_(rearrange|reduce|repeat)_[0-9a-f]{8}' "$dir/$name" | sort -u); do
    grep -q "^\[$fn\]" "$dir/einc_patterns.einc" || { echo "FAIL $name: [$fn] not in the manifest"; fail=1; }
  done
  for fn in $(grep -oE 'einc_(rearrange|reduce|repeat)_[0-9a-f]{8}' "$dir/$name" | sort -u); do
    grep -q "^int $fn(" "$dir/scan/scanned.c" || { echo "FAIL $name: gen --scan lacks $fn"; fail=1; }
  done
  if [ -f "$dir/einc_patterns.einc" ]; then
    "$einc" gen -o "$dir/gen" "$dir/einc_patterns.einc" || { echo "FAIL $name: einc gen"; fail=1; }
  fi
  # a second run finds nothing left to fix
  (cd "$dir" && "$einc" lint --format json "$name" >"$dir/second.json" 2>&1) || true
  if grep -q '"fix":{' "$dir/second.json"; then
    echo "FAIL $name: a second run still finds fixable calls"; cat "$dir/second.json"; fail=1
  fi
  echo "ok   $name"
done
exit $fail
