#!/usr/bin/env bash
# ssm against the plain-PyTorch Mamba (Debian's python3-torch) on the CPU, same configs, same
# thread counts: a training step and batch-1 generation (bench/mamba_bench.cpp against
# tools/mamba_torch_bench.py). Prints markdown for the README: a header (machine, load, the BLAS
# each side runs), the comparison table (speed-up = PyTorch time / ssm time) and ssm's own
# scaling with the thread count.
#
#   tools/bench_vs_torch.sh [THREADS...]        default: 1 2
# Environment: SSM_BENCH (default build/bench/ssm_bench), REPEATS (timed runs per side, thread
# count and round, default 5), ROUNDS (default 1; with more, the thread counts and both sides take
# turns round by round, so that a machine whose load drifts weighs on all of them alike), WARMUP
# (PyTorch warm-up runs, default 2), CONFIGS (default piglatin,large), OUT (a folder to keep the
# raw JSON in; default a temporary one), REFERENCE_LOOP_CONFIGS (configs that also time the
# reference's own slicing loop, whose backward is O(L^2): default piglatin; on the large config one
# such step takes many minutes), MALLOC_TUNING (default 1: both sides run with glibc malloc kept
# from returning memory to the kernel, MALLOC_MMAP_MAX_=0 and large trim/top-pad thresholds, as
# PyTorch's CPU tuning guides advise (jemalloc/tcmalloc); without it every large PyTorch temporary
# is a fresh mmap whose page faults, costly in a VM, dominate the PyTorch training step; ssm barely
# changes; 0 turns it off), PRIORITY (a nice value, e.g. -15, for this session's scheduling
# autogroup while the script runs, restored at exit (needs root): on a machine shared with other
# sessions' builds each session gets an equal share of the cores whatever the processes' nice
# values, so a 2-thread run gets about 2/(sessions) cores without it; the header says it was set).
# Every figure is the median over all timed runs (REPEATS x ROUNDS).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BENCH=${SSM_BENCH:-build/bench/ssm_bench}
REPEATS=${REPEATS:-5}
ROUNDS=${ROUNDS:-1}
WARMUP=${WARMUP:-2}
CONFIGS=${CONFIGS:-piglatin,large}
REFERENCE_LOOP_CONFIGS=${REFERENCE_LOOP_CONFIGS:-piglatin}
MALLOC_TUNING=${MALLOC_TUNING:-1}
PRIORITY=${PRIORITY:-}
if [ "$MALLOC_TUNING" = 1 ]; then
  export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=1073741824
