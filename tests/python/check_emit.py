"""Evaluates the expressions emit_cases wrote against the conformance corpus's einops outputs.

usage: check_emit.py CASES.jsonl EXPRS.jsonl

Every case has four expressions: torch and numpy, each emitted once from a plan that knows the
input shapes and once from a plan that knows no rank (as in the linter). Torch expressions run on
torch tensors, numpy ones on numpy arrays, built as the corpus README says; the output's shape,
dtype and sha256 (float64, C order) must match what einops gave. Skipped: cases the emitter
declines, differences the emitter itself marks as an unsafe fix, and quirk-tagged cases.
Prints `N passed, N failed, N skipped`; exits 1 when anything failed.
"""
import hashlib
import json
import sys

import numpy as np
import torch


def make_input(spec, k):
    shape = spec["shape"]
    n = int(np.prod(shape, dtype=np.int64))
    i = np.arange(n, dtype=np.int64)
    kind = spec["kind"]
    if kind == "arange":
        v = i + 1000 * k
    elif kind == "small":
        v = ((i + 7 * k) % 13) - 6
    elif kind == "mod3":
        v = i % 3
    elif kind == "pow2":
        v = 2.0 ** ((i % 3) - 1)
    elif kind == "parity":
        v = np.array([bin(j).count("1") % 2 == 0 for j in range(n)], dtype=bool)
    else:
        raise ValueError(kind)
    return v.astype(spec.get("dtype", "float64")).reshape(shape)


def digest(out):
    a = np.ascontiguousarray(np.asarray(out, dtype=np.float64))
    return hashlib.sha256(a.astype("<f8").tobytes()).hexdigest()


def check(case, expr, target):
    arrays = [make_input(s, k) for k, s in enumerate(case["inputs"])]
    if target == "torch":
        values = [torch.from_numpy(a.copy()) for a in arrays]
    else:
        values = arrays
    env = {"torch": torch, "np": np}
    if len(values) == 1:
        env["x"] = values[0]
    for k, v in enumerate(values):
        env["x%d" % k] = v
    out = eval(expr, env)
    if "parsed" in case["expect"]:  # parse_shape: a dict of lengths
        parsed = case["expect"]["parsed"]
        if out != parsed or any(type(v) is not int for v in out.values()):
            return "%r, einops %r" % (out, parsed)
        return None
    if target == "torch":
        out = out.numpy()
    out = np.asarray(out)
    want = case["expect"]["out"]
    if list(out.shape) != want["shape"]:
        return "shape %s, einops %s" % (list(out.shape), want["shape"])
    if str(out.dtype) != want["dtype"]:
        return "dtype %s, einops %s" % (out.dtype, want["dtype"])
    if digest(out) != want["sha256_f64le"]:
        # The digest sees the sign of zero; a product may give -0.0 where numpy gave 0.0 (torch's
        # einsum does, in a different summation order), so compare with zeros made positive too.
        if digest(np.asarray(out, dtype=np.float64) + 0.0) == want["sha256_f64le"]:
            return None
        flat = want.get("flat")
        if flat is not None and np.array_equal(
                np.asarray(out, dtype=np.float64).ravel(), np.asarray(flat, dtype=np.float64)):
            return None
        return "values differ"
    return None


def main():
    cases = {}
    with open(sys.argv[1]) as f:
        for line in f:
            c = json.loads(line)
            cases[c["id"]] = c
    passed = failed = skipped = 0
    with open(sys.argv[2]) as f:
        for line in f:
            rec = json.loads(line)
            case = cases[rec["id"]]
            quirk = "quirk" in case.get("tags", [])
            for key in ("torch", "numpy", "torch_any_rank", "numpy_any_rank"):
                target = key.split("_")[0]
                expr = rec.get(key)
                if expr is None:
                    skipped += 1
                    print("skip %s [%s]: %s" % (rec["id"], key, rec.get("why_" + key, "")))
                    continue
                try:
                    problem = check(case, expr, target)
                except Exception as e:  # the expression itself raised
                    problem = "raised %s: %s" % (type(e).__name__, str(e).splitlines()[0])
                if problem is None:
                    passed += 1
                elif rec.get("unsafe_" + key):
                    skipped += 1
                    print("skip %s [%s] (unsafe fix, %s): %s" % (rec["id"], key,
                                                               rec["unsafe_" + key], problem))
                elif quirk:
                    skipped += 1
                    print("skip %s [%s] (quirk): %s" % (rec["id"], key, problem))
                else:
                    failed += 1
                    print("FAIL %s [%s] %r: %s\n     %s" % (rec["id"], key, case["pattern"],
                                                          problem, expr))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
