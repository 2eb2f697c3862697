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
	"strings"
	"testing"
	"time"

	"github.com/resnet-go/resnet/tensor"
)

// The independent references of the export: Debian's python3-onnx 1.12 checker
// (onnx.checker.check_model with full_check=True, tools/fixtures/onnx_check.py) and ONNX
// Runtime 1.30 from npm onnxruntime-node (tools/ortrun/ort_run.mjs). Without them the test
// skips, saying what to install; with RESNET_REQUIRE_CLIENTS set (CI) it fails instead.

// onnxruntimeNodeVersion is the onnxruntime-node release the test is written against.
const onnxruntimeNodeVersion = "1.30.0"

func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("RESNET_REQUIRE_CLIENTS") != "" {
		t.Fatalf("%s (RESNET_REQUIRE_CLIENTS is set)", msg)
	}
	t.Skip(msg)
}

// pythonWithONNX finds a Python that imports onnx: $RESNET_PYTHON, else Debian's
// /usr/bin/python3 (a python3 earlier on PATH may not see python3-onnx).
func pythonWithONNX() (string, bool) {
	cands := []string{"/usr/bin/python3", "python3"}
	if p := os.Getenv("RESNET_PYTHON"); p != "" {
		cands = []string{p}
	}
	for _, c := range cands {
		if exec.Command(c, "-c", "import onnx, onnx.checker, onnx.shape_inference").Run() == nil {
			return c, true
		}
	}
	return "", false
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

// TestExportMatchesONNXRuntime: every architecture family, BN kept and folded, opsets 13 and
// 17, fixed batch 1 and dynamic batch (run at 1 and 3): the file passes
// onnx.checker.check_model(full_check=True) with the output shapes we declare, and ONNX
// Runtime's logits (and pooler_output) equal our forward pass within 1e-4 + 1e-4·|ours|.
func TestExportMatchesONNXRuntime(t *testing.T) {
	python, ok := pythonWithONNX()
	if !ok {
		missingTool(t, "no Python with onnx: apt-get install python3-onnx (Debian's is 1.12, the checker this test is written for)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missingTool(t, "no node on PATH (Debian: apt-get install nodejs npm)")
	}
	prefix := npmPrefix()
	install := fmt.Sprintf("npm install --no-audit --no-fund --onnxruntime-node-install=skip --prefix %s onnxruntime-node@%s", prefix, onnxruntimeNodeVersion)
	pkg, err := os.ReadFile(filepath.Join(prefix, "node_modules", "onnxruntime-node", "package.json"))
	if err != nil {
		missingTool(t, "onnxruntime-node is not installed under %s: %s (or set RESNET_NPM_PREFIX)", prefix, install)
	}
	var meta struct{ Version string }
	if json.Unmarshal(pkg, &meta); meta.Version != onnxruntimeNodeVersion {
		t.Logf("onnxruntime-node %s is installed; the test was written against %s", meta.Version, onnxruntimeNodeVersion)
	}

	dir := t.TempDir()
	type want struct {
		name   string // graph output
		data   []float32
		shape  []int
		kind   string
		detail string
	}
	type job struct {
		Model string `json:"model"`
		Input string `json:"input"`
		Shape []int  `json:"shape"`
		Out   string `json:"out"`
		wants []want
	}
	var jobs []*job
	var models []string
	declared := map[string]map[string][]any{} // model path → output → dims
	for ci, c := range exportCases() {
		sd := randomWeights(t, &c.cfg, uint64(100+ci))
		r := rand.New(rand.NewPCG(uint64(ci), 11))
		inputs := map[int]*tensor.Tensor{}
		for _, n := range []int{1, 3} {
			x := tensor.New(n, c.cfg.NumChannels, c.h, c.w)
			for i := range x.Data {
				x.Data[i] = float32(r.NormFloat64())
			}
			inputs[n] = x
		}
		refs := map[int][2]*tensor.Tensor{}
		for n, x := range inputs {
			out := goRun(t, &c.cfg, sd, x)
			refs[n] = [2]*tensor.Tensor{out.Logits, out.Pooled}
			writeF32(t, filepath.Join(dir, fmt.Sprintf("%s-x%d.f32", c.name, n)), x.Data)
		}
		for _, fold := range []bool{false, true} {
			for _, opset := range []int{13, 17} {
				for _, dynamic := range []bool{false, true} {
					opt := ExportOptions{Opset: opset, FoldBN: fold, DynamicBatch: dynamic, Pooler: dynamic, ProducerVersion: "test"}
					m, err := Export(&c.cfg, c.processor(), sd, opt)
					if err != nil {
						t.Fatalf("%s: %v", c.name, err)
					}
					detail := fmt.Sprintf("%s fold=%v opset=%d dynamic=%v", c.name, fold, opset, dynamic)
					path := filepath.Join(dir, fmt.Sprintf("%s-f%v-o%d-d%v.onnx", c.name, fold, opset, dynamic))
					if err := WriteFile(path, m); err != nil {
						t.Fatal(err)
					}
					models = append(models, path)
					batch := any(1.0)
					if dynamic {
						batch = BatchParam
					}
					width := c.cfg.NumLabels
					if width == 0 {
						width = refs[1][1].Shape[1]
					}
					declared[path] = map[string][]any{LogitsName: {batch, float64(width)}}
					if dynamic {
						declared[path][PoolerName] = []any{batch, float64(refs[1][1].Shape[1])}
					}
					batches := []int{1}
					if dynamic {
						batches = []int{1, 3}
					}
					for _, n := range batches {
						j := &job{Model: path, Input: filepath.Join(dir, fmt.Sprintf("%s-x%d.f32", c.name, n)),
							Shape: inputs[n].Shape, Out: fmt.Sprintf("%s.n%d", strings.TrimSuffix(path, ".onnx"), n)}
						d := fmt.Sprintf("%s batch=%d", detail, n)
						j.wants = append(j.wants, want{LogitsName, refs[n][0].Data, refs[n][0].Shape, c.name, d})
						if dynamic {
							j.wants = append(j.wants, want{PoolerName, refs[n][1].Data, refs[n][1].Shape, c.name, d})
						}
						jobs = append(jobs, j)
					}
				}
			}
		}
	}

	// 1. The ONNX checker, full_check, on every file.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	script, _ := filepath.Abs(filepath.Join("..", "tools", "fixtures", "onnx_check.py"))
	cmd := exec.CommandContext(ctx, python, append([]string{script}, models...)...)
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
		name := filepath.Base(rec.Path)
		if !rec.OK {
			t.Errorf("%s: onnx.checker: %s", name, rec.Error)
			continue
		}
		if rec.IR != IRVersion {
			t.Errorf("%s: ir_version %d", name, rec.IR)
		}
		if fmt.Sprint(rec.Outputs) != fmt.Sprint(declared[rec.Path]) {
			t.Errorf("%s: shape inference gives outputs %v, we declare %v", name, rec.Outputs, declared[rec.Path])
		}
	}
	if runErr != nil && checked == 0 {
		t.Fatalf("onnx_check.py: %v\n%s", runErr, stderr.String())
	}
	if checked != len(models) {
		t.Fatalf("onnx_check.py reported %d of %d files\n%s", checked, len(models), stderr.String())
	}

	// 2. ONNX Runtime on every (file, batch).
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
	for _, j := range jobs {
		for _, w := range j.wants {
			got := readF32(t, j.Out+"."+w.name+".f32")
			if len(got) != len(w.data) {
				t.Errorf("%s: ORT %s has %d values, ours %d", w.detail, w.name, len(got), len(w.data))
				continue
			}
			for i := range got {
				d := math.Abs(float64(got[i]) - float64(w.data[i]))
				ref := math.Abs(float64(w.data[i]))
				if d > 1e-4+1e-4*ref {
					t.Errorf("%s: %s[%d] ORT %v, ours %v (|d| %.3g)", w.detail, w.name, i, got[i], w.data[i], d)
					break
				}
				k := w.kind + "/" + w.name
				worstAbs[k] = max(worstAbs[k], d)
				if ref > 1e-3 {
					worstRel[k] = max(worstRel[k], d/ref)
				}
			}
		}
	}
	for k, v := range worstAbs {
		t.Logf("%-28s max |ORT−ours| %.3g, max relative %.3g", k, v, worstRel[k])
	}
	t.Logf("%d files checked by onnx.checker (full_check), %d ONNX Runtime runs", checked, len(jobs))
}
