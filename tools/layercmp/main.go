// Command layercmp times every convolution of one ONNX ResNet in this project and in ONNX
// Runtime (its profiler, through npm's onnxruntime-node, as ../shared/bench/compare.sh installs
// it) on the same threads, and prints them side by side, largest loss first: where a pass's
// difference to ORT comes from, layer by layer. Both engines time each layer inside whole
// forward passes, so caches hold what a pass leaves in them (a layer timed alone, in a loop,
// runs on hot data and tells less). It found, on the 2-vCPU Zen 5 VM (session 12, one
// thread), ORT ahead on the 7×7/2 stem, the strided 3×3 layers and the 1×1 layers with K = 64
// or at 14×14, and behind on every Winograd layer. On a host whose speed drifts from minute to
// minute (the Intel Xeon VMs), one engine after the other measures the drift as much as the
// layers: -rounds R times them in turn R times and reports, per layer, our median and ORT as
// our median less the median of the rounds' paired differences (session 23, one thread: our
// 1×1 layers took 1.33× ORT's time in a one-shot run, 1.12× over 8 rounds of 10 passes).
//
//	../shared/bench/compare.sh --rounds 1 --only ort   # once: fetches onnxruntime-node, exports the model
//	go run ./tools/layercmp -threads 1 -runs 10 -rounds 16 ~/.cache/resnet-bench/models/resnet-50-seed0/model.onnx
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/kernels"
	"github.com/resnet-go/resnet/tensor"
)

// ortScript runs the model with ORT's profiler on and prints the profile file's name.
const ortScript = `
const path = require('path');
const ort = require(path.join(process.env.ORT_NODE_MODULES, 'onnxruntime-node'));
(async () => {
  const [model, threads, runs, warmup, prefix] = [process.argv[2], +process.argv[3], +process.argv[4], +process.argv[5], process.argv[6]];
  const dims = [1, +process.argv[7], +process.argv[8], +process.argv[9]];
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential', enableProfiling: true, profileFilePrefix: prefix });
  const data = new Float32Array(dims[1] * dims[2] * dims[3]);
  for (let i = 0; i < data.length; i++) data[i] = Math.random() * 2 - 1;
  for (let i = 0; i < warmup + runs; i++) await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', data, dims) });
  s.endProfiling();
})().catch((e) => { console.error(e); process.exit(1); });
`

// event is one record of ORT's profile (Chrome trace format).
type event struct {
	Cat  string `json:"cat"`
	Name string `json:"name"`
	Dur  int64  `json:"dur"` // µs
	Args struct {
		Op  string               `json:"op_name"`
		In  []map[string][]int64 `json:"input_type_shape"`
		Out []map[string][]int64 `json:"output_type_shape"`
	} `json:"args"`
}

func dims(m []map[string][]int64, i int) []int64 {
	if i >= len(m) {
		return nil
	}
	for _, d := range m[i] {
		return d
	}
	return nil
}

