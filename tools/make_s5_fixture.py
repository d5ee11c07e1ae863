#!/usr/bin/python3
"""Writes tests/fixtures/nn/s5.safetensors: one S5 mixer (tools/s5_reference.py, float64) per
variant, with its input, output, a random upstream gradient and the gradient of every parameter
and of the input, for tests/nn/s5_test.cpp.

  /usr/bin/python3 tools/make_s5_fixture.py

Per case c: c.param.<name>, c.x (B, L, H), c.out, c.gout, c.gx, c.grad.<name>, and c.seq_start
(B, L) int64 where the case packs sequences; metadata "cases": the config.json keys of each.
"""
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mamba_reference import write_safetensors  # noqa: E402
import s5_reference  # noqa: E402

H, N, BATCH, L = 4, 6, 2, 7
VARIANTS = [
    ("zoh", {}),
    ("bilinear", {"ssm_discretization": "bilinear"}),
    ("no_conj_sym", {"ssm_conj_sym": False}),
    ("bidirectional", {"ssm_bidirectional": True}),
    ("clip_eigs", {"ssm_clip_eigs": True}),
    ("packed", {}),
]


def main():
    g = torch.Generator().manual_seed(5)
    tensors, cases = {}, []
    for name, extra in VARIANTS:
        c = {"hidden_size": H}
        c.update(s5_reference.mixer_config(H, N))
        c.update(extra)
        m = s5_reference.Mixer(c).double()
        with torch.no_grad():
            for pname, p in m.named_parameters():
                if not s5_reference.randomise(pname, p, g):
                    p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) / math.sqrt(p.shape[-1] if p.dim() > 1 else 4))
            if name == "clip_eigs":  # some eigenvalues in the right half plane: the clip bites
                m.Lambda_re[0] = 0.3
        x = torch.randn(BATCH, L, H, generator=g, dtype=torch.float64, requires_grad=True)
        seq_start = None
        if name == "packed":
            seq_start = torch.zeros(BATCH, L, dtype=torch.int64)
            seq_start[0, 3] = seq_start[1, 1] = seq_start[1, 5] = 1
            tensors[f"{name}.seq_start"] = seq_start
        out = m(x, seq_start)
        gout = torch.randn(out.shape, generator=g, dtype=torch.float64)
        out.backward(gout)
        for pname, p in m.named_parameters():
            tensors[f"{name}.param.{pname}"] = p.detach().clone()
            tensors[f"{name}.grad.{pname}"] = p.grad.clone()
        tensors[f"{name}.x"] = x.detach()
        tensors[f"{name}.out"] = out.detach()
        tensors[f"{name}.gout"] = gout
        tensors[f"{name}.gx"] = x.grad.clone()
        cases.append({"name": name, "config": c})
    path = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "nn", "s5.safetensors")
    write_safetensors(path, tensors, {"cases": json.dumps(cases)})
    print(f"wrote {path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
