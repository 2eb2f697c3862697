package onnx

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/internal/testenv"
	"github.com/resnet-go/resnet/onnx/onnxpb"
	"github.com/resnet-go/resnet/tensor"
	"github.com/resnet-go/resnet/weights"
)

// The independent references of the export: Debian's python3-onnx 1.12 checker
// (onnx.checker.check_model with full_check=True, tools/fixtures/onnx_check.py) and ONNX
// Runtime 1.30 from npm onnxruntime-node (tools/ortrun/ort_run.mjs). Without them the test
// skips, saying what to install; with RESNET_REQUIRE_CLIENTS set (CI) it fails instead.

// onnxruntimeNodeVersion is the onnxruntime-node release the test is written against.
const onnxruntimeNodeVersion = "1.30.0"

func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	testenv.MissingTool(t, format, args...)
}

// pythonWithONNX finds a Python that imports onnx: $RESNET_PYTHON, else Debian's
// /usr/bin/python3 (a python3 earlier on PATH may not see python3-onnx).
func pythonWithONNX() (string, bool) {
	return testenv.Python("onnx, onnx.checker, onnx.shape_inference")
}

// npmPrefix is where onnxruntime-node is looked for: $RESNET_NPM_PREFIX, or the user cache
// directory's resnet-go/npm (as .ci/run installs it).
func npmPrefix() string {
	if p := os.Getenv("RESNET_NPM_PREFIX"); p != "" {
		return p
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "resnet-go", "npm")
}

