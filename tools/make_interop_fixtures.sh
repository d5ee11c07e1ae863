#!/usr/bin/env bash
# Regenerates tests/fixtures/models/interop/, the Hugging Face interop fixtures of
# tests/models/interop_test.cpp, from scratch:
#   ref/            a random float32 model dir written by tools/mamba_reference.py (plain PyTorch,
#                   MambaForCausalLM layout): config.json + model.safetensors
#   ssm/            a model dir written by ssm's own writer: 300 steps of a tiny Pig-Latin Mamba
#                   (config.json + model.safetensors + ssm_tokenizer.json)
#   tokens.txt      token-id lines of varied lengths (< 31, valid in both dirs): Pig-Latin pairs
#                   as the task encodes them, random ids, a one-token line (no prediction)
#   expected.json   PyTorch's loss and token count (tools/mamba_reference.py eval) for each dir
# Usage (from anywhere, after ./ssm.sh build):
#   tools/make_interop_fixtures.sh [SSM_BINARY]     # default build/ssm
# Needs a python with torch: $SSM_PYTHON, default /usr/bin/python3 (Debian's python3-torch).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SSM=$(realpath "${1:-build/ssm}")
PY=${SSM_PYTHON:-/usr/bin/python3}
OUT=tests/fixtures/models/interop
[ -x "$SSM" ] || { echo "no ssm binary at $SSM (run ./ssm.sh build)" >&2; exit 1; }
"$PY" -c "import torch" || { echo "$PY cannot import torch (apt-get install python3-torch)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$OUT"
mkdir -p "$OUT/ssm"

"$PY" tools/mamba_reference.py write-dir "$OUT/ref" --seed 7 --vocab 40 --hidden 32 --layers 2 \
  --state 8 --expand 2 --conv 4 --dtype float32

# Best model by validation loss, so the dir holds the last (most trained) weights.
"$SSM" train --config configs/piglatin_small_mamba.yaml --output-dir "$tmp/run" --quiet \
  --set training.max_steps=300 --set training.threads=1 \
  --set training.early_stopping_metric=val_loss \
  --set model.d_model=16 --set model.d_state=8
cp "$tmp/run/config.json" "$tmp/run/model.safetensors" "$tmp/run/ssm_tokenizer.json" "$OUT/ssm/"

"$PY" - "$OUT" <<'EOF'
import json, os, random, sys
sys.path.insert(0, "tools")
import torch
import mamba_reference as ref

out = sys.argv[1]
tok = json.load(open(os.path.join(out, "ssm", "ssm_tokenizer.json")))
ids = {t: i for i, t in enumerate(tok["tokens"])}
sp = tok["special"]
rng = random.Random(0)
pairs = [line.split("\t") for line in open("data/piglatin_small.tsv").read().split("\n") if line]
lines = []
for word, pig in rng.sample(pairs, 6) + pairs[:2]:  # "the" pair: 11 ids, as one random line
    lines.append([sp["sos"]] + [ids[c] for c in word] + [sp["sep"]] + [ids[c] for c in pig] + [sp["eos"]])
for n in (1, 2, 9, 11, 33, 70):
    lines.append([rng.randrange(len(ids)) for _ in range(n)])
with open(os.path.join(out, "tokens.txt"), "w") as f:
    f.writelines(" ".join(map(str, l)) + "\n" for l in lines)

expected = {name: ref.eval_tokens(ref.load_dir(os.path.join(out, name)), os.path.join(out, "tokens.txt"))
            for name in ("ref", "ssm")}
expected["generator"] = "tools/make_interop_fixtures.sh (tools/mamba_reference.py eval, float32)"
expected["torch"] = torch.__version__
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=2)
    f.write("\n")
EOF
du -sh "$OUT"
cat "$OUT/expected.json"
