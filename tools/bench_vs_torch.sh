#!/usr/bin/env bash
# ssm against the plain-PyTorch Mamba (Debian's python3-torch) on the CPU, same configs, same
# thread counts: a training step and batch-1 generation (bench/mamba_bench.cpp against
# tools/mamba_torch_bench.py). Prints a markdown table; speed-up = PyTorch time / ssm time.
#
#   tools/bench_vs_torch.sh [THREADS...]        default: 1 2
# Environment: SSM_BENCH (default build/bench/ssm_bench), REPEATS (default 5; both sides report
# the median), WARMUP (PyTorch warm-up runs, default 2), CONFIGS (default piglatin,large),
# OUT (a folder to keep the raw JSON in; default a temporary one), REFERENCE_LOOP_CONFIGS
# (configs that also time the reference's own slicing loop, whose backward is O(L^2): default
# piglatin; on the large config one such step takes many minutes), MALLOC_TUNING (default 1:
# both sides run with glibc malloc kept from returning memory to the kernel, MALLOC_MMAP_MAX_=0
# and large trim/top-pad thresholds, as PyTorch's CPU tuning guides advise (jemalloc/tcmalloc);
# without it every large PyTorch temporary is a fresh mmap whose page faults, costly in a VM,
# dominate the PyTorch training step; ssm barely changes; 0 turns it off).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BENCH=${SSM_BENCH:-build/bench/ssm_bench}
REPEATS=${REPEATS:-5}
WARMUP=${WARMUP:-2}
CONFIGS=${CONFIGS:-piglatin,large}
REFERENCE_LOOP_CONFIGS=${REFERENCE_LOOP_CONFIGS:-piglatin}
MALLOC_TUNING=${MALLOC_TUNING:-1}
if [ "$MALLOC_TUNING" = 1 ]; then
  export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=1073741824
fi
THREADS=("$@")
[ ${#THREADS[@]} -eq 0 ] && THREADS=(1 2)
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
[ -x "$BENCH" ] || { echo "bench_vs_torch: $BENCH not found; build it: ninja -C build ssm_bench" >&2; exit 1; }

config_re="(${CONFIGS//,/|})"
export LOAD_BEFORE; LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for t in "${THREADS[@]}"; do
  echo "== threads $t: ssm" >&2
  OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t "$BENCH" \
    --benchmark_filter="^mamba_(train|generate)/$config_re/threads:$t/" \
    --benchmark_repetitions="$REPEATS" --benchmark_report_aggregates_only=true \
    --benchmark_format=json --benchmark_out="$OUT/ssm_threads$t.json" --benchmark_out_format=json >/dev/null
  echo "== threads $t: PyTorch" >&2
  : > "$OUT/torch_threads$t.jsonl"
  for c in ${CONFIGS//,/ }; do
    work=train_unbind,generate
    [[ ",$REFERENCE_LOOP_CONFIGS," == *",$c,"* ]] && work=train,$work
    OMP_NUM_THREADS=$t /usr/bin/python3 tools/mamba_torch_bench.py --threads "$t" --config "$c" \
      --work "$work" --repeats "$REPEATS" --warmup "$WARMUP" >> "$OUT/torch_threads$t.jsonl"
  done
done

MALLOC_TUNING=$MALLOC_TUNING /usr/bin/python3 - "$OUT" "${THREADS[@]}" <<'EOF'
import json, os, platform, subprocess, sys

out, threads = sys.argv[1], sys.argv[2:]
aims = {"train": 2, "generate": 5}
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                     capture_output=True, text=True).stdout.strip()
load_after = open("/proc/loadavg").read().split()[:3]
print(f"CPU: {cpu} ({os.cpu_count()} cores); {platform.system()} {platform.release()}; load average "
      f"{os.environ['LOAD_BEFORE']} before, {' '.join(load_after)} after; malloc tuning "
      f"{'on' if os.environ['MALLOC_TUNING'] == '1' else 'off'}; medians of the runs\n")
print("| work | config | threads | ssm ms | ssm tok/s | PyTorch | PyTorch ms | PyTorch tok/s | speed-up | aim |")
print("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
for t in threads:
    ssm = {}
    for b in json.load(open(f"{out}/ssm_threads{t}.json"))["benchmarks"]:
        if b.get("aggregate_name") == "median":
            work, config = b["run_name"].split("/")[:2]
            ssm[(work.removeprefix("mamba_"), config)] = b
    for line in open(f"{out}/torch_threads{t}.jsonl"):
        r = json.loads(line)
        work = r["name"].removeprefix("torch_")
        base = "train" if work.startswith("train") else "generate"
        s = ssm.get((base, r["config"]))
        if s is None:
            continue
        variant = {"train": "reference loop", "train_unbind": "unbind loop", "generate": "recurrent step"}[work]
        ratio = r["ms"] / s["real_time"]
        print(f"| {base} | {r['config']} | {t} | {s['real_time']:.1f} | {s['tokens_per_s']:.0f} | {variant} "
              f"| {r['ms']:.1f} | {r['tokens_per_s']:.0f} | {ratio:.1f}x | {aims[base]}x |")
EOF
echo "raw results: $OUT" >&2
