#!/usr/bin/env bash
# Installs what is missing, builds einc and runs the main job on the bundled samples: the
# pattern compiler's view of the GDN head merge, the linter's rewrite of the sample model, and the
# GDN output projection on every backend this machine has.
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
echo "== einc lint --diff samples/python: run-time patterns rewritten to native PyTorch"
$EINC lint --diff samples/python || true
echo
if [[ -f "$EINC_ROOT/../shared/conformance/cases.jsonl" ]]; then
  echo "== einc conformance: the public einops corpus, interpreter and generated C"
  $EINC conformance "$EINC_ROOT/../shared/conformance/cases.jsonl" | tail -1
  $EINC conformance "$EINC_ROOT/../shared/conformance/cases.jsonl" --via c | tail -1
  echo
fi
echo "== einc bench demo: the GDN output projection on every backend"
$EINC bench demo
