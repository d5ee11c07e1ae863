#!/usr/bin/python3
"""A plain-PyTorch transcription of S5's layer (lindermanlab/S5: s5/ssm.py S5SSM, discretize_zoh,
discretize_bilinear, apply_ssm; s5/layers.py's half_glu1 activation) with ssm's parameter names,
for tools/ssm_lm_reference.py and the fixtures of tests/nn/s5_test.cpp.

  Lambda_re (P), Lambda_im (P), B (P, H, 2) = B~, C (H, P, 2) = C~ (bidirectional: C1, C2),
  D (H), log_step (P, 1), out2.weight (H, H), out2.bias (H)
P is the number of complex modes stored: state_size / 2 with conjugate symmetry (S5's P after
halving), state_size without. The scan is a plain loop over time in complex arithmetic, an
independent check of ssm's parallel scan; gelu is JAX's default (tanh), as nn.gelu in S5.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def mixer_config(hidden, state):
    return {"state_size": state, "ssm_conj_sym": True, "ssm_blocks": 1,
            "ssm_discretization": "zoh", "time_step_min": 1e-3, "time_step_max": 0.1,
            "ssm_clip_eigs": False, "ssm_bidirectional": False, "ssm_dropout": 0.0,
            "ssm_activation": "half_glu1", "ssm_c_init": "trunc_standard_normal"}


def scan(lam, bu, reverse=False, start=None):
    """x_k = lam x_{k-1} + bu_k over dim 1 (from the end with reverse); start (B, L) bool resets."""
    Bn, L, P = bu.shape
    s = torch.zeros(Bn, P, dtype=bu.dtype)
    xs = [None] * L
    for k in (range(L - 1, -1, -1) if reverse else range(L)):
        if start is not None:
            at = k + 1 if reverse else k
            if at < L:
                s = torch.where(start[:, at, None], torch.zeros_like(s), s)
        s = lam * s + bu[:, k]
        xs[k] = s
    return torch.stack(xs, 1)


class Mixer(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, N = c["hidden_size"], c["state_size"]
        self.conj_sym = c.get("ssm_conj_sym", True)
        self.disc = c.get("ssm_discretization", "zoh")
        self.clip_eigs = c.get("ssm_clip_eigs", False)
        self.bidirectional = c.get("ssm_bidirectional", False)
        P = N // 2 if self.conj_sym else N
        self.Lambda_re = nn.Parameter(-0.5 * torch.ones(P))
        self.Lambda_im = nn.Parameter(math.pi * torch.arange(P, dtype=torch.float32))
        self.B = nn.Parameter(torch.randn(P, H, 2) / math.sqrt(N))
        if self.bidirectional:
            self.C1 = nn.Parameter(torch.randn(H, P, 2) / math.sqrt(N))
            self.C2 = nn.Parameter(torch.randn(H, P, 2) / math.sqrt(N))
        else:
            self.C = nn.Parameter(torch.randn(H, P, 2) / math.sqrt(N))
        self.D = nn.Parameter(torch.randn(H))
        self.log_step = nn.Parameter(torch.empty(P, 1).uniform_(math.log(1e-3), math.log(0.1)))
        self.out2 = nn.Linear(H, H)

    def discretize(self):
        re = self.Lambda_re.clamp(max=-1e-4) if self.clip_eigs else self.Lambda_re
        Lambda = torch.complex(re, self.Lambda_im)
        B_tilde = torch.complex(self.B[..., 0], self.B[..., 1])
        step = torch.exp(self.log_step[:, 0])
        if self.disc == "zoh":
            Lambda_bar = torch.exp(Lambda * step)
            B_bar = ((Lambda_bar - 1) / Lambda)[:, None] * B_tilde
        else:
            BL = 1 / (1 - (step / 2) * Lambda)
            Lambda_bar = BL * (1 + (step / 2) * Lambda)
            B_bar = (BL * step)[:, None] * B_tilde
        return Lambda_bar, B_bar

    def forward(self, u, seq_start=None):  # u: (B, L, H)
        Lambda_bar, B_bar = self.discretize()
        cdt = torch.complex128 if u.dtype == torch.float64 else torch.complex64
        bu = u.to(cdt) @ B_bar.t()  # (B, L, P)
        start = seq_start != 0 if seq_start is not None else None
        xs = scan(Lambda_bar, bu, False, start)
        if self.bidirectional:
            xs = torch.cat((xs, scan(Lambda_bar, bu, True, start)), -1)
            C = torch.cat((self.C1, self.C2), 1)
        else:
            C = self.C
        C_tilde = torch.complex(C[..., 0], C[..., 1])
        y = (xs @ C_tilde.t()).real
        y = (2 * y if self.conj_sym else y) + self.D * u
        g = F.gelu(y, approximate="tanh")
        return g * torch.sigmoid(self.out2(g))


def randomise(name, p, g):
    """Stable, well-scaled values: Re(Lambda) in [-1, -0.1], steps in [0.01, 0.5]."""
    if name == "Lambda_re":
        p.copy_(-0.1 - 0.9 * torch.rand(p.shape, generator=g, dtype=p.dtype))
    elif name == "Lambda_im":
        p.copy_(3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    elif name == "log_step":
        lo, hi = math.log(0.01), math.log(0.5)
        p.copy_(lo + (hi - lo) * torch.rand(p.shape, generator=g, dtype=p.dtype))
    else:
        return False
    return True
