"""
Random einops conformance cases in the corpus schema (shared/conformance/README.md), computed by
the real einops: rearrange / reduce / repeat with random groupings, ellipses, unit and anonymous
axes, keyword lengths and dtypes, a third of them mutated into likely mistakes (a stray or
foreign character, a missing or doubled arrow, a duplicated or dropped axis, a wrong rank, a bad
keyword, an unknown reduction, nested or unbalanced parentheses), plus einsum, pack and unpack.

    python3 scripts/gen_conformance_cases.py N SEED > cases.jsonl   # needs einops and numpy

Each failure is classified into the corpus's error_kind by einops' own messages. Cases einc
handles differently on purpose (README: "Where einc differs from einops") are tagged `quirk`:
non-integer keyword lengths and reduce(..., "rearrange" | "repeat").
"""
import hashlib, json, random, re, sys, warnings
import numpy as np
import einops
from einops import rearrange, reduce, repeat, einsum, pack, unpack

R = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 400
NAMES = list("abcdefghijklmnopqrstuvwxyz") + ["hd", "x1", "y_2", "Q", "batch", "seq", "ch"]

def popcount(a):
    c = np.zeros_like(a)
    x = a.copy()
    while x.any():
        c += x & 1
        x >>= 1
    return c

def make_input(kind, shape, dtype, k):
    n = int(np.prod(shape)) if shape else 1
    i = np.arange(n, dtype=np.int64)
    if kind == "arange": v = i + 1000 * k
    elif kind == "small": v = ((i + 7 * k) % 13) - 6
    elif kind == "mod3": v = i % 3
    elif kind == "pow2": v = np.power(2.0, (i % 3) - 1)
    elif kind == "parity": v = popcount(i) % 2 == 0
    return v.astype(dtype).reshape(shape)

def num(x):
    x = float(x)
    if np.isnan(x): return "nan"
    if np.isinf(x): return "inf" if x > 0 else "-inf"
    return x

def out_dict(y):
    y = np.asarray(y)
    f = y.astype(np.float64)
    flat = f.reshape(-1)
    j = np.arange(flat.size)
    d = {"shape": list(y.shape), "dtype": str(y.dtype), "size": int(y.size), "sum": num(flat.sum()),
         "wsum": num((flat * ((j % 101) + 1)).sum()),
         "sha256_f64le": hashlib.sha256(np.ascontiguousarray(f).astype("<f8").tobytes()).hexdigest()}
    if y.size <= 512: d["flat"] = [num(v) for v in flat]
    return d

KINDS = [
    ("ValueError", r"not enough values to unpack", "no_arrow"),
    ("ValueError", r"too many values to unpack", "multiple_arrows"),
    (None, r"only one ellipsis for tensor", "bad_ellipsis_count"),
    (None, r"dots only inside ellipsis", "stray_dots"),
    (None, r"Unknown character", "unknown_char"),
    (None, r"one-level", "nested_parens"),
    (None, r"Brackets are not balanced", "unbalanced_close_paren"),
    (None, r"Imbalanced parentheses", "unbalanced_open_paren"),
    (None, r"duplicate dimension", "duplicate_axis"),
    (None, r"underscore", "underscore_name"),
    (None, r"Invalid axis identifier", "invalid_identifier"),
    (None, r"positive length", "anon_nonpositive"),
    (None, r"Ellipsis found in right side", "ellipsis_right_only"),
    (None, r"Ellipsis inside parenthesis in the left", "ellipsis_paren_left"),
    (None, r"Non-unitary anonymous axes are not supported in rearrange", "anon_in_rearrange"),
    (None, r"Identifiers only on one side", "identifiers_one_side"),
    (None, r"Unexpected identifiers on the left side of repeat", "repeat_left_only"),
    (None, r"Specify sizes for new axes", "repeat_missing_size"),
    (None, r"Unexpected identifiers on the right side of reduce", "reduce_right_only"),
    (None, r"Unknown reduction", "unknown_reduction"),
    (None, r"Invalid name for an axis", "invalid_kwarg_name"),
    (None, r"is not used in transform", "kwarg_unused"),
    (None, r"Could not infer sizes", "underdetermined"),
    (None, r"expected >=", "ndim_too_small"),
    (None, r"Wrong shape", "ndim_mismatch"),
    (None, r"can't divide", "not_divisible"),
    (None, r"Shape mismatch", "length_mismatch"),
    ("ZeroDivisionError", r"", "zero_length_kwarg"),
    ("NotImplementedError", r"reduce_mean|mean", "mean_on_non_float"),
    ("NotImplementedError", r"Singleton", "einsum_unit_axis"),
    ("NotImplementedError", r"Shape rearrangement", "einsum_composite_axis"),
    ("NotImplementedError", r"Anonymous axes", "einsum_anonymous_axis"),
    ("RuntimeError", r"Too many axes", "einsum_too_many_axes"),
    (None, r"Unknown axis .* on right side of einsum", "einsum_unknown_output_axis"),
    (None, r"Duplicates in axes names", "pack_duplicate_axis"),
    (None, r"No \*-axis", "pack_no_star"),
    (None, r"Invalid axis name", "pack_invalid_axis_name"),
]

