#!/usr/bin/python3
"""S4 in plain PyTorch: a transcription of the maths of S4Block / FFTConv / SSMKernelDPLR in
state-spaces/s4 (models/s4/s4.py) at that file's defaults (HiPPO-LegS, rank 1, dt_transform
'exp', real_transform 'exp', imag_transform 'none', GELU activation, final_act 'glu'), with
ssm's parameter names (s4.py's S4Block holds D and kernel.* under `layer.`):

  kernel.inv_dt (H, 1)   log dt
  kernel.A_real (H, M)   log(-Re A)         A = -exp(A_real) - i A_imag (the diagonal part)
  kernel.A_imag (H, M)   -Im A
  kernel.B (1, H, M, 2), kernel.P (1, H, M, 2)   B and the rank-1 term P (A_full = A - P P^*)
  kernel.C (c, H, M, 2)  C~ = C (I - dA^l_max): s4.py's C after _setup_C(l_max)
  D (1, H), output_linear.0.weight (2H, H), output_linear.0.bias (2H)

M = state_size / 2 (one of each conjugate pair), c = 2 when bidirectional, else 1. The kernel
is computed at l_max's roots of unity and cut to min(L, l_max) taps, as s4.py's FFTConv does
with l_max set. The tools/ssm_lm_reference.py contract: Mixer(config), mixer_config(hidden,
state), randomise(name, p, g).

  /usr/bin/python3 tools/s4_reference.py fixture OUT.safetensors
      one float64 mixer: its parameters, an input, the output and every gradient
      (tests/fixtures/nn/s4.safetensors, read by tests/nn/s4_test.cpp)
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mamba_reference import write_safetensors  # noqa: E402

_r2c = torch.view_as_complex


def cauchy_naive(v, z, w):
    """sum over the poles w and their conjugates of v / (z - w): (..., M) x (L) -> (..., L)."""
    v = torch.cat([v, v.conj()], dim=-1)
    w = torch.cat([w, w.conj()], dim=-1)
    return torch.sum(v.unsqueeze(-1) / (z.unsqueeze(-2) - w.unsqueeze(-1)), dim=-2)


class Kernel(nn.Module):
    def __init__(self, H, N, channels, l_max):
        super().__init__()
        M = N // 2
        self.l_max = l_max
        self.inv_dt = nn.Parameter(torch.zeros(H, 1))
        self.A_real = nn.Parameter(torch.zeros(H, M))
        self.A_imag = nn.Parameter(torch.zeros(H, M))
        self.B = nn.Parameter(torch.zeros(1, H, M, 2))
        self.P = nn.Parameter(torch.zeros(1, H, M, 2))
        self.C = nn.Parameter(torch.zeros(channels, H, M, 2))

    def forward(self, L):
        Lm = self.l_max
        dt = torch.exp(self.inv_dt)                          # (H, 1)
        A = -torch.exp(self.A_real) - 1j * self.A_imag       # (H, M)
        B, P, C = _r2c(self.B), _r2c(self.P), _r2c(self.C)
        Q = P.conj()
        cdtype = A.dtype
        omega = torch.tensor(np.exp(-2j * np.pi / Lm), dtype=cdtype) ** torch.arange(Lm // 2 + 1)
        z = 2 * (1 - omega) / (1 + omega)
        Bs = torch.cat([B, P], dim=-3)                       # (2, H, M)
        Cs = torch.cat([C, Q], dim=-3)                       # (c + 1, H, M)
        v = Bs.unsqueeze(-3) * Cs.unsqueeze(-4) * dt         # (2, c + 1, H, M)
        r = cauchy_naive(v, z, A * dt)                       # (2, c + 1, H, F)
        k_f = r[:-1, :-1] - r[:-1, -1:] * r[-1:, :-1] / (1 + r[-1:, -1:])
        k_f = k_f * 2 / (1 + omega)
        k = torch.fft.irfft(k_f, n=Lm)[..., :L]              # (1, c, H, L)
        return k[-1]


class Mixer(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, N = c["hidden_size"], c["state_size"]
        self.bidirectional = bool(c.get("ssm_bidirectional", False))
        self.l_max = int(c.get("ssm_l_max", 1024))
        self.kernel = Kernel(H, N, 2 if self.bidirectional else 1, self.l_max)
        self.D = nn.Parameter(torch.zeros(1, H))
        self.output_linear = nn.Sequential(nn.Linear(H, 2 * H), nn.GLU(dim=-1))

    def forward(self, x):  # (B, L, H); eval mode: the dropouts are identities
        x = x.transpose(-1, -2)                              # (B, H, L)
        L = x.size(-1)
        lk = min(L, self.l_max)
        k = self.kernel(lk)                                  # (c, H, lk)
        if self.bidirectional:
            k0, k1 = k[:1], k[1:]
            k = F.pad(k0, (0, L)) + F.pad(k1.flip(-1), (L, 0))
        n = lk + L
        y = torch.fft.irfft(torch.fft.rfft(x, n=n).unsqueeze(1) * torch.fft.rfft(k, n=n), n=n)[..., :L]
        y = y + torch.einsum("bhl,ch->bchl", x, self.D)      # (B, 1, H, L)
        y = y.flatten(1, 2).transpose(-1, -2)                # (B, L, H)
        y = F.gelu(y)
        return self.output_linear(y)


def mixer_config(hidden, state):
    return {"state_size": state, "ssm_rank": 1, "time_step_min": 0.001, "time_step_max": 0.1,
            "ssm_l_max": 32, "ssm_bidirectional": False, "ssm_dropout": 0.0,
            "ssm_init": "legs", "ssm_discretization": "bilinear", "hidden_act": "gelu"}


def randomise(name, p, g):
    """Well-scaled random SSM parameters: stable poles, Δ large enough that the kernel matters."""
    def u(lo, hi):
        return lo + (hi - lo) * torch.rand(p.shape, generator=g, dtype=p.dtype)
    if name == "kernel.inv_dt":
        p.copy_(u(math.log(0.01), math.log(0.5)))
    elif name == "kernel.A_real":
        p.copy_(torch.log(u(0.2, 1.0)))
    elif name == "kernel.A_imag":
        p.copy_(u(0.0, 2.0 * p.shape[-1]))
    elif name in ("kernel.B", "kernel.C"):
        p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.7)
    elif name == "kernel.P":
        p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.4)
    elif name == "D":
        p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    else:
        return False
    return True


def fixture(out, bidirectional=False):
    H, N, L = 4, 8, 12
    c = {"hidden_size": H, "state_size": N, "ssm_l_max": 16, "ssm_bidirectional": bidirectional}
    m = Mixer(c).double()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if not randomise(name, p, g):
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) / math.sqrt(p.shape[-1]))
    x = torch.randn(2, L, H, generator=g, dtype=torch.float64, requires_grad=True)
    y = m(x)
    gy = torch.randn(y.shape, generator=g, dtype=torch.float64)
    y.backward(gy)
    tensors = {k: v.detach() for k, v in m.state_dict().items()}
    tensors.update({"grad." + k: p.grad for k, p in m.named_parameters()})
    tensors.update({"x": x.detach(), "y": y.detach(), "gy": gy, "grad.x": x.grad})
    write_safetensors(out, tensors, {"config": json.dumps(c), "generator": "tools/s4_reference.py",
                                     "torch": torch.__version__})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixture")
    f.add_argument("out")
    f.add_argument("--bidirectional", action="store_true")
    a = ap.parse_args()
    fixture(a.out, a.bidirectional)


if __name__ == "__main__":
    main()
