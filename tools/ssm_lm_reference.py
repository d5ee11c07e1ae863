#!/usr/bin/python3
"""A plain-PyTorch language model around any of ssm's non-Mamba mixers (S4, S4D, S5), in the
layout ssm's `lm` architecture writes: Hugging Face's MambaForCausalLM names around the mixer.

  backbone.embeddings.weight, backbone.layers.{i}.norm.weight (RMSNorm, layer_norm_epsilon),
  backbone.layers.{i}.mixer.*, backbone.norm_f.weight, head tied to the embeddings;
  each block is h = h + mixer(RMSNorm(h)).

The mixer comes from tools/<mixer>_reference.py, a transcription of the paper's reference code
(Debian's python3-torch, CPU). Such a module provides:
  Mixer(config)                 an nn.Module mapping (B, L, hidden_size) -> (B, L, hidden_size),
                                built from the config.json dict, with ssm's parameter names
  mixer_config(hidden, state)   the mixer's config.json keys (state_size, ssm_* ...) as ssm writes
                                them for those sizes
  randomise(name, p, g)         optional: fills parameter `name` (mixer-relative, "kernel.C") with
                                random but well-scaled values from generator g; False to leave it
                                to the default (randn / sqrt(fan_in))

  /usr/bin/python3 tools/ssm_lm_reference.py write-dir DIR --mixer M [--seed S] [--vocab V]
        [--hidden H] [--layers N] [--state N] [--dtype float32|float64]
      writes a random model dir: config.json ("model_type": "ssm", "ssm_mixer": M) +
      model.safetensors (the tied head is not stored)
  /usr/bin/python3 tools/ssm_lm_reference.py eval DIR TOKENS_FILE [--dtype ...]
      prints {"loss": mean next-token cross-entropy (nats) over all predicted positions,
              "tokens": number of predicted positions}, as `ssm eval --tokens FILE --json` does
"""
import argparse
import importlib
import json
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mamba_reference import RMSNorm, eval_tokens, read_safetensors, save_dir  # noqa: E402


def mixer_module(name):
    return importlib.import_module(f"{name}_reference")


class Block(nn.Module):
    def __init__(self, c, mod):
        super().__init__()
        self.norm = RMSNorm(c["hidden_size"], c["layer_norm_epsilon"])
        self.mixer = mod.Mixer(c)

    def forward(self, h):
        return h + self.mixer(self.norm(h))


class Backbone(nn.Module):
    def __init__(self, c, mod):
        super().__init__()
        self.embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Block(c, mod) for _ in range(c["num_hidden_layers"])])
        self.norm_f = RMSNorm(c["hidden_size"], c["layer_norm_epsilon"])


class SSMForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.backbone = Backbone(c, mixer_module(c["ssm_mixer"]))

    def forward(self, ids):
        h = self.backbone.embeddings(ids)
        for layer in self.backbone.layers:
            h = layer(h)
        return self.backbone.norm_f(h) @ self.backbone.embeddings.weight.t()  # tied head


def default_config(mixer, vocab=32, hidden=16, layers=2, state=8):
    c = {"architectures": ["SSMForCausalLM"], "model_type": "ssm", "ssm_mixer": mixer,
         "vocab_size": vocab, "hidden_size": hidden, "num_hidden_layers": layers,
         "initializer_range": 0.02, "layer_norm_epsilon": 1e-5, "residual_in_fp32": True,
         "tie_word_embeddings": True, "pad_token_id": None, "bos_token_id": None,
         "eos_token_id": None, "use_cache": True, "torch_dtype": "float32"}
    c.update(mixer_module(mixer).mixer_config(hidden, state))
    return c


def randomise(model, seed):
    """Random but well-scaled weights (not a training init): every parameter matters."""
    g = torch.Generator().manual_seed(seed)
    mod = mixer_module(model.config["ssm_mixer"])
    own = getattr(mod, "randomise", None)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".mixer." in name and own is not None and own(name.split(".mixer.", 1)[1], p, g):
                continue
            if name.endswith("norm.weight") or name.endswith("norm_f.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            else:
                fan_in = p.shape[-1] if p.dim() > 1 else 4
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) / math.sqrt(fan_in))


def load_dir(path, dtype=torch.float32):
    with open(os.path.join(path, "config.json")) as f:
        c = json.load(f)
    model = SSMForCausalLM(c).to(dtype)
    tensors, _ = read_safetensors(os.path.join(path, "model.safetensors"))
    tensors.pop("lm_head.weight", None)
    model.load_state_dict({k: v.to(dtype) for k, v in tensors.items()}, strict=True)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write-dir")
    w.add_argument("dir")
    w.add_argument("--mixer", required=True)
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--vocab", type=int, default=32)
    w.add_argument("--hidden", type=int, default=16)
    w.add_argument("--layers", type=int, default=2)
    w.add_argument("--state", type=int, default=8)
    w.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    e = sub.add_parser("eval")
    e.add_argument("dir")
    e.add_argument("tokens")
    e.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    a = ap.parse_args()
    if a.cmd == "write-dir":
        c = default_config(a.mixer, a.vocab, a.hidden, a.layers, a.state)
        model = SSMForCausalLM(c).to(getattr(torch, a.dtype))
        randomise(model, a.seed)
        save_dir(model, a.dir)
    else:
        print(json.dumps(eval_tokens(load_dir(a.dir, getattr(torch, a.dtype)), a.tokens)))


if __name__ == "__main__":
    main()