STAGES = {k: "parse" for k in (
    "no_arrow multiple_arrows stray_dots bad_ellipsis_count unknown_char nested_parens "
    "unbalanced_close_paren unbalanced_open_paren duplicate_axis invalid_identifier "
    "underscore_name anon_nonpositive einsum_no_arrow einsum_unit_axis einsum_composite_axis "
    "einsum_anonymous_axis pack_duplicate_axis pack_no_star pack_invalid_axis_name").split()}
STAGES.update({k: "pattern" for k in (
    "ellipsis_right_only ellipsis_paren_left anon_in_rearrange identifiers_one_side "
    "repeat_left_only repeat_missing_size reduce_right_only unknown_reduction invalid_kwarg_name "
    "kwarg_unused underdetermined einsum_too_many_axes einsum_unknown_output_axis "
    "unpack_multiple_unknown").split()})
STAGES.update({k: "ndim" for k in "ndim_mismatch ndim_too_small pack_too_few_dims unpack_wrong_ndim".split()})
STAGES.update({k: "shape" for k in "length_mismatch not_divisible zero_length_kwarg unpack_bad_split".split()})
STAGES.update({"mean_on_non_float": "dtype", "backend_error": "backend"})


def classify(e, op):
    cls, msg = type(e).__name__, str(e)
    if isinstance(e, einops.EinopsError) or cls in ("ValueError", "ZeroDivisionError", "NotImplementedError", "RuntimeError"):
        if op in ("pack", "unpack") and isinstance(e, einops.EinopsError):
            if "received input of wrong dim" in msg: return "unpack_wrong_ndim"
            if "more than one -1" in msg: return "unpack_multiple_unknown"
            if "could not split axis" in msg: return "unpack_bad_split"
            if "assumes at least" in msg: return "pack_too_few_dims"
        if op == "einsum" and cls == "ValueError" and "must contain '->'" in msg:
            return "einsum_no_arrow"
        for c, rx, kind in KINDS:
            if (c is None or c == cls) and re.search(rx, msg):
                if c is None and not isinstance(e, einops.EinopsError): continue
                return kind
    return "backend_error" if not isinstance(e, einops.EinopsError) else "UNKNOWN"

