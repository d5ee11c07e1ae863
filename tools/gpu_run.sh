#!/usr/bin/env bash
# Runs the whole GPU check from binaries built elsewhere (device time is scarce; building there
# takes minutes), in one call on the GPU machine:
#   nvidia-smi; the GPU tests (gtest XML); the kernel bench; the Mamba-130M bench; Pig-Latin
#   (small) trained with `ssm train --device cuda` and scored on the GPU and on the CPU;
#   `ssm translate` / `ssm generate` on both devices; transformers + TensorBoard readback of the
#   GPU-trained model dir (tools/hf_check.py). Logs go to $OUT (default ./gpu-out).
#
# Build here first (sm_90) and stage what travels:
#   tools/gpu_stage.sh            # -> .devcarry/pack/bin.tar.xz (binaries), .devcarry/lib
# then, through the device tool, with carry [".devcarry/pack", ".devcarry/lib", ".devcarry/data"]
# (and ".devcarry/runs" to continue stopped training runs, see the train step):
#   bash tools/gpu_run.sh
# Set SSM_GPU_STEPS to a space-separated subset of: tests bench model piglatin interop family
# train (default: the first five). `family` times the S4 family's kernels and mixers
# (ssm_gpu_bench s4d s5 s4) and their references side by side (tools/s4_torch_bench.py: S4D and
# S4 in plain PyTorch; tools/s5_jax_bench.py: the S5 SSM in JAX); `train` trains each config of
# $SSM_GPU_CONFIGS (names under configs/) on the GPU, at most $SSM_GPU_TRAIN_S seconds each, and
# scores it with `ssm eval`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-gpu-out}
BIN=${SSM_GPU_BIN:-.devcarry/bin}
STEPS=${SSM_GPU_STEPS:-tests bench model piglatin interop}
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$PWD/.devcarry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
mkdir -p "$OUT"
# Unpacked once per machine: two instances may run side by side (a stamp newer than the pack).
if [ -f .devcarry/pack/bin.tar.xz ] && [ "$BIN" = .devcarry/bin ] &&
   ! [ .devcarry/bin/.unpacked -nt .devcarry/pack/bin.tar.xz ]; then
  tar -C .devcarry -xJf .devcarry/pack/bin.tar.xz && touch .devcarry/bin/.unpacked
