#!/usr/bin/env bash
# The C sample end to end: install einc into a temporary prefix, build samples/c against it as
# written, run `einc lint --fix` on a copy, rebuild (now with einc_generate()), and check that
# both binaries print the same, that the fixed one has no pattern compiler (nm) and none of the
# pattern strings (strings), and that a second lint run finds nothing.
# usage: sample_c.sh EINC BUILD_DIR SAMPLE_DIR WORK_DIR
set -euo pipefail
einc=$1 build=$2 sample=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
configure() { cmake -S "$1" -B "$1/build" "${gen[@]}" -DCMAKE_PREFIX_PATH="$work/prefix" \
                -DCMAKE_BUILD_TYPE=Release >"$1/configure.log" 2>&1 || { cat "$1/configure.log"; exit 1; }; }

cp -r "$sample" "$work/orig"
rm -rf "$work/orig/build" "$work/orig/einc_patterns.einc"
cp -r "$work/orig" "$work/fixed"

configure "$work/orig"
cmake --build "$work/orig/build" >/dev/null
"$work/orig/build/image_ops" >"$work/orig.out"

# lint reads the flags from build/compile_commands.json
configure "$work/fixed"
(cd "$work/fixed" && "$einc" lint --fix image_ops.c) | tee "$work/lint.out"
grep -q "einc_patterns.h" "$work/fixed/image_ops.c"
if grep -q "einc_rt_rearrange\|einc_rt_reduce\|einc_rt_repeat" "$work/fixed/image_ops.c"; then
  echo "FAIL: calls of the run-time API are left"; exit 1
fi
(cd "$work/fixed" && "$einc" lint image_ops.c) || { echo "FAIL: a second lint run finds something"; exit 1; }

configure "$work/fixed"
cmake --build "$work/fixed/build" >/dev/null
test -f "$work/fixed/build/einc_generated/einc_patterns.c"
"$work/fixed/build/image_ops" >"$work/fixed.out"

diff -u "$work/orig.out" "$work/fixed.out" || { echo "FAIL: outputs differ"; exit 1; }
echo "same output:"; cat "$work/fixed.out"

bin="$work/fixed/build/image_ops"
nm "$bin" >"$work/fixed.nm"
nm "$work/orig/build/image_ops" >"$work/orig.nm"
if grep -E ' (einc_plan_new|einc_plan_execute|einc__parse_side|einc_rt_rearrange)$' "$work/fixed.nm"; then
  echo "FAIL: the fixed binary still holds the pattern compiler"; exit 1
fi
grep -q ' einc_plan_new$' "$work/orig.nm" || { echo "FAIL: nm check cannot see symbols"; exit 1; }
strings "$work/orig/build/image_ops" >"$work/orig.strings"
strings "$bin" >"$work/fixed.strings"
for p in "b c h w -> b h w c" "b c (h 2) (w 2) -> b c h w" "b c h w -> b c (h 2) (w 2)" \
         "b n (h d) -> b h n d" "b h n d -> b n (h d)"; do
  grep -qF "$p" "$work/orig.strings" || { echo "FAIL: '$p' not in the original"; exit 1; }
  if grep -qF "$p" "$work/fixed.strings"; then echo "FAIL: '$p' is in the fixed binary"; exit 1; fi
done
echo "ok: no pattern compiler and no pattern strings in the fixed binary"
