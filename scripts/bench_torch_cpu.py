#!/usr/bin/python3
"""PyTorch's GDN output projection on the CPU, the comparator of `einc bench gdn --torch`.

vLLM's native path: RMSNormGated.forward_native with norm_before_gate=True (float32 math, the
result cast back to the activation dtype), the head merge "... h d -> ... (h d)" as a flatten,
then F.linear without bias. Prints one line per shape and token count:
    torch H D T projection_ms gemm_alone_ms
(median over repeats after a warm-up call, or with --best the fastest; all cores; with --cold
the caches are emptied before each timed call, otherwise each follows a call of its own). Run
with /usr/bin/python3 (Debian's python3-torch).
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}


def gated_rmsnorm(x, z, weight, eps):
    """RMSNormGated.forward_native, norm_before_gate=True, group_size=None."""
    dtype = x.dtype
    x = x.float()
    variance = x.pow(2).mean(dim=-1, keepdim=True)
    out = x * torch.rsqrt(variance + eps) * weight.float()
    out = out * F.silu(z.float())
    return out.to(dtype)


def projection(o, z, norm_weight, proj_weight, eps=1e-6):
    t, h, d = o.shape
    y = gated_rmsnorm(o.reshape(-1, d), z.reshape(-1, d), norm_weight, eps)
    x = y.reshape(t, h, d).flatten(-2)  # "... h d -> ... (h d)"
    return F.linear(x, proj_weight)


def evictor():
    """A function that reads a buffer twice the last-level cache (at least 64 MiB), so that no
    operand stays cached (--cold, as einc's side does: reads, leaving clean lines)."""
    try:
        llc = os.sysconf("SC_LEVEL3_CACHE_SIZE")
    except (ValueError, OSError):
        llc = 0
    buf = torch.ones(max(2 * llc, 64 << 20) // 4, dtype=torch.int32)
    return lambda: buf.sum()


def time_ms(fn, best=False, before=None):
    fn()  # warm-up
    samples, start = [], time.perf_counter()
    while len(samples) < 20 and (len(samples) < 3 or time.perf_counter() - start < 1.5):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        if samples[-1] > 2.0:  # long calls: one timed call is enough
            break
    return (min(samples) if best else statistics.median(samples)) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="bf16", choices=sorted(DTYPES))
    ap.add_argument("--shapes", default="16/1024,32/4096,48/5120,32/2048,64/3072,64/4096")
    ap.add_argument("--tokens", default="1,16,128,1024,8192")
    ap.add_argument("--best", action="store_true", help="the fastest call, not the median")
    ap.add_argument("--cold", action="store_true", help="empty the caches before each call")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    dtype, d = DTYPES[args.dtype], 128
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {args.dtype}",
          file=sys.stderr)
    before = evictor() if args.cold else None
    for shape in args.shapes.split(","):
        h, n = (int(v) for v in shape.split("/"))
        for t in (int(v) for v in args.tokens.split(",")):
            gen = torch.Generator().manual_seed(0)
            o = (torch.rand(t, h, d, generator=gen) * 4 - 2).to(dtype)
            z = (torch.rand(t, h, d, generator=gen) * 8 - 4).to(dtype)
            nw = (torch.rand(d, generator=gen) + 0.5).to(dtype)
            w = ((torch.rand(n, h * d, generator=gen) * 2 - 1) / (h * d) ** 0.5).to(dtype)
            x = o.flatten(-2).contiguous()
            try:
                with torch.inference_mode():
                    p = time_ms(lambda: projection(o, z, nw, w), args.best, before)
                    g = time_ms(lambda: F.linear(x, w), args.best, before)
            except RuntimeError as e:  # e.g. float16 matmul missing on this CPU build
                print(f"# {h}/{n} T={t}: {e}", file=sys.stderr)
                p = g = float("nan")
            print(f"torch {h} {n} {t} {p:.4f} {g:.4f}", flush=True)


if __name__ == "__main__":
    main()
