#!/usr/bin/python3
"""Times the plain-PyTorch Mamba of tools/mamba_reference.py on the CPU: the baseline that
bench/mamba_bench.cpp (ssm) is compared with by tools/bench_vs_torch.sh.

  /usr/bin/python3 tools/mamba_torch_bench.py [--threads N] [--work train,train_unbind,generate]
        [--config piglatin,large] [--repeats R] [--warmup W]

Measurements (float32, random weights, random token ids):
  train     one optimizer step: forward, next-token cross-entropy, backward, AdamW step, zero_grad,
            with the reference's forward: the selective scan is a Python loop over time indexing
            dA[:, :, t], as in transformers' MambaMixer.slow_forward (its backward zero-fills a
            whole (B, d_inner, L, N) gradient per step: O(L^2))
  train_unbind  the same step with the loop over dA.unbind(2) (same maths, O(L) backward): the
            stronger plain-PyTorch baseline, checked against the reference's logits and gradients
  generate  batch 1: prefill a 16-token prompt (whole-sequence forward that also returns the conv
            window and SSM state), then 256 greedy tokens with an O(1) recurrent step per token
            (the cache path of transformers' slow_forward, written here in plain PyTorch)
Each prints one JSON line: name, config, threads, ms (median), min_ms, times_ms (every timed run),
tokens_per_s (from the median; train: B*L tokens per step, generate: new tokens per prefill +
generation), torch (version), torch_threads, torch_blas.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mamba_reference import MambaForCausalLM, default_config  # noqa: E402

# The same configs as bench/mamba_bench.cpp.
CONFIGS = {
    "piglatin": dict(model=dict(vocab=31, hidden=64, layers=2, state=16, expand=2, conv=4), batch=128, length=24),
    "large": dict(model=dict(vocab=256, hidden=256, layers=4, state=16, expand=2, conv=4), batch=8, length=256),
}
PROMPT, NEW_TOKENS = 16, 256


def build(name, scan="reference"):
    torch.manual_seed(0)
    model = MambaForCausalLM(default_config(**CONFIGS[name]["model"])).float()
    if scan == "unbind":
        for layer in model.backbone.layers:
            layer.mixer.forward = lambda hs, m=layer.mixer: mixer_forward_unbind(m, hs)
    return model


def mixer_forward_unbind(m, hs):
    """MambaMixer.forward with the time loop over unbind(dA) instead of dA[:, :, t]: the same
    maths, but autograd's backward of the slices then costs O(L), not O(L^2) zero-filled copies
    of the whole (B, di, L, N) tensor. The one-line change a PyTorch user who profiled would make."""
    L = hs.shape[1]
    x, z = m.in_proj(hs).transpose(1, 2).chunk(2, dim=1)
    x = F.silu(m.conv1d(x)[..., :L])
    dt, Bm, Cm = torch.split(m.x_proj(x.transpose(1, 2)), [m.r, m.n, m.n], dim=-1)
    dt = F.softplus(m.dt_proj(dt)).transpose(1, 2)
    A = -torch.exp(m.A_log)
    dA = torch.exp(A[None, :, None, :] * dt[..., None]).unbind(2)  # L x (B, di, N)
    dBu = (dt[..., None] * Bm[:, None, :, :] * x[..., None]).unbind(2)
    Cs = Cm.unbind(1)  # L x (B, N)
    h = torch.zeros(x.shape[0], m.di, m.n, dtype=x.dtype)
    ys = []
    for t in range(L):
        h = dA[t] * h + dBu[t]
        ys.append(torch.matmul(h, Cs[t][..., None]).squeeze(-1))
    y = torch.stack(ys, -1) + x * m.D[None, :, None]
    y = y * F.silu(z)
    return m.out_proj(y.transpose(1, 2))


def timed(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def bench_train(name, warmup, repeats, scan):
    c = CONFIGS[name]
    model = build(name, scan)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, c["model"]["vocab"], (c["batch"], c["length"]), generator=g)
    V = c["model"]["vocab"]

    if scan == "unbind":
        check_unbind_matches_reference(name, ids[:2, :8])

    def step():
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)

    times = timed(step, warmup, repeats)
    return times, c["batch"] * c["length"], {"batch": c["batch"], "length": c["length"], "scan": scan}


def check_unbind_matches_reference(name, ids):
    out = []
    for scan in ("reference", "unbind"):
        model = build(name, scan)
        logits = model(ids)
        logits.square().mean().backward()
        out.append([logits] + [p.grad for p in model.parameters()])
    worst = max((a - b).abs().max().item() for a, b in zip(*out))
    if worst > 1e-4:
        raise SystemExit(f"mamba_torch_bench: the unbind scan differs from the reference by {worst}")


# ---- recurrent generation in plain PyTorch ------------------------------------------------------

def mixer_prefill(m, hs):
    """MambaMixer.forward on the prompt that also returns (conv_state (B, di, K), ssm_state)."""
    L, K = hs.shape[1], m.conv1d.kernel_size[0]
    x, z = m.in_proj(hs).transpose(1, 2).chunk(2, dim=1)  # (B, di, L)
    conv_state = F.pad(x, (K - L, 0)) if L < K else x[..., L - K:]
    x = F.silu(m.conv1d(x)[..., :L])
    dt, Bm, Cm = torch.split(m.x_proj(x.transpose(1, 2)), [m.r, m.n, m.n], dim=-1)
    dt = F.softplus(m.dt_proj(dt)).transpose(1, 2)
    A = -torch.exp(m.A_log)
    dA = torch.exp(A[None, :, None, :] * dt[..., None])
    dBu = dt[..., None] * Bm[:, None, :, :] * x[..., None]
    h = torch.zeros(x.shape[0], m.di, m.n, dtype=x.dtype)
    ys = []
    for t in range(L):
        h = dA[:, :, t] * h + dBu[:, :, t]
        ys.append((h * Cm[:, None, t, :]).sum(-1))
    y = (torch.stack(ys, -1) + x * m.D[None, :, None]) * F.silu(z)
    return m.out_proj(y.transpose(1, 2)), conv_state.contiguous(), h


def mixer_step(m, hs, cache):
    """One token: hs (B, d) -> (B, d), updating cache = [conv_state, ssm_state] in place."""
    conv_state, h = cache
    x, z = m.in_proj(hs).chunk(2, dim=-1)  # (B, di)
    conv_state.copy_(torch.roll(conv_state, shifts=-1, dims=-1))
    conv_state[:, :, -1] = x
    x = torch.sum(conv_state * m.conv1d.weight[:, 0, :], dim=-1)
    if m.conv1d.bias is not None:
        x = x + m.conv1d.bias
    x = F.silu(x)
    dt, Bm, Cm = torch.split(m.x_proj(x), [m.r, m.n, m.n], dim=-1)
    dt = F.softplus(m.dt_proj(dt))  # (B, di)
    A = -torch.exp(m.A_log)
    h.mul_(torch.exp(A[None] * dt[..., None])).add_(dt[..., None] * Bm[:, None, :] * x[..., None])
    y = torch.matmul(h, Cm[..., None]).squeeze(-1) + m.D * x
    return m.out_proj(y * F.silu(z))


def prefill(model, ids):
    bb = model.backbone
    h = bb.embeddings(ids)
    caches = []
    for layer in bb.layers:
        out, conv_state, ssm_state = mixer_prefill(layer.mixer, layer.norm(h))
        h = h + out
        caches.append([conv_state, ssm_state])
    return bb.norm_f(h[:, -1]) @ bb.embeddings.weight.t(), caches


def step(model, ids, caches):
    bb = model.backbone
    h = bb.embeddings(ids)
    for layer, cache in zip(bb.layers, caches):
        h = h + mixer_step(layer.mixer, layer.norm(h), cache)
    return bb.norm_f(h) @ bb.embeddings.weight.t()


def greedy(model, prompt, new_tokens):
    with torch.inference_mode():
        logits, caches = prefill(model, prompt)
        out = []
        for _ in range(new_tokens):
            tok = logits.argmax(-1)
            out.append(tok)
            logits = step(model, tok, caches)
    return torch.stack(out, 1)


def check_step_matches_forward(model, prompt):
    """The recurrent path must give the whole-sequence forward's logits (else the timing lies)."""
    with torch.inference_mode():
        full = model(prompt)
        logits, caches = prefill(model, prompt[:, :4])
        worst = (logits - full[:, 3]).abs().max().item()
        for t in range(4, prompt.shape[1]):
            logits = step(model, prompt[:, t], caches)
            worst = max(worst, (logits - full[:, t]).abs().max().item())
    if worst > 1e-3:
        raise SystemExit(f"mamba_torch_bench: recurrent step differs from the forward by {worst}")


