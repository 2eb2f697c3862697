package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/internal/isatest"
	"github.com/resnet-go/resnet/tensor"
	"github.com/resnet-go/resnet/weights"
)

// Tolerances against PyTorch, each as max |ours − torch| / max |torch| over a tensor.
//
// Both sides compute in float32 but sum in different orders (our GEMM blocks against oneDNN's,
// float64 BatchNorm statistics against PyTorch's), so values differ by a few ulps (1e-7
// relative) per layer. Through forward and backward passes of ~10 layers, with BatchNorm's
// backward subtracting means (which loses relative precision where they nearly cancel), the
// worst errors observed over all fixtures are: loss 1e-7, logits 1.5e-6, gradients 6e-6,
// updated parameters 1.4e-7, running statistics 2.3e-7 (go test -v prints them). Each
// tolerance leaves a margin of about 10× and stays far below the effect of any real mistake:
// a wrong stride, padding, shortcut, momentum, dampening or decay order, or a running
// variance without Bessel's correction, changes these tensors by 1e-4 or more.
const (
	tolLoss   = 1e-6
	tolLogits = 1e-5
	tolGrad   = 5e-5
	tolParam  = 2e-6
	tolStats  = 2e-6
)

type optimJSON struct {
	LR          float64 `json:"lr"`
	Momentum    float64 `json:"momentum"`
	Dampening   float64 `json:"dampening"`
	WeightDecay float64 `json:"weight_decay"`
	Nesterov    bool    `json:"nesterov"`
	NoDecay     bool    `json:"no_decay"`
}

func fixtureDirs(t *testing.T) []string {
	dirs, err := filepath.Glob("testdata/*/config.json")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures in train/testdata (regenerate with /usr/bin/python3 tools/fixtures/gen_train.py): %v", err)
	}
	for i := range dirs {
		dirs[i] = filepath.Dir(dirs[i])
	}
	return dirs
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readST(t *testing.T, path string) weights.StateDict {
	t.Helper()
	sd, _, err := weights.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// loadFixture builds the network of a fixture directory with its initial weights.
func loadFixture(t *testing.T, dir string) (*Network, optimJSON, weights.StateDict) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := arch.ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	var o optimJSON
	readJSON(t, filepath.Join(dir, "optim.json"), &o)
	net, err := New(cfg, InitOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := net.LoadStateDict(readST(t, filepath.Join(dir, "init.safetensors"))); err != nil {
		t.Fatal(err)
	}
	return net, o, readST(t, filepath.Join(dir, "steps.safetensors"))
}

// relErr is max |got − want| / max |want| (absolute when want is all zeros).
func relErr(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = max(m, math.Abs(float64(want[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

func labelsOf(t *weights.Tensor) []int {
	out := make([]int, len(t.Data))
	for i, v := range t.Data {
		out[i] = int(v)
	}
	return out
}

// TestAgainstPyTorch replays two SGD steps of PyTorch on every fixture network and compares
// loss, logits, every gradient, every updated parameter and buffer, and eval-mode logits, on
// each instruction-set path.
func TestAgainstPyTorch(t *testing.T) { isatest.Run(t, testAgainstPyTorch) }

func testAgainstPyTorch(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			net, o, ref := loadFixture(t, dir)
			opt, err := NewSGD(net.Params(), SGDConfig{Momentum: o.Momentum, Dampening: o.Dampening, WeightDecay: o.WeightDecay, Nesterov: o.Nesterov, NoDecayBNBias: o.NoDecay})
			if err != nil {
				t.Fatal(err)
			}
			worst := map[string]float64{}
			check := func(kind, name string, got, want []float32, tol float64) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("%s %s: %d values, want %d", kind, name, len(got), len(want))
				}
				e := relErr(got, want)
				worst[kind] = max(worst[kind], e)
				if e > tol {
					t.Errorf("%s %s: relative error %.3g > %.3g", kind, name, e, tol)
				}
			}
			for s := 0; s < 2; s++ {
				in := ref[fmt.Sprintf("input_%d", s)]
				x := &tensor.Tensor{Shape: in.Shape, Data: in.Data}
				loss, _, err := net.Gradients(x, labelsOf(ref[fmt.Sprintf("labels_%d", s)]))
				if err != nil {
					t.Fatal(err)
				}
				check("loss", fmt.Sprint(s), []float32{float32(loss)}, ref[fmt.Sprintf("loss_%d", s)].Data, tolLoss)
				check("logits", fmt.Sprint(s), net.acts.logits, ref[fmt.Sprintf("logits_%d", s)].Data, tolLogits)
				for _, p := range net.Params() {
					g, ok := ref[fmt.Sprintf("grad_%d.%s", s, p.Name)]
					if !ok {
						t.Fatalf("fixture lacks the gradient of %s", p.Name)
					}
					check("grad", fmt.Sprintf("%d %s", s, p.Name), p.Grad, g.Data, tolGrad)
				}
				opt.Step(o.LR)
				sd := net.StateDict()
				prefix := fmt.Sprintf("state_%d.", s)
				n := 0
				for name, want := range ref {
					if !strings.HasPrefix(name, prefix) {
						continue
					}
					n++
					key := strings.TrimPrefix(name, prefix)
					got, ok := sd[key]
					if !ok {
						t.Fatalf("state dict lacks %s", key)
					}
					switch {
					case strings.HasSuffix(key, "num_batches_tracked"):
						if got.Data[0] != want.Data[0] || got.DType != "I64" {
							t.Errorf("%s = %v (%s), want %v", key, got.Data, got.DType, want.Data)
						}
					case strings.Contains(key, "running_"):
						check("stats", fmt.Sprintf("%d %s", s, key), got.Data, want.Data, tolStats)
					default:
						check("param", fmt.Sprintf("%d %s", s, key), got.Data, want.Data, tolParam)
					}
				}
				if n != len(sd) {
					t.Errorf("state dict has %d entries, PyTorch's %d", len(sd), n)
				}
			}
			in := ref["input_0"]
			logits, err := net.Eval(&tensor.Tensor{Shape: in.Shape, Data: in.Data})
			if err != nil {
				t.Fatal(err)
			}
			check("eval", "logits", logits.Data, ref["eval_logits"].Data, tolLogits)
			t.Logf("worst relative errors: %v", worst)
		})
	}
}