def run(case):
    op, pat = case["op"], case["pattern"]
    xs = [make_input(i["kind"], i["shape"], i["dtype"], k) for k, i in enumerate(case["inputs"])]
    kw = case["axes_lengths"]
    with warnings.catch_warnings(record=True) as wl:
        warnings.simplefilter("always")
        try:
            if op == "rearrange": y = rearrange(xs[0], pat, **kw)
            elif op == "reduce": y = reduce(xs[0], pat, case["reduction"], **kw)
            elif op == "repeat": y = repeat(xs[0], pat, **kw)
            elif op == "einsum": y = einsum(*xs, pat)
            elif op == "pack":
                y, ps = pack(xs, pat)
                return {"ok": True, "out": out_dict(y), "packed_shapes": [list(p) for p in ps]}
            elif op == "unpack":
                ys = unpack(xs[0], [tuple(p) for p in case["packed_shapes"]], pat)
                return {"ok": True, "outs": [out_dict(v) for v in ys]}
        except Exception as e:
            return {"ok": False, "error": type(e).__name__, "is_einops_error": isinstance(e, einops.EinopsError),
                    "error_kind": classify(e, op), "message": str(e)}
    d = {"ok": True, "out": out_dict(y), "returned_type": type(y).__name__}
    if op in ("rearrange",): d["is_view"] = bool(np.shares_memory(np.asarray(y), xs[0]))
    ws = sorted(set(f"{w.category.__name__}: {w.message}" for w in wl))
    if ws: d["warnings"] = ws
    return d

def groups_to_str(groups):
    out = []
    for g in groups:
        if isinstance(g, list):
            out.append("(" + " ".join(g) + ")")
        else:
            out.append(g)
    return " ".join(out)

def random_grouping(axes):
    groups, i = [], 0
    while i < len(axes):
        k = R.choice([1, 1, 1, 2, 2, 3])
        g = axes[i:i + k]
        i += k
        if len(g) == 1 and R.random() < 0.85: groups.append(g[0])
        else: groups.append(list(g))
    return groups

def gen_valid(op):
    n = R.randint(1, 5)
    names = R.sample(NAMES, n)
    lens = {a: R.choice([1, 2, 2, 3, 3, 4, 5]) for a in names}
    ell = R.random() < 0.35
    ell_shape = [R.choice([1, 2, 3]) for _ in range(R.randint(0, 3))] if ell else []
    left_axes = names[:]
    if ell: left_axes.insert(R.randint(0, len(left_axes)), "...")
    lg = random_grouping(left_axes)
    # "..." may not be inside parens on the left
    lg2 = []
    for g in lg:
        if isinstance(g, list) and "..." in g:
            lg2.extend(g)
        else:
            lg2.append(g)
    lg = lg2
    if R.random() < 0.15: lg.insert(R.randint(0, len(lg)), R.choice(["1", "()"]))
    shape, kw = [], {}
    for g in lg:
        if g == "...": shape.extend(ell_shape)
        elif g in ("1", "()"): shape.append(1)
        elif isinstance(g, list):
            p = 1
            for a in g: p *= lens[a]
            shape.append(p)
            unknown = R.choice(g)
            for a in g:
                if a != unknown: kw[a] = lens[a]
        else:
            shape.append(lens[g])
            if R.random() < 0.1: kw[g] = lens[g]
    reduction = None
    if op == "rearrange":
        right = names[:]
        R.shuffle(right)
        if ell: right.insert(R.randint(0, len(right)), "...")
    elif op == "reduce":
        right = [a for a in names if R.random() < 0.5]
        R.shuffle(right)
        if ell and R.random() < 0.6: right.insert(R.randint(0, len(right)), "...")
        reduction = R.choice(["sum", "mean", "max", "min", "prod", "any", "all"])
        if R.random() < 0.15:
            lg.insert(R.randint(0, len(lg)), str(R.choice([2, 3])))  # anonymous, reduced
            shape = []
            for g in lg:
                if g == "...": shape.extend(ell_shape)
                elif g in ("1", "()"): shape.append(1)
                elif isinstance(g, str) and g.isdecimal(): shape.append(int(g))
                elif isinstance(g, list):
                    p = 1
                    for a in g: p *= lens[a]
                    shape.append(p)
                else: shape.append(lens[g])
    else:  # repeat
        right = names[:]
        R.shuffle(right)
        if ell: right.insert(R.randint(0, len(right)), "...")
        for _ in range(R.randint(1, 2)):
            if R.random() < 0.6:
                nn = R.choice([x for x in NAMES if x not in names and x not in kw] or ["zz"])
                kw[nn] = R.choice([1, 2, 3])
                right.insert(R.randint(0, len(right)), nn)
            else:
                right.insert(R.randint(0, len(right)), str(R.choice([2, 3])))
    rg = random_grouping(right)
    if R.random() < 0.15: rg.insert(R.randint(0, len(rg) if rg else 0), R.choice(["1", "()"]))
    sep = R.choice([" -> ", "->", " ->", "-> "])
    pattern = groups_to_str(lg) + sep + groups_to_str(rg)
    kinds = {"sum": "arange", "mean": "arange", "max": "arange", "min": "arange", "prod": "pow2", "any": "mod3", "all": "mod3"}
    kind = kinds.get(reduction, "arange")
    dtype = "float64"
    r = R.random()
    if r < 0.1: dtype = "float32"
    elif r < 0.2 and reduction != "prod": dtype = "int64"
    elif r < 0.25 and reduction in ("any", "all", None): dtype, kind = "bool", R.choice(["parity", "mod3"])
    case = {"op": op, "pattern": pattern, "inputs": [{"shape": shape, "kind": kind, "dtype": dtype}],
            "axes_lengths": kw}
    if reduction: case["reduction"] = reduction
    return case