fi
THREADS=("$@")
[ ${#THREADS[@]} -eq 0 ] && THREADS=(1 2)
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
[ -x "$BENCH" ] || { echo "bench_vs_torch: $BENCH not found; build it: ninja -C build ssm_bench" >&2; exit 1; }

if [ -n "$PRIORITY" ]; then
  old_priority=$(awk '{print $NF}' /proc/self/autogroup)
  echo "$PRIORITY" > /proc/self/autogroup
  trap 'echo "$old_priority" > /proc/self/autogroup' EXIT
fi

config_re="(${CONFIGS//,/|})"
export LOAD_BEFORE; LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
rm -f "$OUT"/ssm_*.json "$OUT"/torch_*.jsonl "$OUT"/loads.txt
for r in $(seq 1 "$ROUNDS"); do
  for t in "${THREADS[@]}"; do
    echo "== round $r, threads $t: ssm" >&2
    cut -d' ' -f1 /proc/loadavg >> "$OUT/loads.txt"
    # Training and generation each in a process of their own, as `ssm train` and `ssm generate`
    # run: decoding measured after a training run in the same process inherits its heap and its
    # idle OpenMP threads, which is no user's situation.
    for work in train generate; do
      OMP_NUM_THREADS=$t "$BENCH" \
        --benchmark_filter="^mamba_$work/$config_re/threads:$t/" \
        --benchmark_repetitions="$REPEATS" --benchmark_format=json \
        --benchmark_out="$OUT/ssm_threads${t}_round${r}_$work.json" --benchmark_out_format=json >/dev/null
    done
    echo "== round $r, threads $t: PyTorch" >&2
    cut -d' ' -f1 /proc/loadavg >> "$OUT/loads.txt"
    for c in ${CONFIGS//,/ }; do
      work=train_unbind,generate
      [[ ",$REFERENCE_LOOP_CONFIGS," == *",$c,"* ]] && work=train,$work
      OMP_NUM_THREADS=$t /usr/bin/python3 tools/mamba_torch_bench.py --threads "$t" --config "$c" \
        --work "$work" --repeats "$REPEATS" --warmup "$WARMUP" >> "$OUT/torch_threads$t.jsonl"
    done
  done
done

MALLOC_TUNING=$MALLOC_TUNING PRIORITY=$PRIORITY CONFIGS=$CONFIGS /usr/bin/python3 - "$OUT" "$ROUNDS" "${THREADS[@]}" <<'EOF'
import collections, glob, json, os, platform, statistics, subprocess, sys

out, rounds, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
configs = os.environ["CONFIGS"].split(",")
aims = {"train": 3, "generate": 5}
med = statistics.median

# ssm: every timed repetition of every round, per (work, config, threads).
ssm, blas = collections.defaultdict(list), "not reported by this ssm_bench"
for path in sorted(glob.glob(f"{out}/ssm_threads*_round*.json")):
    doc = json.load(open(path))
    blas = doc["context"].get("blas", blas)
    for b in doc["benchmarks"]:
        if b.get("run_type") == "iteration":
            work, config, t = b["run_name"].split("/")[:3]
            ssm[(work.removeprefix("mamba_"), config, t.removeprefix("threads:"))].append(b["real_time"])
# PyTorch: the same, with the tokens a run makes.
torch, tokens, info = collections.defaultdict(list), {}, {}
for t in threads:
    for line in open(f"{out}/torch_threads{t}.jsonl"):
        r = json.loads(line)
        work = r["name"].removeprefix("torch_")
        torch[(work, r["config"], t)] += r["times_ms"]
        base = "train" if work.startswith("train") else "generate"
        tokens[(base, r["config"])] = r["batch"] * r["length"] if base == "train" else r["new_tokens"]
        info = r

cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                     capture_output=True, text=True).stdout.strip()
loads = [float(x) for x in open(f"{out}/loads.txt").read().split()]
priority = os.environ["PRIORITY"]
print(f"CPU: {cpu} ({os.cpu_count()} cores); {platform.system()} {platform.release()}; load average "
      f"{os.environ['LOAD_BEFORE']} before, {' '.join(open('/proc/loadavg').read().split()[:3])} after, "
      f"{min(loads):.1f}-{max(loads):.1f} (1 min) as runs started"
      f"{'; autogroup nice ' + priority if priority else ''}; malloc tuning "
      f"{'on' if os.environ['MALLOC_TUNING'] == '1' else 'off'}; medians of {len(next(iter(ssm.values())))} "
      f"ssm and {len(next(iter(torch.values())))} PyTorch runs ({rounds} round{'s' if rounds > 1 else ''})\n")
print(f"ssm BLAS: {blas}. PyTorch {info['torch']}, BLAS: {', '.join(info['torch_blas'])}\n")

print("| work | config | threads | ssm ms | ssm tok/s | PyTorch | PyTorch ms | PyTorch tok/s | speed-up | aim |")
print("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
variants = {"train": "reference loop", "train_unbind": "unbind loop", "generate": "recurrent step"}
for t in threads:
    for config in configs:
        for work in variants:
            base = "train" if work.startswith("train") else "generate"
            if (work, config, t) not in torch or (base, config, t) not in ssm:
                continue
            s, p, n = med(ssm[(base, config, t)]), med(torch[(work, config, t)]), tokens[(base, config)]
            print(f"| {base} | {config} | {t} | {s:.1f} | {n / s * 1e3:.0f} | {variants[work]} | {p:.1f} "
                  f"| {n / p * 1e3:.0f} | {p / s:.1f}x | {aims[base]}x |")

if len(threads) > 1:
    print(f"\nssm against itself: ms at each thread count; speed-up over {threads[0]} thread(s), above 1 "
          "when faster\n")
    print("| work | config | " + " | ".join(f"{t} threads ms" for t in threads) + " | "
          + " | ".join(f"speed-up at {t}" for t in threads[1:]) + " |")
    print("| --- | --- | " + " | ".join("---:" for _ in threads) + " | "
          + " | ".join("---:" for _ in threads[1:]) + " |")
    for work in ("train", "generate"):
        for config in configs:
            ms = [med(ssm[(work, config, t)]) for t in threads]
            print(f"| {work} | {config} | " + " | ".join(f"{m:.1f}" for m in ms) + " | "
                  + " | ".join(f"{ms[0] / m:.2f}x" for m in ms[1:]) + " |")
EOF
echo "raw results: $OUT" >&2
