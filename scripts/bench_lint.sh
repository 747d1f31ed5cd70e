#!/usr/bin/env bash
# Benchmark of `einc lint` on a large generated Python tree against `grep -rl einops` on the
# same tree, measured in the same run (best of 5, warm cache). Prints both wall times and the
# ratio. Not a test: timings depend on the machine.
# usage: scripts/bench_lint.sh [EINC] [FILES] [PERCENT_WITH_EINOPS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EINC=${1:-$ROOT/build/rewriter/einc}
FILES=${2:-5000}
PCT=${3:-3}
TREE=$(mktemp -d /tmp/einc-bench-XXXXXX)
trap 'rm -rf "$TREE"' EXIT

# ~10 KB per file: plain model code, and in PCT% of the files a handful of einops calls.
python3 - "$TREE" "$FILES" "$PCT" <<'PY'
import os, random, sys
root, n, pct = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
plain = '''
class Block{i}(nn.Module):
    """A residual block ({i})."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc2(self.drop(torch.nn.functional.gelu(self.fc1(self.norm(x)))))
        return x + self.drop(y)

'''
uses = '''
def heads_{i}(x, h):
    q = rearrange(x, "b n (h d) -> b h n d", h=h)
    o = rearrange(q, "... h d -> ... (h d)")
    return reduce(o, "b n c -> b c", "mean")

'''
for k in range(n):
    d = os.path.join(root, "pkg%03d" % (k // 100), "sub%d" % (k % 7))
    os.makedirs(d, exist_ok=True)
    with_einops = random.randrange(100) < pct
    parts = ["import torch\nfrom torch import nn\n"]
    if with_einops:
        parts.append("from einops import rearrange, reduce\n")
    size = 0
    i = 0
    while size < 10000:
        chunk = (uses if with_einops and i % 8 == 3 else plain).format(i=i)
        parts.append(chunk)
        size += len(chunk)
        i += 1
    with open(os.path.join(d, "m%05d.py" % k), "w") as f:
        f.write("".join(parts))
PY
du -sh "$TREE" | awk '{print "tree: " $1}'
echo "files: $(find "$TREE" -name '*.py' | wc -l), with einops: $(grep -rl einops "$TREE" | wc -l)"

best() { # best CMD... : the lowest wall time of 5 runs, in seconds
  local b=999 t s e
  for _ in 1 2 3 4 5; do
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc)
    if (($(echo "$t < $b" | bc))); then b=$t; fi
  done
  echo "$b"
}
grep -rl einops "$TREE" >/dev/null # warm the page cache
mkdir "$TREE/empty"
g=$(best grep -rl einops "$TREE")
l=$(best "$EINC" lint --no-config "$TREE")
# What the binary costs before it reads a file (loading its shared libraries).
z=$(best "$EINC" lint --no-config "$TREE/empty")
printf 'grep -rl einops: %.3f s\neinc lint:       %.3f s  (%d threads)\nratio:           %.2fx grep\n' \
  "$g" "$l" "$(nproc)" "$(echo "$l / $g" | bc -l)"
printf 'einc start-up:   %.3f s  (lint of an empty folder)\nratio less start-up: %.2fx grep\n' \
  "$z" "$(echo "($l - $z) / $g" | bc -l)"
