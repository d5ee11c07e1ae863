#!/usr/bin/env python3
"""Interop with the real libraries, run where Hugging Face transformers and tensorboard are
installed (the GPU machine; Debian has neither).

  python3 tools/hf_check.py [--events RUN_DIR]

1. Loads the committed model dirs tests/fixtures/models/interop/{ssm,ref} (ssm/ written by
   `ssm train`, ref/ by tools/mamba_reference.py) with transformers' MambaForCausalLM
   (from_pretrained, its own slow path, float32, CPU) and computes the mean next-token
   cross-entropy over tokens.txt: it must equal expected.json (the loss that `ssm eval --tokens
   --json` gives, to 2e-8) to 1e-4 relative.
2. Compares MambaForCausalLM's logits with tools/mamba_reference.py's on the same dir (the
   reference that the C++ model is tested against in float64): max abs difference.
3. With --events, reads an ssm run directory's TensorBoard event file with TensorBoard's
   EventAccumulator and checks its train/loss scalars against the run's metrics.jsonl.
4. With --dir D --ssm BIN: loads the model dir D (e.g. one `ssm train --device cuda` wrote) with
   MambaForCausalLM (on the GPU when torch sees one) and compares its mean next-token loss on 16
   random token lines with `BIN eval --tokens --json` on each of --devices (default cuda cpu),
   to 1e-4 relative.
Prints one JSON object per check; exits 1 when a check fails.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIX = os.path.join(ROOT, "tests", "fixtures", "models", "interop")
sys.path.insert(0, HERE)
import mamba_reference  # noqa: E402


def token_lines(path):
    out = []
    for line in open(path):
        ids = [int(t) for t in line.split()]
        if len(ids) >= 2:
            out.append(ids)
    return out


def hf_loss(model, seqs):
    total, count = 0.0, 0
    with torch.no_grad():
        for ids in seqs:
            x = torch.tensor([ids])
            logits = model(input_ids=x).logits[0, :-1]
            total += F.cross_entropy(logits.double(), x[0, 1:], reduction="sum").item()
            count += len(ids) - 1
    return total / count, count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", help="an ssm run directory with events.out.tfevents.* and metrics.jsonl")
    ap.add_argument("--dir", help="a model dir to load with MambaForCausalLM and compare with ssm eval")
    ap.add_argument("--ssm", help="the ssm binary (for --dir)")
    ap.add_argument("--devices", nargs="*", default=["cuda", "cpu"], help="ssm eval devices (for --dir)")
    a = ap.parse_args()
    import transformers
    from transformers import MambaForCausalLM

    ok = True
    expected = json.load(open(os.path.join(FIX, "expected.json")))
    seqs = token_lines(os.path.join(FIX, "tokens.txt"))
    for name in ("ssm", "ref"):
        d = os.path.join(FIX, name)
        model = MambaForCausalLM.from_pretrained(d, torch_dtype=torch.float32).eval()
        loss, count = hf_loss(model, seqs)
        want = expected[name]["loss"]
        rel = abs(loss - want) / abs(want)
        ref = mamba_reference.load_dir(d, torch.float32).eval()
        with torch.no_grad():
            diff = max((model(input_ids=torch.tensor([s])).logits - ref(torch.tensor([s]))).abs().max().item()
                       for s in seqs)
        good = rel <= 1e-4 and count == expected[name]["tokens"] and diff <= 1e-4
        ok &= good
        print(json.dumps({"check": f"MambaForCausalLM loads {name}/", "transformers": transformers.__version__,
                          "hf_loss": loss, "ssm_eval_loss": want, "relative_error": rel, "tokens": count,
                          "max_abs_logit_diff_vs_reference": diff, "ok": good}))

    if a.events:
        from tensorboard.backend.event_processing import event_accumulator as ea
        acc = ea.EventAccumulator(a.events, size_guidance={ea.SCALARS: 0})
        acc.Reload()
        tags = acc.Tags()["scalars"]
        tb = {e.step: e.value for e in acc.Scalars("train/loss")} if "train/loss" in tags else {}
        ours = {}
        for line in open(os.path.join(a.events, "metrics.jsonl")):
            r = json.loads(line)
            if r.get("split") == "train" and "loss" in r:
                ours[r["step"]] = r["loss"]
        common = sorted(set(tb) & set(ours))
        worst = max((abs(tb[s] - ours[s]) / max(abs(ours[s]), 1e-30) for s in common), default=float("inf"))
        good = len(common) > 0 and len(common) == len(ours) and worst < 1e-6
        ok &= good
        print(json.dumps({"check": "TensorBoard reads ssm's event file", "scalar_tags": tags,
                          "train_loss_points": len(tb), "metrics_jsonl_points": len(ours),
                          "max_relative_difference": worst, "ok": good}))
    if a.dir:
        import random
        import subprocess
        import tempfile
        cfg = json.load(open(os.path.join(a.dir, "config.json")))
        rng = random.Random(0)
        seqs = [[rng.randrange(cfg["vocab_size"]) for _ in range(rng.randrange(2, 40))] for _ in range(16)]
        dev = "cuda" if torch.cuda.is_available() else "cpu"
        model = MambaForCausalLM.from_pretrained(a.dir, torch_dtype=torch.float32).to(dev).eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for ids in seqs:
                x = torch.tensor([ids], device=dev)
                logits = model(input_ids=x).logits[0, :-1]
                total += F.cross_entropy(logits.double(), x[0, 1:], reduction="sum").item()
                count += len(ids) - 1
        hf = total / count
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(" ".join(map(str, s)) for s in seqs) + "\n")
        for d in a.devices:
            r = subprocess.run([a.ssm, "eval", "-m", a.dir, "--tokens", f.name, "--json", "--device", d],
                               capture_output=True, text=True)
            if r.returncode != 0:
                ok = False
                print(json.dumps({"check": f"ssm eval on {d}", "error": r.stderr.strip(), "ok": False}))
                continue
            got = json.loads(r.stdout)
            rel = abs(got["loss"] - hf) / abs(hf)
            good = rel <= 1e-4 and int(got["tokens"]) == count
            ok &= good
            print(json.dumps({"check": f"MambaForCausalLM ({dev}) loads {a.dir}; ssm eval on {d}",
                              "hf_loss": hf, "ssm_eval_loss": got["loss"], "relative_error": rel,
                              "tokens": count, "ok": good}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
