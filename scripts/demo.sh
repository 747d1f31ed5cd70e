#!/usr/bin/env bash
# Installs what is missing, builds einc and runs the main job on the bundled samples.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$EINC_ROOT"
einc_build build
EINC=build/rewriter/einc

echo "== einc explain: the GDN head merge compiles to a view (no data moves)"
$EINC explain "... h d -> ... (h d)" --shape 7,32,128
echo
echo "== einc explain: a malformed pattern"
$EINC explain "b (h d) -> b h d" --shape 4,7 h=3 || true
echo
if [[ -f "$EINC_ROOT/../shared/conformance/cases.jsonl" ]]; then
  echo "== einc conformance: the public einops corpus"
  $EINC conformance "$EINC_ROOT/../shared/conformance/cases.jsonl" | tail -1
fi
