"""Attention and pooling helpers using a spread of einops patterns."""
import einops as E
import torch
from einops import reduce, repeat
from einops.layers.torch import Rearrange


def split_heads(qkv: torch.Tensor, heads: int):
    q, k, v = qkv.chunk(3, dim=-1)
    q = E.rearrange(q, "b n (h d) -> b h n d", h=heads)
    k = E.rearrange(k, "b n (h d) -> b h n d", h=heads)
    v = E.rearrange(v, "b n (h d) -> b h n d", h=heads)
    return q, k, v


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    return E.rearrange(x, "b h n d -> b n (h d)")


def channels_last(x: torch.Tensor) -> torch.Tensor:
    return E.rearrange(x, "b c h w -> b h w c")


def transpose_last(x: torch.Tensor) -> torch.Tensor:
    return E.rearrange(x, "... i j -> ... j i")


def scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return E.einsum(q, k, "b h i d, b h j d -> b h i j")


def global_pool(x: torch.Tensor) -> torch.Tensor:
    mean = reduce(x, "b c h w -> b c", "mean")
    peak = reduce(x, "b c (h 2) (w 2) -> b c h w", "max")
    return mean, peak


def expand_kv(k: torch.Tensor, groups: int) -> torch.Tensor:
    # grouped-query attention: share each key head across `groups` query heads
    return repeat(k, "b h n d -> b (h g) n d", g=groups)


def tile_tokens(cls: torch.Tensor, batch: int) -> torch.Tensor:
    return repeat(cls, "n d -> b n d", b=batch)


def dynamic(x: torch.Tensor, spec: str, axis: str):
    # patterns built at run time are reported and never rewritten
    y = E.rearrange(x, spec)
    z = E.rearrange(x, f"b {axis} -> {axis} b")
    return y, z


def broken(x: torch.Tensor) -> torch.Tensor:
    # einops raises on this pattern: `c` appears only on the right
    return E.rearrange(x, "b h -> b h c")


patchify = Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=16, p2=16)
