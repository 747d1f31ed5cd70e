#!/usr/bin/env python3
"""PyTorch comparators for einc's CUDA benchmarks, timed on the same GPU in the same run.

GDN output projection (bf16, H=32 D=2048 and H=48 D=5120, T = 1 ... 32768): vLLM's native gated
RMSNorm (fp32 math, cast back, norm before gate) + F.linear, run eagerly, replayed from a CUDA
graph, torch.compile'd (compiled once per shape) and torch.compile'd inside a CUDA graph. Weights
rotate over enough copies to overflow L2, as in einc's benchmark. Permutes: einops.rearrange(...)
.contiguous() on the cases of einc's permute benchmark.

It reads the CSV files einc's benchmarks wrote (floors and einc's times) and prints one table per
benchmark with every time as a ratio to the floor measured by einc's benchmark in the same run.
Usage: bench_gdn_torch_cuda.py --einc-gdn gdn_einc.csv --einc-permute permute_einc.csv
"""
import argparse
import math
import statistics
import sys

import einops
import torch
import torch.nn.functional as F

EPS = 1e-6


def gated_norm(o, z, w):
    dtype = o.dtype
    x = o.float()
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS)
    x = x * w.float() * F.silu(z.float())
    return x.to(dtype)


def gdn_proj(o, z, w, W):
    return F.linear(gated_norm(o, z, w).flatten(-2), W)


