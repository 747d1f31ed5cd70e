"""A Gated DeltaNet layer's output path, written the way model code often is: the heads are
merged with einops before the output projection, at three call sites (CUDA, XPU, CPU)."""
import torch
from einops import rearrange
from torch import nn


class GatedDeltaNetOutput(nn.Module):
    def __init__(self, num_heads: int, head_dim: int, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.eps = eps
        self.norm_weight = nn.Parameter(torch.ones(head_dim))
        self.out_proj = nn.Linear(num_heads * head_dim, hidden_size, bias=False)

    def _gated_norm(self, core_attn_out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = core_attn_out.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        x = x * self.norm_weight.float() * nn.functional.silu(z.float())
        return x.to(core_attn_out.dtype)

    def _output_projection(self, core_attn_out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        core_attn_out = self._gated_norm(core_attn_out, z)
        core_attn_out = rearrange(core_attn_out, "... h d -> ... (h d)")
        return self.out_proj(core_attn_out)

    def forward_xpu(self, core_attn_out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        core_attn_out = self._gated_norm(core_attn_out, z)
        core_attn_out = rearrange(core_attn_out, "... h d -> ... (h d)")
        return self.out_proj(core_attn_out)

    def forward_cpu(self, core_attn_out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        core_attn_out = self._gated_norm(core_attn_out.contiguous(), z)
        core_attn_out = rearrange(core_attn_out, "... h d -> ... (h d)")
        return self.out_proj(core_attn_out)

    def forward(self, core_attn_out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if core_attn_out.device.type == "cpu":
            return self.forward_cpu(core_attn_out, z)
        if core_attn_out.device.type == "xpu":
            return self.forward_xpu(core_attn_out, z)
        return self._output_projection(core_attn_out, z)