// ortLayers runs ORT on c×h×w inputs, the size this project's side runs, and returns ms per
// pass by layer key, and the median pass.
func ortLayers(model, modules string, threads, runs, warmup, c, h, w int) (map[string]float64, float64, error) {
	dir, err := os.MkdirTemp("", "layercmp")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(dir)
	js := filepath.Join(dir, "prof.js")
	if err := os.WriteFile(js, []byte(ortScript), 0o644); err != nil {
		return nil, 0, err
	}
	cmd := exec.Command("node", js, model, fmt.Sprint(threads), fmt.Sprint(runs), fmt.Sprint(warmup), filepath.Join(dir, "p"), fmt.Sprint(c), fmt.Sprint(h), fmt.Sprint(w))
	cmd.Env = append(os.Environ(), "ORT_NODE_MODULES="+modules)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, 0, fmt.Errorf("node: %w (is onnxruntime-node under %s? run compare.sh once)", err, modules)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "p*.json"))
	if len(files) != 1 {
		return nil, 0, fmt.Errorf("ORT wrote %d profiles", len(files))
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		return nil, 0, err
	}
	var evs []event
	if err := json.Unmarshal(b, &evs); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", files[0], err)
	}
	var passes []float64
	var nodes []event
	for _, e := range evs {
		switch {
		case e.Cat == "Session" && e.Name == "model_run":
			passes = append(passes, float64(e.Dur)/1000)
		case e.Cat == "Node" && strings.HasSuffix(e.Name, "_kernel_time"):
			nodes = append(nodes, e)
		}
	}
	if len(passes) != warmup+runs || len(nodes)%len(passes) != 0 {
		return nil, 0, fmt.Errorf("ORT profile: %d passes, %d node records", len(passes), len(nodes))
	}
	per := len(nodes) / len(passes)
	out := map[string]float64{}
	for _, e := range nodes[warmup*per:] {
		key := map[string]string{"MaxPool": "max-pool", "GlobalAveragePool": "global avg-pool", "Gemm": "classifier (not profiled here)"}[e.Args.Op]
		if key == "" {
			key = e.Args.Op
		}
		if x, w, y := dims(e.Args.In, 0), dims(e.Args.In, 1), dims(e.Args.Out, 0); e.Args.Op == "Conv" && len(x) == 4 && len(w) == 4 && len(y) == 4 && y[2] > 0 {
			s := (x[2] + y[2] - 1) / y[2] // stride: input rows per output row, rounded up
			key = fmt.Sprintf("conv %dx%d/%d %d->%d %dx%d", w[2], w[3], s, w[1], w[0], x[2], x[3])
		}
		out[key] += float64(e.Dur) / 1000 / float64(runs)
	}
	timed := passes[warmup:]
	sort.Float64s(timed)
	return out, timed[len(timed)/2], nil
}

