#!/usr/bin/env bash
# Installs what is missing, builds einc and runs the main job on the bundled samples.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$EINC_ROOT"
einc_build build
EINC=build/rewriter/einc
echo "== einc explain: the GDN head merge is a view"
$EINC explain "... h d -> ... (h d)" --shape 7,32,128
