#!/usr/bin/env bash
# Builds the libFuzzer targets in build-fuzz (clang, ASan + UBSan) and fuzzes the safetensors
# reader for SECONDS (default 60), seeded with a scratch copy of tests/data/safetensors_good and
# tests/data/safetensors_bad. Exits non-zero when the fuzzer finds a crash; the input that
# triggered it is kept in build-fuzz/fuzz-artifacts/ (reproduce: build-fuzz/fuzz/safetensors_fuzz
# FILE).
#
#   tools/run_fuzz.sh [SECONDS]
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DSSM_FUZZ=ON -DSSM_BUILD_TESTS=OFF -DSSM_BUILD_BENCH=OFF -DSSM_BUILD_CLI=OFF -DSSM_CUDA=OFF \
  > /dev/null
ninja -C "$build" -j "${SSM_JOBS:-$(nproc)}" safetensors_fuzz

# The fuzzer adds what it finds to its corpus directory: never let that be the repository's.
corpus="$build/corpus/safetensors"
artifacts="$build/fuzz-artifacts"
rm -rf "$corpus"
mkdir -p "$corpus" "$artifacts"
cp "$root"/tests/data/safetensors_good/*.safetensors "$corpus"/
cp "$root"/tests/data/safetensors_bad/*.safetensors "$corpus"/

# Headers of a few KB exercise every rule; -max_len keeps executions fast.
"$build/fuzz/safetensors_fuzz" "$corpus" \
  -dict="$root/fuzz/safetensors.dict" \
  -max_len=8192 \
  -max_total_time="$seconds" \
  -artifact_prefix="$artifacts/" \
  -print_final_stats=1