def mutate(case):
    c = json.loads(json.dumps(case))
    p = c["pattern"]
    m = R.randrange(14)
    if m == 0 and len(p) > 2:
        i = R.randrange(len(p))
        c["pattern"] = p[:i] + R.choice([".", "!", "\t", "-", "(", ")", ">", "é", "0", ",", "*"]) + p[i:]
    elif m == 1:
        c["pattern"] = p.replace("->", "", 1) if R.random() < 0.5 else p + " -> a"
    elif m == 2:
        toks = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", p)
        if toks:
            t = R.choice(toks)
            c["pattern"] = p.replace(t, t + " " + t, 1)
    elif m == 3:
        toks = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", p.split("->")[1] if "->" in p else "")
        if toks:
            t = R.choice(toks)
            l, r = p.split("->", 1)
            c["pattern"] = l + "->" + re.sub(r"\b%s\b" % re.escape(t), "", r, count=1)
    elif m == 4 and c["inputs"][0]["shape"]:
        s = c["inputs"][0]["shape"]
        if R.random() < 0.5: s.pop(R.randrange(len(s)))
        else: s.insert(R.randrange(len(s) + 1), R.choice([1, 2, 3]))
    elif m == 5 and c["axes_lengths"]:
        k = R.choice(list(c["axes_lengths"]))
        c["axes_lengths"][k] = R.choice([0, -1, 7, 5, 2.0, True])
    elif m == 6:
        c["axes_lengths"][R.choice(["unused", "_bad", "zz", "2x", "class"])] = 2
    elif m == 7 and c["op"] == "reduce":
        c["reduction"] = R.choice(["median", "rearrange", "repeat", "Sum", ""])
    elif m == 8:
        c["pattern"] = p.replace("->", "-> ... ", 1) if "..." not in p else p.replace("...", ".. .", 1)
    elif m == 9:
        c["pattern"] = p.replace("->", "-> 5", 1)
    elif m == 10:
        c["pattern"] = "(" + p.split("->")[0].strip() + ")" + " ->" + p.split("->", 1)[1] if "->" in p else p
    elif m == 11:
        c["pattern"] = p.replace("->", "-> (", 1)
    elif m == 12:
        c["pattern"] = p.replace("(", "((", 1) if "(" in p else "((a)) -> a"
    elif m == 13 and c["inputs"][0]["shape"]:
        s = c["inputs"][0]["shape"]
        i = R.randrange(len(s))
        s[i] = s[i] + 1
    return c

