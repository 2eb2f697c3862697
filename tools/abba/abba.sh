#!/bin/bash
# abba.sh: compare two resnet binaries (or one binary under two environments) in ABBA
# rounds, whole passes and layer by layer, on a noisy VM (see DEVELOPERS.md).
#
#   tools/abba/abba.sh [-r ROUNDS] [-t THREADS] [-m MODEL] [-b BATCH] "CMD_A" "CMD_B"
#
# CMD_A and CMD_B are how to run each side, e.g. /tmp/resnet-old and /tmp/resnet-new, or
# "RESNET_X=0 /tmp/resnet" and "RESNET_X=1 /tmp/resnet" (a toggle read from the environment
# must be set on both sides: the environment's size alone moved a pass by 2% once). Each round
# runs A, B, B, A (`resnet bench --runs 15 --warmup 2 --profile --json`); the report gives the
# median over rounds of each round's (B1+B2)/(A1+A2), then each layer shape's median time on
# A and, as B, A's median plus the median of the rounds' paired differences (B1+B2-A1-A2)/2,
# largest difference first: pairing cancels the host's drift from round to round, which moved
# unpaired medians of untouched layers by ±0.2 ms where paired ones stay within ±0.05
# (docs/design.md, "Session 22"). MODEL defaults to compare.sh's ResNet-50 with seeded
# weights. Needs python3 for the statistics.
set -euo pipefail
rounds=8 threads=2 batch=1
model=${MODEL:-$HOME/.cache/resnet-bench/models/resnet-50-seed0/model}
while getopts r:t:m:b: o; do
  case $o in
    r) rounds=$OPTARG ;; t) threads=$OPTARG ;; m) model=$OPTARG ;; b) batch=$OPTARG ;;
    *) echo "usage: $0 [-r ROUNDS] [-t THREADS] [-m MODEL] [-b BATCH] CMD_A CMD_B" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || { echo "usage: $0 [-r ROUNDS] [-t THREADS] [-m MODEL] [-b BATCH] CMD_A CMD_B" >&2; exit 2; }
a=$1 b=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() { eval "$1 bench --model '$model' --threads $threads --batch $batch --runs 15 --warmup 2 --profile --json -q" > "$2"; }
for r in $(seq "$rounds"); do
  run "$a" "$dir/A_${r}_1.json"; run "$b" "$dir/B_${r}_1.json"
  run "$b" "$dir/B_${r}_2.json"; run "$a" "$dir/A_${r}_2.json"
done
python3 - "$dir" "$rounds" <<'PY'
import json, statistics as st, sys
d, rounds = sys.argv[1], int(sys.argv[2])
load = lambda s, r, i: json.load(open(f"{d}/{s}_{r}_{i}.json"))
ratios, layers, diffs = [], {"A": {}, "B": {}}, {}
for r in range(1, rounds + 1):
    runs = {s: [load(s, r, i) for i in (1, 2)] for s in "AB"}
    ratios.append(sum(x["median_ms"] for x in runs["B"]) / sum(x["median_ms"] for x in runs["A"]))
    per = {"A": {}, "B": {}}
    for s in "AB":
        for x in runs[s]:
            for l in x.get("layers", []):
                k = f'{l["kind"]} {l.get("shape", "")}'
                layers[s].setdefault(k, []).append(l["ms_per_pass"])
                per[s].setdefault(k, []).append(l["ms_per_pass"])
    for k, v in per["A"].items():
        if len(v) == 2 and len(per["B"].get(k, [])) == 2:
            diffs.setdefault(k, []).append((sum(per["B"][k]) - sum(v)) / 2)
print(f"whole pass: median B/A {st.median(ratios):.4f} over {rounds} rounds (rounds {min(ratios):.3f}–{max(ratios):.3f})")
rows = sorted(((st.median(diffs[k]), k, st.median(v), st.median(v) + st.median(diffs[k]))
               for k, v in layers["A"].items() if k in diffs), key=lambda x: -abs(x[0]))
print(f'{"layer":>42}  {"A ms":>7}  {"B ms":>7}  {"B-A":>7}  (paired)')
for diff, k, ma, mb in rows:
    print(f"{k:>42}  {ma:7.3f}  {mb:7.3f}  {diff:+7.3f}")
# Rows one side alone has (a layer fused or split by the change).
for s, o in (("A", "B"), ("B", "A")):
    for k, v in sorted(layers[s].items()):
        if k not in layers[o]:
            ma, mb = (st.median(v), float("nan")) if s == "A" else (float("nan"), st.median(v))
            print(f"{k:>42}  {ma:7.3f}  {mb:7.3f}  ({s} only)")
PY