func writeF32(t *testing.T, path string, data []float32) {
	t.Helper()
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// ortModel is one exported file and what ONNX Runtime must give on each input.
type ortModel struct {
	model    *onnxpb.ModelProto
	name     string           // file base name and what errors call it
	kind     string           // the row of the measured-error log
	declared map[string][]any // graph output → dims the checker's shape inference must give
	runs     []ortRun
}

type ortRun struct {
	input *tensor.Tensor
	want  map[string]*tensor.Tensor // graph output → reference
}

// ortTools finds Python with onnx and node with onnxruntime-node, or skips.
func ortTools(t *testing.T) (python, node, prefix string) {
	python, ok := pythonWithONNX()
	if !ok {
		missingTool(t, "no Python with onnx: apt-get install python3-onnx (Debian's is 1.12, the checker this test is written for)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missingTool(t, "no node on PATH (Debian: apt-get install nodejs npm)")
	}
	prefix = npmPrefix()
	install := fmt.Sprintf("npm install --no-audit --no-fund --onnxruntime-node-install=skip --prefix %s onnxruntime-node@%s", prefix, onnxruntimeNodeVersion)
	pkg, err := os.ReadFile(filepath.Join(prefix, "node_modules", "onnxruntime-node", "package.json"))
	if err != nil {
		missingTool(t, "onnxruntime-node is not installed under %s: %s (or set RESNET_NPM_PREFIX)", prefix, install)
	}
	var meta struct{ Version string }
	if err := json.Unmarshal(pkg, &meta); err != nil || meta.Version != onnxruntimeNodeVersion {
		t.Logf("onnxruntime-node %q is installed; the test was written against %s", meta.Version, onnxruntimeNodeVersion)
	}
	return python, node, prefix
}

// checkWithONNXRuntime writes every model, runs onnx.checker (full_check) on all of them in
// one Python process and ONNX Runtime on every input in one node process, and compares each
// output with its reference: |ORT − ref| ≤ 1e-4 + 1e-4·|ref|.
func checkWithONNXRuntime(t *testing.T, models []*ortModel) {
	python, node, prefix := ortTools(t)
	dir := t.TempDir()
	type job struct {
		Model string `json:"model"`
		Input string `json:"input"`
		Shape []int  `json:"shape"`
		Out   string `json:"out"`
		m     *ortModel
		run   ortRun
	}
	var jobs []*job
	var paths []string
	byPath := map[string]*ortModel{}
	for i, m := range models {
		path := filepath.Join(dir, m.name+".onnx")
		if err := WriteFile(path, m.model); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
		byPath[path] = m
		for k, r := range m.runs {
			in := filepath.Join(dir, fmt.Sprintf("in%d-%d.f32", i, k))
			writeF32(t, in, r.input.Data)
			jobs = append(jobs, &job{Model: path, Input: in, Shape: r.input.Shape, Out: filepath.Join(dir, fmt.Sprintf("out%d-%d", i, k)), m: m, run: r})
		}
	}

	// 1. The ONNX checker, full_check, on every file.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	script, _ := filepath.Abs(filepath.Join("..", "tools", "fixtures", "onnx_check.py"))
	cmd := exec.CommandContext(ctx, python, append([]string{script}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var rec struct {
			Path    string           `json:"path"`
			OK      bool             `json:"ok"`
			Error   string           `json:"error"`
			IR      int              `json:"ir_version"`
			Opset   int              `json:"opset"`
			Outputs map[string][]any `json:"outputs"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("onnx_check.py output %q: %v", sc.Text(), err)
		}
		checked++
		m := byPath[rec.Path]
		if !rec.OK {
			t.Errorf("%s: onnx.checker: %s", m.name, rec.Error)
			continue
		}
		if rec.IR != IRVersion || int64(rec.Opset) != m.model.OpsetImport[0].GetVersion() {
			t.Errorf("%s: checker read ir_version %d, opset %d", m.name, rec.IR, rec.Opset)
		}
		if fmt.Sprint(rec.Outputs) != fmt.Sprint(m.declared) {
			t.Errorf("%s: shape inference gives outputs %v, we declare %v", m.name, rec.Outputs, m.declared)
		}
	}
	if runErr != nil && checked == 0 {
		t.Fatalf("onnx_check.py: %v\n%s", runErr, stderr.String())
	}
	if checked != len(paths) {
		t.Fatalf("onnx_check.py reported %d of %d files\n%s", checked, len(paths), stderr.String())
	}

	// 2. ONNX Runtime on every (file, input).
	jobsPath := filepath.Join(dir, "jobs.json")
	data, _ := json.Marshal(map[string]any{"jobs": jobs})
	if err := os.WriteFile(jobsPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	runner, _ := filepath.Abs(filepath.Join("..", "tools", "ortrun", "ort_run.mjs"))
	cmd = exec.CommandContext(ctx, node, runner, "--jobs", jobsPath)
	cmd.Env = append(os.Environ(), "RESNET_NPM_PREFIX="+prefix)
	stderr.Reset()
	cmd.Stderr = &stderr
	if _, err := cmd.Output(); err != nil {
		t.Fatalf("ort_run.mjs: %v\n%s", err, stderr.String())
	}
	worstAbs, worstRel := map[string]float64{}, map[string]float64{}
	var rows []string
	for _, j := range jobs {
		for name, ref := range j.run.want {
			got := readF32(t, j.Out+"."+name+".f32")
			detail := fmt.Sprintf("%s batch %d", j.m.name, j.Shape[0])
			if len(got) != len(ref.Data) {
				t.Errorf("%s: ORT %s has %d values, reference %v", detail, name, len(got), ref.Shape)
				continue
			}
			k := j.m.kind + " " + name
			if _, ok := worstAbs[k]; !ok {
				rows = append(rows, k)
			}
			for i := range got {
				d := math.Abs(float64(got[i]) - float64(ref.Data[i]))
				r := math.Abs(float64(ref.Data[i]))
				if d > 1e-4+1e-4*r {
					t.Errorf("%s: %s[%d] ORT %v, reference %v (|d| %.3g)", detail, name, i, got[i], ref.Data[i], d)
					break
				}
				worstAbs[k] = max(worstAbs[k], d)
				if r > 1e-3 {
					worstRel[k] = max(worstRel[k], d/r)
				}
			}
		}
	}
	for _, k := range rows {
		t.Logf("%-36s max |ORT−ref| %.3g, max relative %.3g", k, worstAbs[k], worstRel[k])
	}
	t.Logf("%d files checked by onnx.checker (full_check), %d ONNX Runtime runs", checked, len(jobs))
}

// exportVariants exports one network in the 8 forms the tests cover: BN kept and folded,
// opsets 13 and 17, fixed batch 1 (logits only) and dynamic batch (logits and pooler_output).
// inputs maps a batch size to its input and references; fixed-batch files run only batch 1.
func exportVariants(t *testing.T, name string, cfg *arch.Config, proc *imageproc.Processor, src weights.Source, inputs []ortRun) []*ortModel {
	t.Helper()
	var out []*ortModel
	for _, fold := range []bool{false, true} {
		for _, opset := range []int{13, 17} {
			for _, dynamic := range []bool{false, true} {
				opt := ExportOptions{Opset: opset, FoldBN: fold, DynamicBatch: dynamic, Pooler: dynamic, ProducerVersion: "test"}
				m, err := Export(cfg, proc, src, opt)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				om := &ortModel{model: m, name: fmt.Sprintf("%s-fold%v-opset%d-dynamic%v", name, fold, opset, dynamic), kind: name}
				batch := any(1.0)
				if dynamic {
					batch = BatchParam
				}
				for _, r := range inputs {
					if !dynamic && r.input.Shape[0] != 1 {
						continue
					}
					run := ortRun{input: r.input, want: map[string]*tensor.Tensor{LogitsName: r.want[LogitsName]}}
					if dynamic {
						run.want[PoolerName] = r.want[PoolerName]
					}
					om.runs = append(om.runs, run)
					om.declared = map[string][]any{LogitsName: {batch, float64(r.want[LogitsName].Shape[1])}}
					if dynamic {
						om.declared[PoolerName] = []any{batch, float64(r.want[PoolerName].Shape[1])}
					}
				}
				out = append(out, om)
			}
		}
	}
	return out
}

// TestExportMatchesONNXRuntime: every architecture family (exportCases, random weights and BN
// statistics) in the 8 forms of exportVariants passes onnx.checker.check_model(full_check=True)
// with the output shapes we declare, and ONNX Runtime's logits and pooler_output equal our own
// forward pass (package model) at batch 1 and 3 within 1e-4 + 1e-4·|ours|.
func TestExportMatchesONNXRuntime(t *testing.T) {
	ortTools(t)
	var models []*ortModel
	for ci, c := range exportCases() {
		sd := randomWeights(t, &c.cfg, uint64(100+ci))
		r := rand.New(rand.NewPCG(uint64(ci), 11))
		var runs []ortRun
		for _, n := range []int{1, 3} {
			x := tensor.New(n, c.cfg.NumChannels, c.h, c.w)
			for i := range x.Data {
				x.Data[i] = float32(r.NormFloat64())
			}
			out := goRun(t, &c.cfg, sd, x)
			runs = append(runs, ortRun{input: x, want: map[string]*tensor.Tensor{LogitsName: out.Logits, PoolerName: out.Pooled}})
		}
		models = append(models, exportVariants(t, c.name, &c.cfg, c.processor(), sd, runs)...)
		if c.name != "cifar-a" {
			continue
		}
		// A processor that does not resize leaves H and W symbolic: one file runs two sizes.
		proc := c.processor()
		proc.DoResize = false
		m, err := Export(&c.cfg, proc, sd, ExportOptions{DynamicBatch: true})
		if err != nil {
			t.Fatal(err)
		}
		om := &ortModel{model: m, name: "cifar-a-any-size", kind: "cifar-a any size",
			declared: map[string][]any{LogitsName: {BatchParam, 10.0}}}
		for _, hw := range [][3]int{{2, 17, 21}, {1, 32, 32}} {
			x := tensor.New(hw[0], 3, hw[1], hw[2])
			for i := range x.Data {
				x.Data[i] = float32(r.NormFloat64())
			}
			om.runs = append(om.runs, ortRun{input: x, want: map[string]*tensor.Tensor{LogitsName: goRun(t, &c.cfg, sd, x).Logits}})
		}
		models = append(models, om)
	}
	checkWithONNXRuntime(t, models)
}

// TestExportMatchesPyTorch: the PyTorch parity fixtures of package model (model/testdata/*,
// written by tools/fixtures/gen_models.py: HF-named weights with randomised BN statistics and
// PyTorch's own logits and pooled features) exported in all 8 forms; ONNX Runtime must give
// PyTorch's numbers within 1e-4 + 1e-4·|PyTorch| — a chain in which no code of ours computes
// the reference. The fixture's whole batch runs through the dynamic-batch files.
func TestExportMatchesPyTorch(t *testing.T) {
	ortTools(t)
	dirs, err := filepath.Glob(filepath.Join("..", "model", "testdata", "*", "expected.safetensors"))
	if err != nil || len(dirs) < 10 {
		t.Fatalf("found %d PyTorch fixtures under model/testdata (%v), want the 13 of gen_models.py", len(dirs), err)
	}
	var models []*ortModel
	for _, exp := range dirs {
		dir := filepath.Dir(exp)
		name := filepath.Base(dir)
		cfgData, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := arch.ParseConfig(cfgData)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		sd, err := weights.ReadFile(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		ref, err := weights.ReadFile(exp)
		if err != nil {
			t.Fatal(err)
		}
		x := &tensor.Tensor{Shape: ref["input"].Shape, Data: ref["input"].Data}
		proc := imageproc.CIFARProcessor()
		proc.Height, proc.Width = x.Shape[2], x.Shape[3]
		pooled := &tensor.Tensor{Shape: ref["pooled"].Shape, Data: ref["pooled"].Data}
		logits := &tensor.Tensor{Shape: ref["logits"].Shape, Data: ref["logits"].Data}
		if len(pooled.Shape) == 4 { // HF's pooler keeps [N, C, 1, 1]
			pooled.Shape = pooled.Shape[:2]
		}
		runs := []ortRun{{input: x, want: map[string]*tensor.Tensor{LogitsName: logits, PoolerName: pooled}}}
		if x.Shape[0] != 1 {
			// Fixed-batch files take the first image alone.
			per := len(x.Data) / x.Shape[0]
			x1 := &tensor.Tensor{Shape: append([]int{1}, x.Shape[1:]...), Data: x.Data[:per]}
			l1 := &tensor.Tensor{Shape: []int{1, logits.Shape[1]}, Data: logits.Data[:logits.Shape[1]]}
			p1 := &tensor.Tensor{Shape: []int{1, pooled.Shape[1]}, Data: pooled.Data[:pooled.Shape[1]]}
			runs = append(runs, ortRun{input: x1, want: map[string]*tensor.Tensor{LogitsName: l1, PoolerName: p1}})
		}
		models = append(models, exportVariants(t, name, cfg, proc, sd, runs)...)
	}
	checkWithONNXRuntime(t, models)
}
