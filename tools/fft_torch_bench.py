#!/usr/bin/python3
"""Times torch.fft and the FFT convolution of S4 in plain PyTorch on the CPU: the baseline for
bench/fft_bench.cpp (same shapes, float32).

  /usr/bin/python3 tools/fft_torch_bench.py [--threads N] [--repeats R] [--lengths 256,1024,...]

Measurements, for each length L:
  rfft              torch.fft.rfft of 64 rows of L values
  rfft/bluestein    the same at the prime lengths of the C++ benchmark (257, 1031, 4099, 16411)
  fft               torch.fft.fft of 64 complex rows (complex64)
  fft_conv_fwd      S4's FFTConv composite (state-spaces/s4, models/s4/s4.py) for u (1, 64, L) and a
                    kernel (64, L): irfft(rfft(u, 2L) * rfft(k, 2L), 2L)[..., :L], under no_grad
  fft_conv_fwd_bwd  the same with autograd: forward, then backward of u and k
Each prints one JSON line: name, L, threads, us (median of the timed runs, each the mean of
enough calls to last ~0.2 s), min_us, torch (version), torch_threads.
"""
import argparse
import json
import statistics
import time

import torch

ROWS = 64
PRIMES = [257, 1031, 4099, 16411]


def fft_conv(u, k):
    L = u.shape[-1]
    n = 2 * L
    return torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(k, n=n), n=n)[..., :L]


def time_us(fn, repeats):
    fn()  # warm-up (plans, allocations)
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-6)
    calls = max(1, int(0.2 / once))
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - t0) / calls * 1e6)
    return statistics.median(runs), min(runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--lengths", default="256,1024,4096,16384,65536")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    lengths = [int(x) for x in a.lengths.split(",")]

    def report(name, L, fn):
        med, best = time_us(fn, a.repeats)
        print(json.dumps({"name": name, "L": L, "threads": torch.get_num_threads(), "us": round(med, 2),
                          "min_us": round(best, 2), "torch": torch.__version__,
                          "torch_threads": torch.get_num_threads()}), flush=True)

    for L in lengths:
        x = torch.randn(ROWS, L)
        report("rfft", L, lambda: torch.fft.rfft(x))
    for L in PRIMES:
        x = torch.randn(ROWS, L)
        report("rfft/bluestein", L, lambda: torch.fft.rfft(x))
    for L in lengths:
        z = torch.randn(ROWS, L, dtype=torch.complex64)
        report("fft", L, lambda: torch.fft.fft(z))
    for L in lengths:
        u, k = torch.randn(1, ROWS, L), torch.randn(ROWS, L)

        def fwd():
            with torch.no_grad():
                fft_conv(u, k)
        report("fft_conv_fwd", L, fwd)
        ug, kg, g = u.clone().requires_grad_(True), k.clone().requires_grad_(True), torch.randn(1, ROWS, L)

        def fwd_bwd():
            fft_conv(ug, kg).backward(g)
            ug.grad = None
            kg.grad = None
        report("fft_conv_fwd_bwd", L, fwd_bwd)


if __name__ == "__main__":
    main()
