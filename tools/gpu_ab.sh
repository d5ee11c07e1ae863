#!/usr/bin/env bash
# Times two builds' GPU benchmarks on one GPU, interleaved (A, B, B, A, ...), so that a change is
# compared with the code before it on the same card in the same minutes: clocks and neighbours drift
# more between runs than the kernels differ. Each round runs `ssm_gpu_bench SECTIONS` of both
# builds; logs go to $OUT/ab/{A,B}.N.log and the medians of every row to $OUT/ab/summary.txt.
#
#   tools/gpu_ab.sh BIN_A BIN_B [ROUNDS] [SECTIONS...]
#   e.g. tools/gpu_ab.sh /tmp/base .devcarry/bin 2 scan dense model
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
A=$1 B=$2
ROUNDS=${3:-2}
shift $(($# < 3 ? $# : 3))
SECTIONS=("$@")
[ ${#SECTIONS[@]} -eq 0 ] && SECTIONS=(scan dense elementwise optim copy model)
OUT=${OUT:-gpu-out}
mkdir -p "$OUT/ab"
for ((r = 1; r <= ROUNDS; ++r)); do
  order=(A B)
  ((r % 2 == 0)) && order=(B A)
  for side in "${order[@]}"; do
    bin=$A
    [ "$side" = B ] && bin=$B
    echo "== round $r, $side ($bin)"
    timeout 280 "$bin/ssm_gpu_bench" "${SECTIONS[@]}" > "$OUT/ab/$side.$r.log" 2>&1 ||
      echo "   exit $? (see $OUT/ab/$side.$r.log)"
  done
done
python3 - "$OUT/ab" "$ROUNDS" > "$OUT/ab/summary.txt" <<'EOF'
# Pairs the rows of A's and B's logs by their text with the numbers taken out and prints, per row,
# A's and B's median of each number over the rounds and B / A for each (= where equal).
import re, statistics, sys
folder, rounds = sys.argv[1], int(sys.argv[2])
num = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
def rows(side):
    out = {}
    for r in range(1, rounds + 1):
        try:
            lines = open(f"{folder}/{side}.{r}.log").read().splitlines()
        except OSError:
            continue
        seen = {}
        for line in lines:
            vals = [float(v) for v in num.findall(line)]
            if vals:
                # Rows that differ only in their numbers (the shapes) are told apart by their order.
                key = num.sub("#", line).strip()
                seen[key] = seen.get(key, 0) + 1
                out.setdefault((key, seen[key]), []).append((line.strip(), vals))
    return out
a, b = rows("A"), rows("B")
for key in a:
    if key not in b:
        continue
    if len(a[key][0][1]) != len(b[key][0][1]):
        continue
    med = lambda runs: [statistics.median(v[i] for _, v in runs) for i in range(len(runs[0][1]))]
    ma, mb = med(a[key]), med(b[key])
    if ma == mb:
        continue
    ratios = " ".join(f"{y / x:.3f}" if x and x != y else "=" for x, y in zip(ma, mb))
    print(f"{a[key][0][0]}\n   A {ma}\n   B {mb}\n   B/A {ratios}")
EOF
cat "$OUT/ab/summary.txt"