def bench_generate(name, warmup, repeats):
    c = CONFIGS[name]
    model = build(name)
    g = torch.Generator().manual_seed(2)
    prompt = torch.randint(0, c["model"]["vocab"], (1, PROMPT), generator=g)
    check_step_matches_forward(model, prompt)
    times = timed(lambda: greedy(model, prompt, NEW_TOKENS), warmup, repeats)
    return times, NEW_TOKENS, {"batch": 1, "prompt": PROMPT, "new_tokens": NEW_TOKENS}


def torch_blas():
    """The BLAS libraries this process has loaded (Debian's torch takes libblas.so.3, which the
    system's alternatives point at one OpenBLAS build or another)."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.rsplit("/", 1)[-1]}
    return sorted(os.path.realpath(p) for p in paths)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--work", default="train,train_unbind,generate")
    ap.add_argument("--config", default="piglatin,large")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for work in a.work.split(","):
        for name in a.config.split(","):
            if work == "generate":
                times, tokens, extra = bench_generate(name, a.warmup, a.repeats)
            else:
                scan = "unbind" if work == "train_unbind" else "reference"
                times, tokens, extra = bench_train(name, a.warmup, a.repeats, scan)
            med = statistics.median(times)
            print(json.dumps({"name": f"torch_{work}", "config": name, "threads": a.threads, **extra,
                              "ms": round(med, 3), "min_ms": round(min(times), 3),
                              "times_ms": [round(t, 3) for t in times],
                              "tokens_per_s": round(tokens / med * 1e3, 1), "torch": torch.__version__,
                              "torch_threads": torch.get_num_threads(), "torch_blas": torch_blas()}),
                  flush=True)


if __name__ == "__main__":
    main()