def time_us(fn, iters, reps=7):
    """Median over `reps` of the mean time of `iters` calls, with CUDA events."""
    for _ in range(max(1, iters // 4)):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(iters):
            fn()
        b.record()
        b.synchronize()
        times.append(1000.0 * a.elapsed_time(b) / iters)
    return statistics.median(times)


def graph_of(calls):
    """A CUDA graph replaying `calls` (a list of thunks) once each."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            for c in calls:
                c()
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for c in calls:
            c()
    return g


def read_csv(path):
    meta, rows, header = {}, [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("#"):
                for kv in line[1:].split():
                    if "=" in kv:
                        k, v = kv.split("=", 1)
                        meta[k] = v
            elif header is None:
                header = line.replace(";", ",").split(",")
                sep = ";" if ";" in line else ","
            elif line:
                rows.append(dict(zip(header, line.split(sep))))
    return meta, rows


def bench_gdn(path):
    meta, rows = read_csv(path)
    torch._dynamo.config.cache_size_limit = 256
    if hasattr(torch._dynamo.config, "recompile_limit"):
        torch._dynamo.config.recompile_limit = 256
    torch._dynamo.config.automatic_dynamic_shapes = False
    compiled = torch.compile(gdn_proj, dynamic=False)
    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    dev = torch.device("cuda")
    print(f"\nGDN projection, bf16, microseconds and ratio to the floor (einc's, same run); "
          f"copy {float(meta['copy_bw']) / 1e12:.2f} TB/s, GEMM {float(meta['gemm_rate']) / 1e12:.0f} TFLOP/s")
    hdr = ("H", "D", "T", "floor", "einc graph", "torch eager", "torch graph", "compiled",
           "compiled graph", "best torch / einc")
    print("%3s %5s %6s %8s | %-16s %-16s %-16s %-16s %-16s | %s" % hdr)
    cache = {}
    for r in rows:
        H, D, T = int(r["H"]), int(r["D"]), int(r["T"])
        floor, einc = float(r["floor_us"]), float(r["einc_graph_us"])
        K, d = H * 128, 128
        key = (H, D)
        if key not in cache:
            n_rot = min(16, max(2, math.ceil(3 * l2 / (D * K * 2))))
            g = torch.Generator(device=dev).manual_seed(0)
            cache.clear()
            cache[key] = dict(
                n_rot=n_rot,
                W=[torch.randn(D, K, device=dev, dtype=torch.bfloat16, generator=g) * 0.02
                   for _ in range(n_rot)],
                w=torch.randn(d, device=dev, dtype=torch.bfloat16, generator=g),
                o=torch.randn(32768, H, d, device=dev, dtype=torch.bfloat16, generator=g) * 2,
                z=torch.randn(32768, H, d, device=dev, dtype=torch.bfloat16, generator=g) * 3)
        c = cache[key]
        n_rot = c["n_rot"]
        args = []
        for i in range(n_rot):
            t0 = i * T if (i + 1) * T <= 32768 else 0
            args.append((c["o"][t0:t0 + T], c["z"][t0:t0 + T], c["w"], c["W"][i]))
        iters = max(2 * n_rot, min(2000, int(20000 / floor)))
        iters = (iters + n_rot - 1) // n_rot * n_rot
        res, parts = {}, {}
        for name, fn in (("eager", gdn_proj), ("compiled", compiled)):
            calls = [lambda a=a, fn=fn: fn(*a) for a in args]
            k = [0]

            def step(calls=calls, k=k):
                calls[k[0] % n_rot]()
                k[0] += 1
            res[name] = time_us(step, iters)
            gr = graph_of(calls)
            res[name + " graph"] = time_us(gr.replay, max(1, iters // n_rot)) / n_rot
            del gr
        # Where the time goes: the compiled norm alone and F.linear alone, each in a graph.
        if T >= 1024:
            cnorm = torch.compile(gated_norm, dynamic=False)
            for name, fn, mk in (("norm", cnorm, lambda a: (a[0], a[1], a[2])),
                                 ("linear", F.linear, lambda a: (a[0].flatten(-2), a[3]))):
                calls = [lambda a=mk(a), fn=fn: fn(*a) for a in args]
                gr = graph_of(calls)
                parts[name] = time_us(gr.replay, max(1, iters // n_rot)) / n_rot
                del gr
        best = min(v for k, v in res.items())
        cells = [f"{v:8.1f} ({v / floor:4.2f}x)" for v in
                 (einc, res["eager"], res["eager graph"], res["compiled"], res["compiled graph"])]
        extra = (" | compiled norm %.1f, F.linear %.1f (graphs)" % (parts["norm"], parts["linear"])
                 if parts else "")
        print("%3d %5d %6d %8.1f | %s | %.2fx%s" % (H, D, T, floor, " ".join(cells), best / einc, extra))
        sys.stdout.flush()


def bench_permute(path):
    meta, rows = read_csv(path)
    bw = float(meta["copy_bw"])
    print(f"\nPermutes, bf16: einc kernels against einops.rearrange(...).contiguous(); "
          f"fraction of copy bandwidth {bw / 1e12:.2f} TB/s (einc's, same run)")
    print("%-13s %-28s %9s %9s %8s %8s" % ("case", "pattern", "einc us", "torch us", "einc", "torch"))
    for r in rows:
        shape = [int(s) for s in r["in_shape"].split(",")]
        kw = dict((k, int(v)) for k, v in (p.split("=") for p in r["kwargs"].split(",") if p))
        x = torch.randn(*shape, device="cuda", dtype=torch.bfloat16)
        pattern = r["pattern"]
        t = time_us(lambda: einops.rearrange(x, pattern, **kw).contiguous(), 10)
        nbytes, einc = float(r["bytes"]), float(r["einc_us"])
        print("%-13s %-28s %9.1f %9.1f %7.1f%% %7.1f%%" % (
            r["name"], pattern, einc, t, 100 * nbytes / (einc * 1e-6) / bw,
            100 * nbytes / (t * 1e-6) / bw))
        del x
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--einc-gdn")
    ap.add_argument("--einc-permute")
    a = ap.parse_args()
    print(f"torch {torch.__version__}, einops {einops.__version__}, {torch.cuda.get_device_name(0)}")
    if a.einc_permute:
        bench_permute(a.einc_permute)
    if a.einc_gdn:
        with torch.no_grad():
            bench_gdn(a.einc_gdn)


if __name__ == "__main__":
    main()
