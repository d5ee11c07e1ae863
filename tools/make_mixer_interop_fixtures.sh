#!/usr/bin/env bash
# Regenerates tests/fixtures/models/interop_<MIXER>/, the interop fixtures of one non-Mamba mixer
# (s4, s4d, s5) for tests/models/interop_test.cpp (MixerInterop), from scratch:
#   ref/            a random float32 model dir written by tools/ssm_lm_reference.py (plain PyTorch
#                   around tools/<MIXER>_reference.py, the transcription of the paper's reference
#                   code): config.json + model.safetensors
#   ssm/            a model dir written by ssm's own writer: 200 steps of a tiny Pig-Latin LM over
#                   the mixer (configs/piglatin_small_<MIXER>.yaml)
#   expected.json   PyTorch's loss and token count (tools/ssm_lm_reference.py eval) for each dir
#                   on tests/fixtures/models/interop/tokens.txt (ids < 31: valid in both dirs)
# Usage (from anywhere, after ./ssm.sh build):
#   tools/make_mixer_interop_fixtures.sh MIXER [SSM_BINARY]     # default build/ssm
# Needs a python with torch: $SSM_PYTHON, default /usr/bin/python3 (Debian's python3-torch).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MIXER=${1:?usage: tools/make_mixer_interop_fixtures.sh MIXER [SSM_BINARY]}
SSM=$(realpath "${2:-build/ssm}")
PY=${SSM_PYTHON:-/usr/bin/python3}
OUT=tests/fixtures/models/interop_$MIXER
TOKENS=tests/fixtures/models/interop/tokens.txt
[ -x "$SSM" ] || { echo "no ssm binary at $SSM (run ./ssm.sh build)" >&2; exit 1; }
"$PY" -c "import torch" || { echo "$PY cannot import torch (apt-get install python3-torch)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$OUT"
mkdir -p "$OUT/ssm"

"$PY" tools/ssm_lm_reference.py write-dir "$OUT/ref" --mixer "$MIXER" --seed 7 --vocab 40 \
  --hidden 32 --layers 2 --state 8 --dtype float32

"$SSM" train --config "configs/piglatin_small_$MIXER.yaml" --output-dir "$tmp/run" --quiet \
  --set training.max_steps=200 --set training.threads=1 \
  --set training.early_stopping_metric=val_loss \
  --set model.d_model=16 --set model.d_state=8
cp "$tmp/run/config.json" "$tmp/run/model.safetensors" "$tmp/run/ssm_tokenizer.json" "$OUT/ssm/"

"$PY" - "$OUT" "$TOKENS" <<'PYEOF'
import json, os, sys
sys.path.insert(0, "tools")
import torch
import ssm_lm_reference as ref

out, tokens = sys.argv[1], sys.argv[2]
expected = {name: ref.eval_tokens(ref.load_dir(os.path.join(out, name)), tokens) for name in ("ref", "ssm")}
expected["generator"] = "tools/make_mixer_interop_fixtures.sh (tools/ssm_lm_reference.py eval, float32)"
expected["torch"] = torch.__version__
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=2)
    f.write("\n")
PYEOF
du -sh "$OUT"
cat "$OUT/expected.json"
