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
# each side, largest difference first. MODEL defaults to compare.sh's ResNet-50 with seeded
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
ratios, layers = [], {"A": {}, "B": {}}
for r in range(1, rounds + 1):
    runs = {s: [load(s, r, i) for i in (1, 2)] for s in "AB"}
    ratios.append(sum(x["median_ms"] for x in runs["B"]) / sum(x["median_ms"] for x in runs["A"]))
    for s in "AB":
        for x in runs[s]:
            for l in x.get("layers", []):
                layers[s].setdefault(f'{l["kind"]} {l.get("shape", "")}', []).append(l["ms_per_pass"])
print(f"whole pass: median B/A {st.median(ratios):.4f} over {rounds} rounds (rounds {min(ratios):.3f}–{max(ratios):.3f})")
rows = sorted(((st.median(layers["B"][k]) - st.median(v), k, st.median(v), st.median(layers["B"][k]))
               for k, v in layers["A"].items() if k in layers["B"]), key=lambda x: -abs(x[0]))
print(f'{"layer":>42}  {"A ms":>7}  {"B ms":>7}  {"B-A":>7}')
for diff, k, ma, mb in rows:
    print(f"{k:>42}  {ma:7.3f}  {mb:7.3f}  {diff:+7.3f}")
# Rows one side alone has (a layer fused or split by the change).
for s, o in (("A", "B"), ("B", "A")):
    for k, v in sorted(layers[s].items()):
        if k not in layers[o]:
            ma, mb = (st.median(v), float("nan")) if s == "A" else (float("nan"), st.median(v))
            print(f"{k:>42}  {ma:7.3f}  {mb:7.3f}  ({s} only)")
PY