fi
# Data sets the GPU machine cannot fetch (it has no network) travel packed in .devcarry/data:
#   tar -C DATA_DIR -cf - mnist | xz > .devcarry/data/mnist.tar.xz   (after `ssm data build`)
for d in .devcarry/data/*.tar.xz; do
  [ -f "$d" ] && ! [ -d "data/$(basename "$d" .tar.xz)" ] && tar -C data -xJf "$d"
done
export SSM_DATA=${SSM_DATA:-$PWD/data}
start=$(date +%s)
step() { printf '\n== %s (%ds)\n' "$*" "$(($(date +%s) - start))"; }
has() { [[ " $STEPS " == *" $1 "* ]]; }
rc=0

step "nvidia-smi"
nvidia-smi > "$OUT/nvidia-smi.log" 2>&1
grep -E "NVIDIA H|Driver" "$OUT/nvidia-smi.log" | head -n 3

if has tests; then
  step "GPU tests"
  timeout 300 "$BIN/ssm_gpu_tests" --gtest_output="xml:$OUT/gpu_tests.xml" > "$OUT/gpu_tests.log" 2>&1 || rc=1
  grep -E "^\[  FAILED|^\[  PASSED|SKIPPED \]|tests ran" "$OUT/gpu_tests.log" | sort | uniq -c | sort -rn | head -n 80
fi

if has bench; then
  step "kernel bench"
  timeout 200 "$BIN/ssm_gpu_bench" scan dense elementwise optim copy > "$OUT/gpu_bench.log" 2>&1 || rc=1
  cat "$OUT/gpu_bench.log"
fi

if has model; then
  step "Mamba-130M bench"
  timeout 200 "$BIN/ssm_gpu_bench" model > "$OUT/model_bench.log" 2>&1 || rc=1
  cat "$OUT/model_bench.log"
fi

if has piglatin; then
  step "Pig-Latin small on the GPU"
  t0=$SECONDS
  timeout 300 "$BIN/ssm" train -c configs/piglatin_small_mamba.yaml --device cuda \
      -o "$OUT/pll_gpu" -q > "$OUT/pll_train.log" 2>&1 || rc=1
  echo "ssm train (Pig-Latin small, cuda): $((SECONDS - t0)) s wall"
  tail -n 8 "$OUT/pll_train.log"
  rm -rf "$OUT/pll_gpu/checkpoints"
  for dev in cuda cpu; do
    echo "eval on $dev: $("$BIN/ssm" eval -m "$OUT/pll_gpu" --data piglatin_small --device $dev --json 2>&1)"
  done
  echo "eval on cuda, bf16: $("$BIN/ssm" eval -m "$OUT/pll_gpu" --data piglatin_small --device cuda --precision bf16 --json 2>&1)"
  for dev in cuda cpu; do
    echo "translate on $dev:"
    "$BIN/ssm" translate -m "$OUT/pll_gpu" --device $dev --check strength conditioning is pleasure table 2>&1 | tail -n 6
    echo "generate on $dev (greedy): $("$BIN/ssm" generate -m "$OUT/pll_gpu" --device $dev -p "strength" -t 0 -n 16 2>&1 | tr -c '[:print:]\n' '.')"
  done
fi

if has family; then
  step "S4 family: kernels and mixers"
  timeout 300 "$BIN/ssm_gpu_bench" s4d s5 s4 > "$OUT/family_bench.log" 2>&1 || rc=1
  cat "$OUT/family_bench.log"
  step "S4 family: S4 and S4D with the fused long_conv kernel (SSM_FUSED_LONG_CONV=1)"
  SSM_FUSED_LONG_CONV=1 timeout 300 "$BIN/ssm_gpu_bench" s4d s4 > "$OUT/family_bench_fused.log" 2>&1 || rc=1
  cat "$OUT/family_bench_fused.log"
  if [ "${SSM_GPU_REFS:-1}" = 1 ]; then  # SSM_GPU_REFS=0: ours only
    step "S4 family: references on the same card (PyTorch S4D / S4 without extensions, JAX S5)"
    timeout 240 python3 tools/s4_torch_bench.py --device cuda > "$OUT/torch_s4.log" 2>&1 || rc=1
    cat "$OUT/torch_s4.log"
    timeout 240 python3 tools/s5_jax_bench.py > "$OUT/jax_s5.log" 2>&1 || rc=1
    tail -n 8 "$OUT/jax_s5.log"
  fi
fi

if has train; then
  # Each config trains at most $SSM_GPU_TRAIN_S seconds, then gets SIGTERM, which writes a
  # checkpoint: a run carried back in .devcarry/runs/<config> continues with --resume. With
  # SSM_GPU_TRAIN_JOBS > 1 that many configs share the GPU at once (small models leave it mostly
  # idle; their times are then not those of a run alone). $SSM_GPU_TRAIN_ARGS goes to every
  # `ssm train` (e.g. --set training.epochs=20).
  train_one() {
    local cfg=$1 t0=$SECONDS resume=()
    if [ -d ".devcarry/runs/$cfg/checkpoints" ]; then
      rm -rf "$OUT/$cfg" && cp -r ".devcarry/runs/$cfg" "$OUT/$cfg" && resume=(--resume)
    fi
    # shellcheck disable=SC2086
    timeout -s TERM -k 60 "${SSM_GPU_TRAIN_S:-240}" "$BIN/ssm" train -c "configs/$cfg.yaml" \
        --device cuda -o "$OUT/$cfg" -q "${resume[@]}" ${SSM_GPU_TRAIN_ARGS:-} >> "$OUT/$cfg.log" 2>&1
    local st=$?
    {
      echo "ssm train $cfg ${resume[*]} (cuda): $((SECONDS - t0)) s wall, exit $st"
      tail -n 4 "$OUT/$cfg.log"
      echo "eval on cuda: $("$BIN/ssm" eval -m "$OUT/$cfg" --device cuda --json 2>&1 | tail -n 3)"
    } > "$OUT/$cfg.summary"
    # A finished run needs no checkpoints; a stopped one keeps them to continue.
    [ "$st" = 0 ] && rm -rf "$OUT/$cfg/checkpoints"
  }
  jobs_max=${SSM_GPU_TRAIN_JOBS:-1}
  for cfg in ${SSM_GPU_CONFIGS:-piglatin_small_s4d piglatin_small_s5 piglatin_small_s4}; do
    step "train $cfg on the GPU"
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do sleep 2; done
    train_one "$cfg" &
  done
  wait
  for cfg in ${SSM_GPU_CONFIGS:-piglatin_small_s4d piglatin_small_s5 piglatin_small_s4}; do
    cat "$OUT/$cfg.summary"
  done
fi

if has interop; then
  step "transformers + TensorBoard readback of the GPU-trained dir"
  if [ -d "$OUT/pll_gpu" ]; then
    python3 tools/hf_check.py --events "$OUT/pll_gpu" --dir "$OUT/pll_gpu" --ssm "$BIN/ssm" > "$OUT/hf_check.log" 2>&1 || rc=1
    tail -n 12 "$OUT/hf_check.log"
  fi
fi

step "done (exit $rc)"
exit $rc
