#!/usr/bin/env bash
# A bounded libFuzzer run of the pattern front end and planner, seeded with every pattern of the
# conformance corpus (one seed per pattern and op).
set -euo pipefail
fuzzer=$1
cases=$2
work=$3
seconds=${4:-60}
mkdir -p "$work/seeds" "$work/corpus"
if [[ -f "$cases" ]]; then
  python3 - "$cases" "$work/seeds" <<'PY'
import json, sys, hashlib, os
ops = {"rearrange": 0, "reduce": 1, "repeat": 2, "einsum": 3, "pack": 4, "unpack": 5}
for line in open(sys.argv[1], encoding="utf-8"):
    case = json.loads(line)
    if case["op"] not in ops:
        continue
    shape = case["inputs"][0]["shape"] if case["inputs"] else []
    head = bytes([ops[case["op"]], len(shape)] + [min(d, 255) for d in shape])
    data = head + case["pattern"].encode("utf-8")
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(sys.argv[2], name), "wb") as f:
        f.write(data)
PY
fi
"$fuzzer" -max_total_time="$seconds" -max_len=512 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$work/corpus" "$work/seeds"
