#!/usr/bin/env bash
# ssm.cpp in one command. On a fresh Debian 12 machine (root or sudo) it installs what is missing,
# configures, builds, and then:
#   ./ssm.sh demo        trains a Pig-Latin Mamba (on the GPU when one is visible) and translates
#                        words (it builds the binary alone first, the tests after the demo)
#   ./ssm.sh test        runs every unit test (ctest)
#   ./ssm.sh sanitize    builds the unit tests with AddressSanitizer + UBSan and runs them
#   ./ssm.sh fuzz [SEC]  runs the libFuzzer targets (safetensors and YAML config readers), SEC s each
#   ./ssm.sh bench       runs the CPU micro-benchmarks
#   ./ssm.sh build       only builds
# Each is idempotent and quick when nothing changed. Extra arguments after `demo` go to `ssm demo`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

BUILD_DIR=${SSM_BUILD_DIR:-build}
JOBS=${SSM_JOBS:-$(nproc)}
PACKAGES=(g++ cmake ninja-build pkg-config libopenblas-openmp-dev libyaml-cpp-dev nlohmann-json3-dev
          libcli11-dev libgtest-dev libbenchmark-dev zlib1g-dev)
FUZZ_PACKAGES=(clang libclang-rt-14-dev)

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The CUDA backend is built where it can run: when a GPU is visible, or in CI, which proves the
# kernels compile. On a machine with nvcc but no GPU, compiling the kernels (for sm_80 and sm_90)
# is most of a first build and buys nothing. SSM_CUDA=ON|OFF|AUTO in the environment decides.
cuda_choice() {
  if [ -n "${SSM_CUDA:-}" ]; then echo "$SSM_CUDA"
  elif [ "${CI:-}" = "true" ] || nvidia-smi -L >/dev/null 2>&1; then echo AUTO
  else echo OFF
  fi
}

# configure DIR [cmake args...]: (re)configures only when the arguments changed.
configure() {
  local dir=$1; shift
  local args=(-G Ninja "$@")
  # CI (no GPU) proves the CUDA code compiles and links: one architecture (sm_90) halves the nvcc
  # time; other builds compile for sm_80 and sm_90.
  [ "${CI:-}" = "true" ] && args+=(-DSSM_WERROR=ON -DCMAKE_CUDA_ARCHITECTURES=90)
  [[ " $* " == *" -DSSM_CUDA="* ]] || args+=(-DSSM_CUDA="$(cuda_choice)")
  # A developer's ccache, when installed, makes rebuilds of other checkouts and build types cheap.
  command -v ccache >/dev/null && args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
  local stamp="$dir/.ssm-configure-args"
  if [ -f "$dir/build.ninja" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${args[*]}" ]; then return 0; fi
  log "configuring $dir"
  cmake -S . -B "$dir" "${args[@]}" >/dev/null
  echo "${args[*]}" > "$stamp"
}

# build [TARGET...]: every target when none is named.
build() {
  install_missing "${PACKAGES[@]}"
  configure "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
  log "building ${*:-everything} ($JOBS jobs)"
  ninja -C "$BUILD_DIR" -j "$JOBS" "$@"
}

cmd=${1:-help}
shift || true
case "$cmd" in
  build) build ;;
  demo)
    build ssm_cli  # the binary alone: the tests and benchmarks are not needed to train
    "$BUILD_DIR/ssm" demo "$@"
    # Then the rest, while the newcomer reads the demo's output, so that `./ssm.sh test` only runs.
    log "building the tests and benchmarks (./ssm.sh test runs them)"
    ninja -C "$BUILD_DIR" -j "$JOBS"
    ;;
  test)
    build
    log "running the unit tests"
    ctest --test-dir "$BUILD_DIR" -j "$JOBS" --output-on-failure --timeout 900
    ;;
  sanitize)
    install_missing "${PACKAGES[@]}"
    # -g1 (line tables only) keeps file:line in ASan / UBSan reports at about 60% of -g's compile
    # time (ops/elementwise.cpp: 149 s against 239 s on the 2-core machine).
    configure build-asan -DCMAKE_BUILD_TYPE=Debug -DSSM_SANITIZE=address,undefined \
      -DSSM_BUILD_BENCH=OFF -DSSM_BUILD_CLI=OFF -DSSM_CUDA=OFF -DCMAKE_CXX_FLAGS=-O1 \
      -DCMAKE_CXX_FLAGS_DEBUG=-g1
    log "building the sanitizer build"
    ninja -C build-asan -j "$JOBS" ssm_tests
    log "running the unit tests under ASan + UBSan"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      build-asan/tests/ssm_tests --gtest_brief=1
    ;;
  fuzz)
    install_missing "${PACKAGES[@]}" "${FUZZ_PACKAGES[@]}"
    tools/run_fuzz.sh "${1:-60}"
    ;;
  bench)
    install_missing "${PACKAGES[@]}"
    configure "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
    ninja -C "$BUILD_DIR" -j "$JOBS" ssm_bench
    "$BUILD_DIR/bench/ssm_bench" "$@"
    ;;
  help|-h|--help)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    echo "ssm.sh: unknown command '$cmd' (try ./ssm.sh help)" >&2
    exit 2
    ;;
esac
