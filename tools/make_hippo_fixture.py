#!/usr/bin/python3
"""Writes tests/fixtures/nn/hippo.safetensors: HiPPO matrices and the S4 / S4D / S5
initialisations as the reference implementations define them, for tests/nn/hippo_test.cpp.

Run with Debian's python3-torch:  /usr/bin/python3 tools/make_hippo_fixture.py

Transcribed from the maths of the reference code (not from nn/hippo.cpp):
  state-spaces/s4, src/models/hippo/hippo.py: transition() (legs built as T M T^-1 with
    M = -(lower triangle of 2q+1 minus diag(q)), T = diag(sqrt(2q+1)); legt from the sign pattern,
    halved; 'tlagt' with beta = 1; 'fout'), rank_correction(), and nplr()'s eigen step (the real
    part the mean of the diagonal of A + P^T P, the imaginary parts by eigh of -i (A + P^T P),
    sorted, the first N/2 kept);
  state-spaces/s4, src/models/sequence/kernels/dplr.py: the S4D initialisations (the reference
    stores A = -real - i imag; the conjugates, Im >= 0, are stored here, as nn/hippo.h returns);
  lindermanlab/S5, s5/ssm_init.py make_DPLR_HiPPO and s5/train.py: Lambda of each block, the
    first half kept with conjugate symmetry, repeated once per block.
Complex values are stored as real tensors with a trailing dim of 2.
"""
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "nn", "hippo.safetensors")
torch.set_default_dtype(torch.float64)


def legs(N):
    q = torch.arange(N, dtype=torch.float64)
    row, col = q[:, None].expand(N, N), q[None, :].expand(N, N)
    r = (2 * q + 1)[None, :].expand(N, N)  # numpy's broadcast of r: the column's 2q+1
    M = -(torch.where(row >= col, r, torch.zeros(N, N)) - torch.diag(q))
    T = torch.diag(torch.sqrt(2 * q + 1))
    return T @ M @ torch.linalg.inv(T), torch.sqrt(2 * q + 1)


def legt_halved(N):
    q = torch.arange(N, dtype=torch.float64)
    r = torch.sqrt(2 * q + 1)
    i, j = q[:, None], q[None, :]
    sign = torch.where(i < j, (-1.0) ** (i - j), torch.ones(N, N))
    return -0.5 * r[:, None] * sign * r[None, :], 0.5 * r


def tlagt(N, beta=1.0):
    return (1.0 - beta) / 2 * torch.eye(N) - torch.tril(torch.ones(N, N)), beta * torch.ones(N)


def fout(N):
    freqs = torch.arange(N // 2, dtype=torch.float64)
    d = torch.stack([torch.zeros(N // 2), freqs], -1).reshape(-1)[1:]
    A = math.pi * (-torch.diag(d, 1) + torch.diag(d, -1))
    B = torch.zeros(N)
    B[0::2] = 2 ** 0.5
    B[0] = 1
    return A - B[:, None] * B[None, :], B


def rank_correction(measure, N):
    if measure == "legs":
        return torch.sqrt(0.5 + torch.arange(N, dtype=torch.float64))[None]
    if measure == "legt":  # halved with the matrix
        P = torch.sqrt(1 + 2 * torch.arange(N, dtype=torch.float64))
        P0, P1 = P.clone(), P.clone()
        P0[0::2] = 0
        P1[1::2] = 0
        return torch.stack([P0, P1]) * 2 ** -0.5
    if measure == "lagt":
        return 0.5 ** 0.5 * torch.ones(1, N)
    if measure == "fout":
        P = torch.zeros(N)
        P[0::2] = 2 ** 0.5
        P[0] = 1
        return P[None]
    raise ValueError(measure)


def nplr_half(A, P, B):
    """Lambda, and the phase-free |B~| and P~ conj(B~) of each kept mode."""
    N = A.shape[0]
    S = A + P.T @ P
    w_re = torch.mean(torch.diagonal(S))
    w_im, V = torch.linalg.eigh(S.to(torch.complex128) * -1j)
    order = torch.argsort(w_im)
    w_im, V = w_im[order][: N // 2], V[:, order][:, : N // 2]
    Bt = V.conj().T @ B.to(torch.complex128)
    Pt = V.conj().T @ P[0].to(torch.complex128)
    lam = w_re + 1j * w_im
    return lam, Bt.abs(), Pt * Bt.conj()


def as_real(z):
    return torch.view_as_real(z.to(torch.complex128).resolve_conj()).contiguous()


def main():
    t = {}
    for N in (8, 64):
        for name, (A, B) in (("legs", legs(N)), ("legt", legt_halved(N)), ("lagt", tlagt(N)),
                             ("fout", fout(N))):
            t[f"{name}{N}.A"] = A
            t[f"{name}{N}.B"] = B
    for name, N, (A, B) in (("legs", 64, legs(64)), ("legt", 16, legt_halved(16)),
                            ("lagt", 16, tlagt(16)), ("fout", 16, fout(16))):
        lam, babs, pb = nplr_half(A, rank_correction(name, N), B)
        t[f"nplr.{name}{N}.Lambda"] = as_real(lam)
        if name == "legs":
            t[f"nplr.{name}{N}.B_abs"] = babs
            t[f"nplr.{name}{N}.PB"] = as_real(pb)
    # S4D (dplr.py): real part 1/2 (S4D-Real: n + 1), imaginary part by init, A = -re - i im.
    N = 64
    n = torch.arange(N // 2, dtype=torch.float64)
    half = 0.5 * torch.ones(N // 2)
    A64, B64 = legs(N)
    legs_lam, _, _ = nplr_half(A64, rank_correction("legs", N), B64)
    inits = {"legs": (half, -legs_lam.imag), "inv": (half, 1 / math.pi * N * (N / (1 + 2 * n) - 1)),
             "lin": (half, math.pi * n), "real": (1 + n, 0 * n)}
    for name, (re, im) in inits.items():
        A = -re - 1j * im
        t[f"s4d.{name}{N}"] = as_real(A.conj())
    # S5: J = 4 blocks of 16, conjugate symmetric.
    A16, B16 = legs(16)
    S = A16 + rank_correction("legs", 16).T @ rank_correction("legs", 16)
    w_im, _ = torch.linalg.eigh(S.to(torch.complex128) * -1j)
    lam = torch.mean(torch.diagonal(S)) + 1j * w_im
    t["s5.N64.J4"] = as_real(lam[:8].repeat(4))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, t, {"generator": "tools/make_hippo_fixture.py", "torch": torch.__version__})
    print(f"{OUT}: {len(t)} tensors")


if __name__ == "__main__":
    main()
