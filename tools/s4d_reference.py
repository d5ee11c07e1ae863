#!/usr/bin/python3
"""A plain-PyTorch S4D mixer: a transcription of S4D and S4DKernel in models/s4/s4d.py of
state-spaces/s4, with ssm's parameter names (which are that file's), for tools/ssm_lm_reference.py
and the fixture of tests/nn/s4d_test.cpp.

  D (H), kernel.log_dt (H), kernel.C (H, N/2, 2) (bidirectional: (2, H, N/2, 2), the full S4
  repository's channels dim), kernel.log_A_real (H, N/2), kernel.A_imag (H, N/2),
  output_linear.0.weight (2H, H, 1), output_linear.0.bias (2H)

  y = GLU(Conv1d_1x1(GELU(K * u + D u)))   (dropout left out: evaluation only)
  zoh (s4d.py):  dtA = exp(log_dt) A, A = -exp(log_A_real) + i A_imag,
                 K = 2 Re sum_n C (e^{dtA} - 1) / A e^{dtA l}
  bilinear:      Ā = (1 + dtA/2) / (1 - dtA/2), B̄ = dt / (1 - dtA/2), K = 2 Re sum_n C B̄ Ā^l
  bidirectional: the FFTConv of models/s4/s4.py: kernels k0, k1 of the two C channels,
                 k = pad(k0, (0, L)) + pad(k1.flip(-1), (L, 0)), convolved over 2L points.

  /usr/bin/python3 tools/s4d_reference.py fixture OUT.safetensors
      the float64 fixture of tests/nn/s4d_test.cpp: for each case (zoh, bilinear, bidirectional)
      the mixer's parameters, an input x (B, L, H), the output y, an upstream gradient gy, and
      the gradients of x and of every parameter
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mamba_reference import write_safetensors  # noqa: E402


class Kernel(nn.Module):
    def __init__(self, H, N, channels, dt_min, dt_max):
        super().__init__()
        M = N // 2
        self.log_dt = nn.Parameter(torch.rand(H) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        shape = (channels, H, M) if channels > 1 else (H, M)
        self.C = nn.Parameter(torch.view_as_real(torch.randn(*shape, dtype=torch.cfloat)))
        self.log_A_real = nn.Parameter(torch.log(0.5 * torch.ones(H, M)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(M, dtype=torch.float32).repeat(H, 1))

    def forward(self, L, method):
        dt = torch.exp(self.log_dt)                              # (H)
        C = torch.view_as_complex(self.C)                        # ([c,] H, M)
        if C.dim() == 2:
            C = C.unsqueeze(0)
        A = -torch.exp(self.log_A_real) + 1j * self.A_imag       # (H, M)
        dtA = A * dt.unsqueeze(-1)
        ls = torch.arange(L, device=A.device, dtype=dt.dtype)
        if method == "zoh":
            v = C * (torch.exp(dtA) - 1.0) / A
            powers = torch.exp(dtA.unsqueeze(-1) * ls)          # (H, M, L)
        else:
            den = 1.0 - dtA / 2
            v = C * (dt.unsqueeze(-1) / den)
            powers = torch.exp(torch.log((1.0 + dtA / 2) / den).unsqueeze(-1) * ls)
        return 2 * torch.einsum("chn,hnl->chl", v, powers).real  # (c, H, L)


class Mixer(nn.Module):
    """(B, L, H) -> (B, L, H), from a config.json dict."""

    def __init__(self, c):
        super().__init__()
        H, N = c["hidden_size"], c["state_size"]
        self.method = c.get("ssm_discretization", "zoh")
        self.bidirectional = bool(c.get("ssm_bidirectional", False))
        self.D = nn.Parameter(torch.randn(H))
        self.kernel = Kernel(H, N, 2 if self.bidirectional else 1, c.get("time_step_min", 1e-3),
                             c.get("time_step_max", 0.1))
        self.output_linear = nn.Sequential(nn.Conv1d(H, 2 * H, kernel_size=1), nn.GLU(dim=-2))

    def forward(self, x):
        u = x.transpose(-1, -2)                                  # (B, H, L)
        L = u.size(-1)
        k = self.kernel(L, self.method)
        if self.bidirectional:
            k = F.pad(k[0], (0, L)) + F.pad(k[1].flip(-1), (L, 0))
        else:
            k = k[0]
        y = torch.fft.irfft(torch.fft.rfft(u, n=2 * L) * torch.fft.rfft(k, n=2 * L), n=2 * L)[..., :L]
        y = y + u * self.D.unsqueeze(-1)
        y = F.gelu(y)
        return self.output_linear(y).transpose(-1, -2)


def mixer_config(hidden, state):
    return {"state_size": state, "ssm_init": "lin", "ssm_discretization": "zoh",
            "time_step_min": 0.001, "time_step_max": 0.1, "ssm_bidirectional": False,
            "ssm_dropout": 0.0, "hidden_act": "gelu"}


def randomise(name, p, g):
    """Values of a trained layer's scale: steps that make the kernel reach across a few positions."""
    r = lambda: torch.randn(p.shape, generator=g, dtype=p.dtype)  # noqa: E731
    if name == "kernel.log_dt":
        p.copy_(math.log(0.01) + (math.log(0.5) - math.log(0.01)) * torch.rand(p.shape, generator=g, dtype=p.dtype))
    elif name == "kernel.log_A_real":
        p.copy_(math.log(0.5) + 0.3 * r())
    elif name == "kernel.A_imag":
        p.copy_(math.pi * torch.arange(p.shape[-1], dtype=p.dtype) + 0.3 * r())
    elif name in ("kernel.C", "D"):
        p.copy_(r())
    else:
        return False
    return True


def fixture(path):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(16)
    tensors, cases = {}, []
    for case, method, bidir in [("zoh", "zoh", False), ("bilinear", "bilinear", False),
                                ("bidirectional", "zoh", True)]:
        H, N, B, L = 4, 6, 2, 9
        c = {"hidden_size": H, "state_size": N, "ssm_discretization": method, "ssm_bidirectional": bidir}
        m = Mixer(c).double()
        with torch.no_grad():
            for name, p in m.named_parameters():
                if not randomise(name, p, g):
                    p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) / math.sqrt(p.shape[1] if p.dim() > 1 else 4))
        x = torch.randn(B, L, H, generator=g, dtype=torch.float64, requires_grad=True)
        y = m(x)
        gy = torch.randn(y.shape, generator=g, dtype=torch.float64)
        y.backward(gy)
        tensors[f"{case}.x"] = x.detach()
        tensors[f"{case}.y"] = y.detach()
        tensors[f"{case}.gy"] = gy
        tensors[f"{case}.grad.x"] = x.grad
        for name, p in m.named_parameters():
            tensors[f"{case}.param.{name}"] = p.detach()
            tensors[f"{case}.grad.{name}"] = p.grad
        cases.append({"name": case, "discretization": method, "bidirectional": bidir, "d_model": H,
                      "d_state": N})
    write_safetensors(path, tensors, {"cases": json.dumps(cases), "generator": "tools/s4d_reference.py",
                                      "torch": torch.__version__})


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "fixture":
        fixture(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(2)
