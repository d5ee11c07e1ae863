#!/usr/bin/python3
"""Writes the PyTorch reference fixtures the C++ op tests compare against.

Run with Debian's python3-torch (CPU):  /usr/bin/python3 tools/make_fixtures.py [family ...]

Each op family module under tools/fixtures/ defines OPS: {name: (fn, cases)} where fn(inputs, args)
returns a tuple of outputs and cases(g) returns [(case_label, [inputs], {args})]. For every case this
script stores, in tests/fixtures/ops/<name>.safetensors:
  <case>.in<k>    inputs (float64 for differentiable ones; int64 / bool for the others)
  <case>.out<k>   outputs of fn
  <case>.gout<k>  a random upstream gradient for each floating output
  <case>.gin<k>   the gradient of sum_k <out_k, gout_k> for each floating input
and in the metadata, "cases": a JSON list of {"name", "label", "args", "n_in", "n_out"}.
The args are passed verbatim to the C++ OpInfo entry of the same name (its op-table entry, beside the op in ops/).
"""
import importlib
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "ops")
FAMILIES = sorted(f[:-3] for f in os.listdir(os.path.join(HERE, "fixtures"))
                  if f.endswith(".py") and not f.startswith("_"))

DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64", torch.int32: "I32",
          torch.bool: "BOOL"}


def write_safetensors(path, tensors, metadata):
    """The safetensors layout, written by hand so the fixtures need nothing beyond torch."""
    header = {"__metadata__": metadata}
    chunks, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().tobytes() if t.dtype != torch.bool else bytes(t.to(torch.uint8).numpy())
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def make_op(name, fn, cases, g):
    tensors, meta = {}, []
    for i, (label, inputs, args) in enumerate(cases(g)):
        case = f"case{i}"
        leaves = []
        for k, x in enumerate(inputs):
            if x is None:  # an optional input left out: absent from the file too
                leaves.append(None)
                continue
            tensors[f"{case}.in{k}"] = x
            leaf = x.detach().clone() if x.dtype == torch.float64 else x
            if x.dtype == torch.float64:
                leaf.requires_grad_(True)
            leaves.append(leaf)
        outs = fn(leaves, args)
        if not isinstance(outs, (tuple, list)):
            outs = (outs,)
        roots, grads = [], []
        for k, y in enumerate(outs):
            tensors[f"{case}.out{k}"] = y
            if y.dtype.is_floating_point and y.requires_grad:
                v = torch.randn(y.shape, dtype=y.dtype, generator=g)
                tensors[f"{case}.gout{k}"] = v
                roots.append(y)
                grads.append(v)
        if roots:
            torch.autograd.backward(roots, grads)
        for k, leaf in enumerate(leaves):
            if leaf is not None and leaf.dtype == torch.float64:
                tensors[f"{case}.gin{k}"] = leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)
        meta.append({"name": case, "label": label, "args": args, "n_in": len(inputs),
                     "n_out": len(outs)})
    path = os.path.join(OUT_DIR, name + ".safetensors")
    write_safetensors(path, tensors, {"cases": json.dumps(meta), "generator": "tools/make_fixtures.py",
                                      "torch": torch.__version__})
    return len(meta)


def main():
    families = sys.argv[1:] or FAMILIES
    os.makedirs(OUT_DIR, exist_ok=True)
    sys.path.insert(0, HERE)
    torch.set_default_dtype(torch.float64)
    for fam in families:
        mod = importlib.import_module("fixtures." + fam)
        for name, (fn, cases) in sorted(mod.OPS.items()):
            g = torch.Generator().manual_seed(sum(map(ord, name)))  # stable per op name
            n = make_op(name, fn, cases, g)
            print(f"{fam}: {name}: {n} cases")


if __name__ == "__main__":
    main()
