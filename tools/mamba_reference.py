#!/usr/bin/python3
"""A plain-PyTorch Mamba language model in Hugging Face's MambaForCausalLM layout.

It is the independent reference ssm is checked against (Debian's python3-torch, CPU; no
transformers, no mamba_ssm): the same parameter names, shapes and config.json keys, and the same
maths as transformers' MambaMixer.slow_forward, written here from the paper's recurrence.

  /usr/bin/python3 tools/mamba_reference.py write-dir DIR [--seed S] [--vocab V] [--hidden H]
        [--layers N] [--state N] [--expand E] [--conv K] [--dtype float32|float64]
      writes a random model dir: config.json + model.safetensors (the tied LM head is not stored)
  /usr/bin/python3 tools/mamba_reference.py eval DIR TOKENS_FILE
      prints {"loss": mean next-token cross-entropy (nats) over all predicted positions,
              "tokens": number of predicted positions} for token ids, one sequence per line
  /usr/bin/python3 tools/mamba_reference.py fixture OUT.safetensors
      the float64 whole-model fixture of tests/models/mamba_lm_test.cpp: parameters, ids,
      logits, loss and every parameter's gradient
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ST_DTYPES = {"F64": (torch.float64, 8), "F32": (torch.float32, 4), "I64": (torch.int64, 8),
             "I32": (torch.int32, 4), "BF16": (torch.bfloat16, 2), "F16": (torch.float16, 2)}
ST_NAMES = {v[0]: k for k, v in ST_DTYPES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in header.items():
        dt, size = ST_DTYPES[e["dtype"]]
        b, en = e["data_offsets"]
        raw = bytearray(data[base + b:base + en])
        if dt == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if raw else torch.empty(0, dtype=dt)
        else:
            t = torch.frombuffer(raw, dtype=dt) if raw else torch.empty(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    header = {"__metadata__": metadata} if metadata else {}
    chunks, off = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class MambaMixer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, di, n, k = c["hidden_size"], c["expand"] * c["hidden_size"], c["state_size"], c["conv_kernel"]
        r = c["time_step_rank"] if c["time_step_rank"] != "auto" else math.ceil(d / 16)
        self.di, self.n, self.r = di, n, r
        self.in_proj = nn.Linear(d, 2 * di, bias=c["use_bias"])
        self.conv1d = nn.Conv1d(di, di, k, groups=di, padding=k - 1, bias=c["use_conv_bias"])
        self.x_proj = nn.Linear(di, r + 2 * n, bias=False)
        self.dt_proj = nn.Linear(r, di, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(di, 1))
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, d, bias=c["use_bias"])

    def forward(self, hs):  # (B, L, d)
        L = hs.shape[1]
        x, z = self.in_proj(hs).transpose(1, 2).chunk(2, dim=1)  # (B, di, L) each
        x = F.silu(self.conv1d(x)[..., :L])
        dt, Bm, Cm = torch.split(self.x_proj(x.transpose(1, 2)), [self.r, self.n, self.n], dim=-1)
        dt = F.softplus(self.dt_proj(dt)).transpose(1, 2)  # (B, di, L)
        A = -torch.exp(self.A_log)
        dA = torch.exp(A[None, :, None, :] * dt[..., None])  # (B, di, L, N)
        dBu = dt[..., None] * Bm[:, None, :, :] * x[..., None]
        h = torch.zeros(x.shape[0], self.di, self.n, dtype=x.dtype)
        ys = []
        for t in range(L):
            h = dA[:, :, t] * h + dBu[:, :, t]
            ys.append((h * Cm[:, None, t, :]).sum(-1))
        y = torch.stack(ys, -1) + x * self.D[None, :, None]
        y = y * F.silu(z)
        return self.out_proj(y.transpose(1, 2))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = RMSNorm(c["hidden_size"], c["layer_norm_epsilon"])
        self.mixer = MambaMixer(c)

    def forward(self, h):
        return h + self.mixer(self.norm(h))


class Backbone(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Block(c) for _ in range(c["num_hidden_layers"])])
        self.norm_f = RMSNorm(c["hidden_size"], c["layer_norm_epsilon"])


class MambaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.backbone = Backbone(c)

    def forward(self, ids):
        h = self.backbone.embeddings(ids)
        for layer in self.backbone.layers:
            h = layer(h)
        return self.backbone.norm_f(h) @ self.backbone.embeddings.weight.t()  # tied head


def default_config(vocab=32, hidden=16, layers=2, state=4, expand=2, conv=4):
    return {"architectures": ["MambaForCausalLM"], "model_type": "mamba", "vocab_size": vocab,
            "hidden_size": hidden, "state_size": state, "num_hidden_layers": layers, "expand": expand,
            "intermediate_size": expand * hidden, "conv_kernel": conv, "time_step_rank": "auto",
            "layer_norm_epsilon": 1e-5, "use_bias": False, "use_conv_bias": True, "hidden_act": "silu",
            "residual_in_fp32": True, "tie_word_embeddings": True, "pad_token_id": 0,
            "bos_token_id": 0, "eos_token_id": 0}


def randomise(model, seed):
    """Random but well-scaled weights (not a training init): every parameter matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("A_log"):
                p.copy_(torch.log(torch.arange(1, p.shape[1] + 1, dtype=p.dtype)).repeat(p.shape[0], 1)
                        + 0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            elif name.endswith("norm.weight") or name.endswith("norm_f.weight") or name.endswith(".D"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            else:
                fan_in = p.shape[-1] if p.dim() > 1 else 4
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) / math.sqrt(fan_in))


