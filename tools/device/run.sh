#!/usr/bin/env bash
# Runs on the device machine (16-core Intel Xeon, AVX-512/AMX, python3 with torch 2.11,
# transformers 5 and onnxruntime 1.30; no Go, no ../shared): the AVX-512 tests on Intel
# hardware and the 16-core table of issue 10, in one call that fits its 10-minute limit.
# Needs .device/ from tools/device/build.sh. Results go to $OUT (tests.log, bench.jsonl,
# table.md), the table also to stdout.
#
#   RUNS=5 TESTS=1 KBENCH=1 BENCH=1 bash tools/device/run.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/device-out}
mkdir -p "$out"
runs=${RUNS:-5}
dev=.device
lscpu | grep -E 'Model name|^CPU\(s\)|Flags' | cut -c1-400 >"$out/cpu.txt"
head -2 "$out/cpu.txt"
# The path, and the GEMM blocking fitted to this CPU's caches (kernels/blocking.go).
"$dev/resnet" version | tee "$out/version.txt"

if [ "${TESTS:-1}" = 1 ]; then
  # Every kernel test on every path this CPU runs (avx512 must run, not skip), short sizes.
  # Tests that need ../shared fail with a message naming it; they are not the point here.
  for p in kernels nn model train; do
    (cd "$p" && RESNET_EXPECT_ISA=go,avx2,avx512 timeout 150 "../$dev/$p.test" -test.short -test.count=1 2>&1 | tail -15) \
      >>"$out/tests.log" 2>&1
    echo "== $p: $(tail -1 "$out/tests.log")"
  done
fi

if [ "${KBENCH:-1}" = 1 ]; then
  # Our convolutions alone on 1, 4 and 16 threads (batch 1 and 8): how the task grids scale
  # (planeSplit cuts the Winograd planes from 8 threads on). About a minute.
  (cd kernels && timeout 120 "../$dev/kernels.test" -test.run X -test.bench 'ResNetPlanned/resnet50/.*/avx512' \
    -test.benchtime 10x -kthreads=1,4,16 2>&1 | grep -E '^Benchmark' | tee "$out/kernels-bench.txt")
fi

if [ "${BENCH:-1}" = 1 ]; then
  work=$(mktemp -d)
  export PYTHONUNBUFFERED=1
  # One random-weight HF ResNet-50 for all three engines: transformers writes it, our exporter
  # turns it into ONNX (the exporter CI checks against onnxruntime), PyTorch runs the module.
  python3 tools/device/bench.py save "$work/r50" || { echo "could not build the model"; exit 1; }
  "$dev/resnet" export --format onnx --dynamic-batch "$work/r50" "$work/r50.onnx" -q
  for t in 1 4 16; do
    for b in 1 16; do
      r=$runs; [ "$b" = 16 ] && [ "$t" = 1 ] && r=3
      ours=$("$dev/resnet" bench --model "$work/r50" --batch $b --threads $t --runs $r --warmup 2 --json -q)
      echo "{\"engine\":\"ours\",\"threads\":$t,\"batch\":$b,\"result\":$ours}" >>"$out/bench.jsonl"
      for e in ort torch; do
        res=$(python3 tools/device/bench.py $e "$work/r50" "$work/r50.onnx" $b $t $r)
        echo "{\"engine\":\"$e\",\"threads\":$t,\"batch\":$b,\"result\":$res}" >>"$out/bench.jsonl"
      done
      echo "threads $t batch $b done"
    done
  done
  python3 tools/device/bench.py table "$out/bench.jsonl" | tee "$out/table.md"
fi
