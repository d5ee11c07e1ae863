#!/usr/bin/env python3
"""Times an S5 SSM layer in JAX on the GPU, as the reference S5 code computes it (lindermanlab/S5,
s5/ssm.py: ZOH, conjugate symmetry, jax.lax.associative_scan over time, vmapped over the batch),
so that ssm's s5 mixer can be compared with it side by side on the same card.

This is an independent JAX transcription of that maths (the GPU machine has JAX; S5's own repo is
not installed there): y = 2 Re(C~ x_k) + D u_k with x_k = Lambda_bar x_{k-1} + B_bar u_k.

  python3 tools/s5_jax_bench.py [--batch 16] [--hidden 256] [--modes 128 256] [--lengths 1024 4096 16384]

Prints one JSON line per (modes, length): median forward and forward+backward ms over --iters runs
(after --warmup), float32. `modes` is the number of complex modes stored (S5's P after the
conjugate-symmetric halving, N/2 in ssm's terms).
"""
import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np


def params(key, hidden, modes):
    k = jax.random.split(key, 6)
    return {
        "Lambda_re": -0.5 * jnp.ones((modes,), jnp.float32),
        "Lambda_im": jnp.pi * jnp.arange(modes, dtype=jnp.float32),
        "B": jax.random.normal(k[0], (modes, hidden, 2), jnp.float32) / np.sqrt(hidden),
        "C": jax.random.normal(k[1], (hidden, modes, 2), jnp.float32) / np.sqrt(modes),
        "D": jax.random.normal(k[2], (hidden,), jnp.float32),
        "log_step": jax.random.uniform(k[3], (modes, 1), jnp.float32, np.log(1e-3), np.log(1e-1)),
    }


def ssm(p, u):  # u (L, H) -> (L, H)
    lam = p["Lambda_re"] + 1j * p["Lambda_im"]
    step = jnp.exp(p["log_step"][:, 0])
    lam_bar = jnp.exp(lam * step)
    b_tilde = p["B"][..., 0] + 1j * p["B"][..., 1]
    b_bar = ((lam_bar - 1.0) / lam)[:, None] * b_tilde
    c_tilde = p["C"][..., 0] + 1j * p["C"][..., 1]
    bu = jax.vmap(lambda x: b_bar @ x)(u.astype(jnp.complex64))  # (L, P)
    lams = jnp.broadcast_to(lam_bar, bu.shape)

    def combine(a, b):
        return b[0] * a[0], b[0] * a[1] + b[1]

    _, xs = jax.lax.associative_scan(combine, (lams, bu))
    return jax.vmap(lambda x: 2.0 * (c_tilde @ x).real)(xs) + p["D"] * u


def median_ms(f, args, warmup, iters):
    for _ in range(warmup):
        jax.block_until_ready(f(*args))
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--modes", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384])
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    a = ap.parse_args()
    batched = jax.vmap(ssm, in_axes=(None, 0))
    fwd = jax.jit(batched)

    def loss(p, u, g):
        return jnp.sum(batched(p, u) * g)

    fwd_bwd = jax.jit(jax.grad(loss, argnums=(0, 1)))
    for modes in a.modes:
        p = params(jax.random.PRNGKey(0), a.hidden, modes)
        for L in a.lengths:
            ku, kg = jax.random.split(jax.random.PRNGKey(L))
            u = jax.random.normal(ku, (a.batch, L, a.hidden), jnp.float32)
            g = jax.random.normal(kg, (a.batch, L, a.hidden), jnp.float32)
            row = {"bench": "s5_jax", "device": str(jax.devices()[0]), "batch": a.batch, "hidden": a.hidden,
                   "modes": modes, "length": L,
                   "forward_ms": round(median_ms(fwd, (p, u), a.warmup, a.iters), 4),
                   "forward_backward_ms": round(median_ms(fwd_bwd, (p, u, g), a.warmup, a.iters), 4)}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