func main() {
	threads := flag.Int("threads", 1, "threads for both engines")
	runs := flag.Int("runs", 40, "profiled passes a round (after 5 untimed ones)")
	rounds := flag.Int("rounds", 1, "rounds, each engine in turn (on a noisy host: 8 or more, with -runs 10)")
	home, _ := os.UserHomeDir()
	modules := os.Getenv("ORT_NODE_MODULES")
	if modules == "" {
		modules = filepath.Join(home, ".cache", "resnet-bench", "node", "node_modules")
	}
	flag.StringVar(&modules, "ort-modules", modules, "node_modules holding onnxruntime-node ($ORT_NODE_MODULES)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: layercmp [-threads T] [-runs N] [-rounds R] MODEL.onnx")
		os.Exit(2)
	}
	if *threads < 1 || *runs < 1 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "layercmp: -threads, -runs and -rounds must be at least 1")
		os.Exit(2)
	}
	onnxPath := flag.Arg(0)
	const warmup = 5

	kernels.SetThreads(*threads)
	m, err := resnet.FromPretrained(context.Background(), onnxPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "layercmp:", err)
		os.Exit(1)
	}
	h, w := m.Processor.OutputSize()
	x := tensor.New(1, m.Config.NumChannels, h, w)
	for i := range x.Data {
		x.Data[i] = float32(i%251)/125 - 1
	}
	for range warmup {
		if _, err := m.Forward(x); err != nil {
			fmt.Fprintln(os.Stderr, "layercmp:", err)
			os.Exit(1)
		}
	}
	// Each round times both engines, in alternating order; per layer, the report gives our
	// median over rounds and the median of the rounds' paired differences (ours minus ORT's
	// in the same round), which cancels the host's drift between rounds, as tools/abba does.
	type sample struct {
		ours, theirs map[string]float64
		ortPass      float64
	}
	var samples []sample
	for r := range *rounds {
		var sm sample
		for side := range 2 {
			if (side+r)%2 == 0 {
				sm.ours, err = oursLayers(m, x, *runs)
			} else {
				sm.theirs, sm.ortPass, err = ortLayers(onnxPath, modules, *threads, *runs, warmup, m.Config.NumChannels, h, w)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "layercmp:", err)
				os.Exit(1)
			}
		}
		fuseStem(sm.ours, sm.theirs)
		samples = append(samples, sm)
	}
	keys := map[string]bool{}
	for _, sm := range samples {
		for k := range sm.ours {
			keys[k] = true
		}
		for k := range sm.theirs {
			keys[k] = true
		}
	}
	type row struct {
		key          string
		us, ort, iqr float64
	}
	var rows []row
	var oursTotal, ortTotal float64
	for k := range keys {
		var us, diff []float64
		for _, sm := range samples {
			us = append(us, sm.ours[k])
			diff = append(diff, sm.ours[k]-sm.theirs[k])
		}
		u, d := median(us), median(diff)
		rows = append(rows, row{k, u, u - d, iqr(diff)})
		oursTotal += u
		ortTotal += u - d
	}
	var passes []float64
	for _, sm := range samples {
		passes = append(passes, sm.ortPass)
	}
	ortPass := median(passes)
	sort.Slice(rows, func(i, j int) bool { return rows[i].us-rows[i].ort > rows[j].us-rows[j].ort })
	what := fmt.Sprintf("%d passes", *runs)
	if *rounds > 1 {
		what = fmt.Sprintf("%d rounds of %d passes, ORT as our median minus the median paired difference", *rounds, *runs)
	}
	fmt.Printf("%s, %d thread(s), %s: ms per pass (ORT's median pass %.2f ms, its layers %.2f; ours %.2f)\n",
		onnxPath, *threads, what, ortPass, ortTotal, oursTotal)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	spread := *rounds >= 4
	if spread {
		fmt.Fprintln(tw, "layer\tresnet-go\tORT\tdifference\tIQR of the rounds' differences\t")
	} else {
		fmt.Fprintln(tw, "layer\tresnet-go\tORT\tdifference\t")
	}
	for _, r := range rows {
		if spread {
			fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%+.3f\t%.3f\t\n", r.key, r.us, r.ort, r.us-r.ort, r.iqr)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%+.3f\t\n", r.key, r.us, r.ort, r.us-r.ort)
	}
	if spread {
		fmt.Fprintf(tw, "all layers\t%.2f\t%.2f\t%+.2f\t\t\n", oursTotal, ortTotal, oursTotal-ortTotal)
	} else {
		fmt.Fprintf(tw, "all layers\t%.2f\t%.2f\t%+.2f\t\n", oursTotal, ortTotal, oursTotal-ortTotal)
	}
	tw.Flush()
}

// oursLayers profiles runs passes of this project's model: ms per pass by layer key.
func oursLayers(m *resnet.Model, x *tensor.Tensor, runs int) (map[string]float64, error) {
	prof, err := m.Profile(x, runs)
	if err != nil {
		return nil, err
	}
	ours := map[string]float64{}
	for _, l := range prof {
		key := l.Kind
		if l.Shape != "" {
			key += " " + l.Shape
		}
		ours[key] += l.Time.Seconds() * 1000 / float64(runs)
	}
	return ours, nil
}

// median is the middle value of xs (the mean of the two middle ones for an even count).
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// iqr is the spread of xs between its first and third quartiles (nearest ranks): a layer whose
// difference is small against it is within the host's noise.
func iqr(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)*3/4] - s[len(s)/4]
}

// fuseStem puts ORT's stem convolution and max pool under our fused layer's key ("conv
// 7x7/2 + max-pool 3->64 224x224"), to compare like with like.
func fuseStem(ours, theirs map[string]float64) {
	for k := range ours {
		if i := strings.Index(k, " + max-pool "); i >= 0 {
			conv := k[:i] + " " + k[i+len(" + max-pool "):]
			theirs[k] = theirs[conv] + theirs["max-pool"]
			delete(theirs, conv)
			delete(theirs, "max-pool")
		}
	}
}
