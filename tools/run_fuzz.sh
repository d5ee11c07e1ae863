#!/usr/bin/env bash
# Builds the libFuzzer targets in build-fuzz (clang, ASan + UBSan) and fuzzes each reader for
# SECONDS (default 60): the safetensors reader, seeded with a scratch copy of
# tests/data/safetensors_good and tests/data/safetensors_bad, and the YAML config reader, seeded
# with the shipped configs/. Exits non-zero when a fuzzer finds a crash; the input that triggered
# it is kept in build-fuzz/fuzz-artifacts/ (reproduce: build-fuzz/fuzz/<target> FILE).
#
#   tools/run_fuzz.sh [SECONDS]
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DSSM_FUZZ=ON -DSSM_BUILD_TESTS=OFF -DSSM_BUILD_BENCH=OFF -DSSM_BUILD_CLI=OFF -DSSM_CUDA=OFF \
  > /dev/null
ninja -C "$build" -j "${SSM_JOBS:-$(nproc)}" safetensors_fuzz config_fuzz

# The fuzzers add what they find to their corpus directories: never let that be the repository's.
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
fresh_corpus() {
  rm -rf "$build/corpus/$1"
  mkdir -p "$build/corpus/$1"
  echo "$build/corpus/$1"
}

# fuzz TARGET DICT MAX_LEN: runs build-fuzz/fuzz/TARGET on the corpus folder of that name.
fuzz() {
  "$build/fuzz/$1" "$build/corpus/${1%_fuzz}" \
    -dict="$root/fuzz/$2" \
    -max_len="$3" \
    -max_total_time="$seconds" \
    -artifact_prefix="$artifacts/" \
    -print_final_stats=1
}

corpus=$(fresh_corpus safetensors)
cp "$root"/tests/data/safetensors_good/*.safetensors "$corpus"/
cp "$root"/tests/data/safetensors_bad/*.safetensors "$corpus"/
# Headers of a few KB exercise every rule; -max_len keeps executions fast.
fuzz safetensors_fuzz safetensors.dict 8192

corpus=$(fresh_corpus config)
cp "$root"/configs/*.yaml "$corpus"/
fuzz config_fuzz config.dict 4096
