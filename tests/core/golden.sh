#!/usr/bin/env bash
# Golden tests for `einc explain`: each *.golden file holds commands (lines starting with "$ ")
# each followed by its expected output (stdout and stderr together) and the exit status
# ("[exit N]"), side by side. With UPDATE=1 the files are rewritten from the current output.
set -uo pipefail
einc=$(realpath "$1")
dir=$2
passed=0
failed=0
for file in "$dir"/*.golden; do
  actual=$(mktemp)
  while IFS= read -r line; do
    [[ "$line" == '$ '* ]] || continue
    cmd=${line#'$ '}
    printf '%s\n' "$line" >>"$actual"
    out=$(cd "$dir" && eval "EINC=$einc; ${cmd//einc /\$EINC }" 2>&1)
    status=$?
    printf '%s\n[exit %d]\n\n' "$out" "$status" >>"$actual"
  done <"$file"
  if [[ "${UPDATE:-}" == 1 ]]; then
    cp "$actual" "$file"
  fi
  if diff -u "$file" "$actual"; then
    passed=$((passed + 1))
  else
    echo "FAIL $(basename "$file")"
    failed=$((failed + 1))
  fi
  rm -f "$actual"
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
