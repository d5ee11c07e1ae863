#!/usr/bin/env bash
# Builds the GPU binaries here (no GPU needed: nvcc cross-compiles for sm_90) and stages them for
# the device tool: stripped binaries in .devcarry/bin, packed with OpenBLAS (lib/) into
# .devcarry/pack/bin.tar.xz, the smaller runtime libraries the GPU machine may lack in
# .devcarry/lib (.devcarry is ignored by git). Then run tools/gpu_run.sh there with
# carry [".devcarry/pack", ".devcarry/lib"].
#   tools/gpu_stage.sh [build-dir]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${1:-build-gpu}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DSSM_CUDA=ON \
  -DSSM_BUILD_BENCH=ON -DSSM_BUILD_CLI=ON > /dev/null
ninja -C "$BUILD" -j "$(nproc)" ssm_cli ssm_gpu_tests ssm_gpu_bench
mkdir -p .devcarry/bin .devcarry/lib
for b in ssm tests/ssm_gpu_tests bench/ssm_gpu_bench; do
  cp "$BUILD/$b" .devcarry/bin/ && strip ".devcarry/bin/$(basename "$b")"
done
# libgomp, yaml-cpp (the GPU machine's Ubuntu has another soname) and the CUDA runtime;
# cuBLAS/cuBLASLt (hundreds of MB) come from the GPU machine's own /usr/local/cuda (tools/gpu_run.sh
# puts .devcarry/lib and /usr/local/cuda on LD_LIBRARY_PATH, ahead of the binaries' RUNPATH).
ldd .devcarry/bin/ssm | awk '/libgomp|libcudart|libyaml-cpp/ {print $3}' | xargs -r -I{} cp -L {} .devcarry/lib/
# OpenBLAS, the OpenMP build the binaries were linked with (CMakeLists.txt), and the Fortran
# runtime it needs: the GPU machine may have neither, or Ubuntu's pthread build under the same
# soname. At 36 MB it travels in the pack, under lib/, which tools/gpu_run.sh unpacks into
# .devcarry/lib.
blas=$(ldd .devcarry/bin/ssm | awk '/libopenblas/ {print $3}')
case "$blas" in
  */openblas-openmp/*) ;;
  *) echo "gpu_stage: ssm loads OpenBLAS from '$blas', not the OpenMP build (apt-get install" \
          "libopenblas-openmp-dev, then reconfigure $BUILD)" >&2; exit 1 ;;
esac
rm -rf .devcarry/packlib && mkdir -p .devcarry/packlib/lib
cp -L "$blas" .devcarry/packlib/lib/
ldd "$blas" | awk '/libgfortran|libquadmath/ {print $3}' | xargs -r -I{} cp -L {} .devcarry/packlib/lib/
# The device tool carries at most 64 MiB: the binaries and OpenBLAS travel xz-compressed.
mkdir -p .devcarry/pack
tar -C .devcarry -cf - bin -C packlib lib | xz -T0 -6 > .devcarry/pack/bin.tar.xz
du -sh .devcarry/pack .devcarry/lib
