#!/usr/bin/env bash
# Builds, checks and times the CUDA backend on a GPU machine, in one call:
#   configure a fresh build (sm_90), build ssm_gpu_tests and ssm_gpu_bench with every core, run
#   nvidia-smi, the GPU tests (gtest XML) and the GPU bench. Logs go to $OUT (default ./gpu-out):
#   nvidia-smi.log, configure.log, build.log, resources.log (registers / shared memory / spills
#   of every kernel), gpu_tests.log, gpu_tests.xml, gpu_bench.log. Exits non-zero when the build
#   or a test fails. Run from the repository root:
#     tools/gpu_check.sh                      (through the device tool: OUT is set there)
# GoogleTest: the system package when CMake finds it, else built from /usr/src/googletest.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT=${OUT:-gpu-out}
BUILD=${SSM_GPU_BUILD_DIR:-build-gpu}
ARCH=${SSM_CUDA_ARCH:-90}
JOBS=$(nproc)
mkdir -p "$OUT"
start=$(date +%s)
step() { printf '== %s (%ds)\n' "$*" "$(($(date +%s) - start))"; }

step "nvidia-smi"
nvidia-smi > "$OUT/nvidia-smi.log" 2>&1
head -n 12 "$OUT/nvidia-smi.log"

rm -rf "$BUILD"
cmake_args=(-S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$ARCH"
            -DSSM_CUDA=ON -DSSM_BUILD_BENCH=ON -DSSM_BUILD_CLI=OFF)
if ! cmake "${cmake_args[@]}" > "$OUT/configure.log" 2>&1; then
  if grep -q "GTest" "$OUT/configure.log" && [ -d /usr/src/googletest ]; then
    step "no GoogleTest package: building it from /usr/src/googletest"
    rm -rf "$BUILD"
    gt="$PWD/$BUILD/_googletest"
    { cmake -S /usr/src/googletest -B "$gt/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$gt/install" -DBUILD_GMOCK=OFF &&
      ninja -C "$gt/build" -j "$JOBS" install; } >> "$OUT/configure.log" 2>&1 || {
      echo "building GoogleTest failed; see configure.log"; tail -n 30 "$OUT/configure.log"; exit 2; }
    cmake "${cmake_args[@]}" -DCMAKE_PREFIX_PATH="$gt/install" >> "$OUT/configure.log" 2>&1 || {
      echo "configure failed"; tail -n 40 "$OUT/configure.log"; exit 2; }
  else
    echo "configure failed"; tail -n 40 "$OUT/configure.log"; exit 2
  fi
fi

step "building ssm_gpu_tests ssm_gpu_bench ($JOBS jobs)"
if ! ninja -C "$BUILD" -j "$JOBS" ssm_gpu_tests ssm_gpu_bench > "$OUT/build.log" 2>&1; then
  echo "build failed"; grep -E "error|FAILED" "$OUT/build.log" | head -n 40; exit 2
fi
cuobjdump -res-usage "$BUILD/CMakeFiles/ssm.dir/ops/cuda/selective_scan.cu.o" 2>&1 | c++filt \
  > "$OUT/resources.log" || true

step "GPU tests"
"$BUILD/tests/ssm_gpu_tests" --gtest_output="xml:$OUT/gpu_tests.xml" > "$OUT/gpu_tests.log" 2>&1
tests_rc=$?
grep -E "^\[ relerr|FAILED|Failure|PASSED|SKIPPED|error" "$OUT/gpu_tests.log" | head -n 60

step "GPU bench"
"$BUILD/bench/ssm_gpu_bench" > "$OUT/gpu_bench.log" 2>&1
bench_rc=$?
cat "$OUT/gpu_bench.log"

step "done: tests exit $tests_rc, bench exit $bench_rc"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
