"""Device side of tools/device/run.sh (python3 with torch, transformers, onnxruntime).

  bench.py save DIR                          random-weight HF ResNet-50 (seed 0) to DIR
  bench.py ort|torch DIR ONNX BATCH THREADS RUNS   one JSON line: median_ms, min_ms
  bench.py table BENCH.jsonl                 the markdown table (ms per batch; ratios to ORT)
"""
import json
import statistics
import sys
import time


def timed(fn, runs, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    return {"median_ms": statistics.median(ts), "min_ms": min(ts)}


def main():
    cmd = sys.argv[1]
    if cmd == "save":
        import torch
        from transformers import ResNetConfig, ResNetForImageClassification
        torch.manual_seed(0)
        ResNetForImageClassification(ResNetConfig()).eval().save_pretrained(sys.argv[2])
        return
    if cmd == "table":
        rows = [json.loads(l) for l in open(sys.argv[2])]
        cell = {(r["engine"], r["threads"], r["batch"]): r["result"]["median_ms"] for r in rows}
        print("| threads | batch | resnet-go | ONNX Runtime | PyTorch | ours / ORT | ours / PyTorch |")
        print("|---|---|---|---|---|---|---|")
        for t in (1, 4, 16):
            for b in (1, 16):
                o, r, p = (cell.get((e, t, b)) for e in ("ours", "ort", "torch"))
                f = lambda v: f"{v:.1f} ms" if v else "—"
                q = lambda a, c: f"{a / c:.2f}" if a and c else "—"
                print(f"| {t} | {b} | {f(o)} | {f(r)} | {f(p)} | {q(o, r)} | {q(o, p)} |")
        return
    model_dir, onnx_path, batch, threads, runs = sys.argv[2], sys.argv[3], *map(int, sys.argv[4:7])
    import numpy as np
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
    if cmd == "ort":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        s = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        name = s.get_inputs()[0].name
        res = timed(lambda: s.run(None, {name: x}), runs)
        res["engine"] = "onnxruntime " + ort.__version__
    else:
        import torch
        from transformers import ResNetForImageClassification
        torch.set_num_threads(threads)
        m = ResNetForImageClassification.from_pretrained(model_dir).eval()
        xt = torch.from_numpy(x)
        with torch.inference_mode():
            res = timed(lambda: m(pixel_values=xt), runs)
        res["engine"] = "pytorch " + torch.__version__
    print(json.dumps(res))


if __name__ == "__main__":
    main()