def gen_einsum():
    n_ops = R.randint(1, 3)
    names = R.sample(list("abcdefghij"), R.randint(1, 5))
    lens = {a: R.randint(1, 4) for a in names}
    ops, shapes = [], []
    use_ell = R.random() < 0.3
    ell = [R.randint(1, 3) for _ in range(R.randint(0, 2))]
    for _ in range(n_ops):
        ax = [a for a in names if R.random() < 0.6] or [names[0]]
        R.shuffle(ax)
        sh = [lens[a] for a in ax]
        if use_ell:
            pos = R.randint(0, len(ax))
            ax = ax[:pos] + ["..."] + ax[pos:]
            sh = sh[:pos] + ell + sh[pos:]
        ops.append(" ".join(ax)); shapes.append(sh)
    used = sorted(set(a for o in ops for a in o.split() if a != "..."))
    out = [a for a in used if R.random() < 0.5]
    R.shuffle(out)
    if use_ell: out.insert(R.randint(0, len(out)), "...")
    pat = ", ".join(ops) + " -> " + " ".join(out)
    if R.random() < 0.2:
        pat = R.choice([pat.replace("->", ""), pat + " x", pat.replace(",", " (", 1) + ")", pat.replace("->", "-> 2")])
    return {"op": "einsum", "pattern": pat, "inputs": [{"shape": s, "kind": "small", "dtype": "float64"} for s in shapes], "axes_lengths": {}}

def gen_pack():
    pre = R.sample(list("abcdef"), R.randint(0, 2))
    post = R.sample([x for x in "ghijk"], R.randint(0, 2))
    pre_l = [R.randint(1, 3) for _ in pre]
    post_l = [R.randint(1, 3) for _ in post]
    pat = " ".join(pre + ["*"] + post)
    if R.random() < 0.15: pat = R.choice([pat.replace("*", "").strip() or "a", pat + " " + (pre[0] if pre else "*"), pat + " 2x"])
    ins = []
    for k in range(R.randint(1, 3)):
        mid = [R.randint(1, 3) for _ in range(R.randint(0, 2))]
        sh = pre_l + mid + post_l
        if R.random() < 0.08 and sh: sh[0] += 1
        ins.append({"shape": sh, "kind": "arange", "dtype": "float64"})
    return {"op": "pack", "pattern": pat, "inputs": ins, "axes_lengths": {}}

def gen_unpack():
    pre = R.sample(list("abcdef"), R.randint(0, 2))
    post = R.sample(list("ghijk"), R.randint(0, 2))
    pat = " ".join(pre + ["*"] + post)
    ps = [[R.randint(1, 3) for _ in range(R.randint(0, 2))] for _ in range(R.randint(1, 3))]
    tot = sum(int(np.prod(p)) for p in ps)
    if R.random() < 0.3:
        i = R.randrange(len(ps))
        if ps[i]: ps[i][R.randrange(len(ps[i]))] = -1
    if R.random() < 0.1: tot += 1
    sh = [R.randint(1, 3) for _ in pre] + [tot] + [R.randint(1, 3) for _ in post]
    if R.random() < 0.08: sh.append(2)
    return {"op": "unpack", "pattern": pat, "inputs": [{"shape": sh, "kind": "arange", "dtype": "float64"}], "axes_lengths": {}, "packed_shapes": ps}

counts = {}
seen = set()
out = []
while len(out) < N:
    r = R.random()
    if r < 0.35: c = gen_valid("rearrange")
    elif r < 0.6: c = gen_valid("reduce")
    elif r < 0.75: c = gen_valid("repeat")
    elif r < 0.83: c = gen_einsum()
    elif r < 0.9: c = gen_pack()
    else: c = gen_unpack()
    if c["op"] in ("rearrange", "reduce", "repeat") and R.random() < 0.3: c = mutate(c)
    key = json.dumps(c, sort_keys=True)
    if key in seen: continue
    seen.add(key)
    try:
        c["expect"] = run(c)
    except Exception as e:
        continue
    counts[c["op"]] = counts.get(c["op"], 0) + 1
    c["id"] = "%s-r%04d" % (c["op"], counts[c["op"]])
    c["source"] = "custom"
    c["tags"] = ["random"] + (["invalid"] if not c["expect"]["ok"] else [])
    if c.get("reduction") in ("rearrange", "repeat") or any(
            type(v) is not int for v in c["axes_lengths"].values()):
        c["tags"].append("quirk")
    if not c["expect"]["ok"]:
        c["expect"]["error_stage"] = STAGES.get(c["expect"]["error_kind"], "unknown")
    out.append(c)
for c in out:
    print(json.dumps(c))