def save_dir(model, path):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(model.config, f, indent=2)
    write_safetensors(os.path.join(path, "model.safetensors"),
                      {k: v for k, v in model.state_dict().items()}, {"format": "pt"})


def load_dir(path, dtype=torch.float32):
    with open(os.path.join(path, "config.json")) as f:
        c = json.load(f)
    model = MambaForCausalLM(c).to(dtype)
    tensors, _ = read_safetensors(os.path.join(path, "model.safetensors"))
    tensors.pop("lm_head.weight", None)
    model.load_state_dict({k: v.to(dtype) for k, v in tensors.items()}, strict=True)
    return model


def eval_tokens(model, path):
    total, count = 0.0, 0
    with torch.no_grad():
        for line in open(path):
            ids = [int(t) for t in line.split()]
            if len(ids) < 2:
                continue
            x = torch.tensor([ids])
            logits = model(x)[0, :-1]
            total += F.cross_entropy(logits.double(), x[0, 1:], reduction="sum").item()
            count += len(ids) - 1
    return {"loss": total / count, "tokens": count}


def fixture(out):
    torch.manual_seed(0)
    c = default_config(vocab=11, hidden=8, layers=2, state=4, expand=2, conv=4)
    model = MambaForCausalLM(c).double()
    randomise(model, 1)
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 11, (2, 7), generator=g)
    logits = model(ids)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, 11), ids[:, 1:].reshape(-1))
    loss.backward()
    tensors = {k: v.detach() for k, v in model.state_dict().items()}
    tensors.update({"grad." + k: p.grad for k, p in model.named_parameters()})
    tensors.update({"ids": ids, "logits": logits.detach(), "loss": loss.detach().reshape(())})
    write_safetensors(out, tensors, {"config": json.dumps(c), "generator": "tools/mamba_reference.py",
                                     "torch": torch.__version__})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write-dir")
    w.add_argument("dir")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--vocab", type=int, default=32)
    w.add_argument("--hidden", type=int, default=16)
    w.add_argument("--layers", type=int, default=2)
    w.add_argument("--state", type=int, default=4)
    w.add_argument("--expand", type=int, default=2)
    w.add_argument("--conv", type=int, default=4)
    w.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    e = sub.add_parser("eval")
    e.add_argument("dir")
    e.add_argument("tokens")
    e.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    fx = sub.add_parser("fixture")
    fx.add_argument("out")
    a = ap.parse_args()
    if a.cmd == "write-dir":
        c = default_config(a.vocab, a.hidden, a.layers, a.state, a.expand, a.conv)
        model = MambaForCausalLM(c).to(getattr(torch, a.dtype))
        randomise(model, a.seed)
        save_dir(model, a.dir)
    elif a.cmd == "eval":
        print(json.dumps(eval_tokens(load_dir(a.dir, getattr(torch, a.dtype)), a.tokens)))
    else:
        fixture(a.out)


if __name__ == "__main__":
    main()
