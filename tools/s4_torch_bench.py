#!/usr/bin/env python3
"""Times S4D and S4 convolution layers written in plain PyTorch (no custom CUDA extension), the
"FFTConv + GELU" scope of issue 16's reference figures: kernel generation, FFT convolution, the D
skip and GELU, forward + backward, float32. It runs wherever PyTorch does: on the GPU machine it
is the side-by-side PyTorch figure (the reference repo's fallback path, without its Cauchy /
Vandermonde extensions, which cannot be built there); on this CPU it is the plain-PyTorch
comparison of `ssm`'s CPU layers.

The maths is the papers', written here:
  S4D (ZOH): K[h, l] = 2 Re sum_n C_n (exp(dt A_n) - 1) / A_n * exp(dt A_n l)
  S4 (DPLR A = Lambda - P P*, bilinear): the kernel's spectrum at the L roots of unity z through
  the Cauchy kernel and the Woodbury identity,
    g = (2 / dt) (1 - z) / (1 + z),  k_xy = sum_n x_n y_n / (g - Lambda_n)  (+ conjugate pairs)
    K^(z) = 2 / (1 + z) * (k_CB - k_CP (1 + k_PP)^-1 k_PB),  K = irfft(K^, L)
  with the Cauchy sums broadcast over (H, N/2, L/2 + 1) as the reference code's fallback does.

  python3 tools/s4_torch_bench.py [--device cuda|cpu] [--layers s4d s4] [--batch 16]
      [--hidden 256] [--state 64] [--lengths 1024 4096 16384] [--threads T]

One JSON line per (layer, length): median forward+backward ms over --iters runs after --warmup.
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


def fft_conv_gelu(u, k, D):
    L = u.shape[-1]
    y = torch.fft.irfft(torch.fft.rfft(u, n=2 * L) * torch.fft.rfft(k, n=2 * L), n=2 * L)[..., :L]
    return F.gelu(y + u * D.unsqueeze(-1))


class S4D(torch.nn.Module):
    def __init__(self, H, N):
        super().__init__()
        self.log_dt = torch.nn.Parameter(torch.rand(H) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        self.C = torch.nn.Parameter(torch.randn(H, N // 2, 2) * 0.5 ** 0.5)
        self.log_A_real = torch.nn.Parameter(torch.log(0.5 * torch.ones(H, N // 2)))
        self.A_imag = torch.nn.Parameter(math.pi * torch.arange(N // 2).repeat(H, 1).float())
        self.D = torch.nn.Parameter(torch.randn(H))

    def kernel(self, L):
        dt = self.log_dt.exp()
        A = -self.log_A_real.exp() + 1j * self.A_imag
        dtA = A * dt.unsqueeze(-1)
        C = torch.view_as_complex(self.C) * (dtA.exp() - 1) / A
        return 2 * torch.einsum("hn,hnl->hl", C, (dtA.unsqueeze(-1) * torch.arange(L, device=A.device)).exp()).real

    def forward(self, u):
        return fft_conv_gelu(u, self.kernel(u.shape[-1]), self.D)


class S4(torch.nn.Module):
    def __init__(self, H, N):
        super().__init__()
        n = torch.arange(N // 2).float()
        self.log_dt = torch.nn.Parameter(torch.rand(H) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        self.A_real = torch.nn.Parameter(torch.full((H, N // 2), -0.5))
        self.A_imag = torch.nn.Parameter((math.pi * n).repeat(H, 1))
        self.B = torch.nn.Parameter(torch.randn(H, N // 2, 2) * 0.5)
        self.P = torch.nn.Parameter(torch.randn(H, N // 2, 2) * 0.5)
        self.C = torch.nn.Parameter(torch.randn(H, N // 2, 2) * 0.5 ** 0.5)
        self.D = torch.nn.Parameter(torch.randn(H))

    def kernel(self, L):
        dt = self.log_dt.exp().unsqueeze(-1)  # (H, 1)
        lam = self.A_real + 1j * self.A_imag
        B, P, C = (torch.view_as_complex(t) for t in (self.B, self.P, self.C))
        z = torch.exp(-2j * math.pi * torch.arange(L // 2 + 1, device=lam.device) / L)
        g = (2.0 / dt) * (1 - z) / (1 + z)  # (H, F)
        lam_h = lam.unsqueeze(-1)
        def cauchy(v):
            return (v.unsqueeze(-1) / (g.unsqueeze(1) - lam_h)
                    + v.conj().unsqueeze(-1) / (g.unsqueeze(1) - lam_h.conj())).sum(-2)
        k = cauchy(torch.stack([C * B, C * P, P.conj() * B, P.conj() * P]))  # (4, H, F)
        k_hat = 2 / (1 + z) * (k[0] - k[1] * k[2] / (1 + k[3]))
        return torch.fft.irfft(k_hat, n=L)

    def forward(self, u):
        return fft_conv_gelu(u, self.kernel(u.shape[-1]), self.D)


def median_ms(fn, device, warmup, iters):
    for _ in range(warmup):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--layers", nargs="+", default=["s4d", "s4"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--state", type=int, default=64)
    ap.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384])
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for name in a.layers:
        layer = {"s4d": S4D, "s4": S4}[name](a.hidden, a.state).to(a.device)
        for L in a.lengths:
            u = torch.randn(a.batch, a.hidden, L, device=a.device, requires_grad=True)
            g = torch.randn(a.batch, a.hidden, L, device=a.device)

            def step():
                layer.zero_grad(set_to_none=True)
                u.grad = None
                (layer(u) * g).sum().backward()

            try:
                ms = round(median_ms(step, a.device, a.warmup, a.iters), 4)
                peak = torch.cuda.max_memory_allocated() / 2**30 if a.device == "cuda" else None
            except getattr(torch, "OutOfMemoryError", RuntimeError):
                ms, peak = None, None
            row = {"bench": f"{name}_torch", "device": torch.cuda.get_device_name() if a.device == "cuda" else "cpu",
                   "batch": a.batch, "hidden": a.hidden, "state": a.state, "length": L,
                   "forward_backward_ms": ms, "threads": torch.get_num_threads()}
            if peak is not None:
                row["peak_gib"] = round(peak, 2)
                torch.cuda.reset_peak_memory_stats()
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
