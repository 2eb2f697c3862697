package resnet

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/tensor"
)

func TestSoftmax(t *testing.T) {
	cases := []struct {
		in   []float32
		want []float64
	}{
		{[]float32{0, 0}, []float64{0.5, 0.5}},
		{[]float32{1000, 0}, []float64{1, 0}}, // no overflow
		{[]float32{-1000, -1000, -1000, -1000}, []float64{0.25, 0.25, 0.25, 0.25}},
		{[]float32{1, 2, 3}, []float64{0.09003057, 0.24472847, 0.66524096}},
	}
	for _, c := range cases {
		got := Softmax(c.in)
		for i := range got {
			if math.Abs(float64(got[i])-c.want[i]) > 1e-7 {
				t.Errorf("Softmax(%v) = %v, want %v", c.in, got, c.want)
				break
			}
		}
	}
}

func TestTopK(t *testing.T) {
	cfg := arch.Default()
	cfg.SetLabels([]string{"a", "b", "c", "d"})
	logits := &tensor.Tensor{Shape: []int{2, 4}, Data: []float32{1, 3, 3, 0, -1, -2, 5, 4}}
	top := TopK(logits, 3, &cfg)
	wantIdx := [][]int{{1, 2, 0}, {2, 3, 0}} // ties keep the lower index first, as argmax does
	for i, row := range top {
		for j, p := range row {
			if p.Index != wantIdx[i][j] || p.Label != cfg.Label(p.Index) {
				t.Errorf("row %d: %+v, want indices %v", i, row, wantIdx[i])
			}
		}
		if row[0].Score < row[1].Score || row[1].Score < row[2].Score {
			t.Errorf("row %d not sorted: %+v", i, row)
		}
	}
	if got := TopK(logits, 10, &cfg); len(got[0]) != 4 {
		t.Errorf("k beyond class count gives %d", len(got[0]))
	}
	for _, k := range []int{0, -1} { // -1 panicked
		if got := TopK(logits, k, &cfg); len(got) != 2 || len(got[0]) != 0 {
			t.Errorf("k %d gives %v", k, got)
		}
	}
	// One image's logits, as Tensor.Slice gives them (it panicked).
	if got := TopK(&tensor.Tensor{Shape: []int{4}, Data: logits.Data[:4]}, 1, &cfg); len(got) != 1 || got[0][0].Index != 1 {
		t.Errorf("[classes] logits: %v", got)
	}
	// What cannot be this model's class scores is refused, naming why (it was scored).
	headless := arch.Default()
	headless.NumLabels = 0
	for _, c := range []struct {
		name   string
		logits *tensor.Tensor
		cfg    *arch.Config
		want   string
	}{
		{"pixels", &tensor.Tensor{Shape: []int{1, 3, 2, 2}, Data: make([]float32, 12)}, &cfg, "logits must be [N, classes] or [classes], got [1, 3, 2, 2]"},
		{"another model's", &tensor.Tensor{Shape: []int{1, 5}, Data: make([]float32, 5)}, &cfg, "have 5 classes, the model 4"},
		{"features", &tensor.Tensor{Shape: []int{1, 4}, Data: make([]float32, 4)}, &headless, "no classifier head"},
		{"short data", &tensor.Tensor{Shape: []int{2, 4}, Data: make([]float32, 4)}, &cfg, "need 8 values, have 4"},
		{"nil config", logits, nil, "nil logits or config"},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), c.want) {
					t.Errorf("%s: recovered %v, want a panic saying %q", c.name, r, c.want)
				}
			}()
			TopK(c.logits, 1, c.cfg)
		}()
	}
	// Scores: softmax for single-label models, each logit's sigmoid for multi-label ones.
	multi := cfg
	multi.ProblemType = arch.MultiLabelClassification
	for _, c := range []struct {
		cfg  *arch.Config
		want float64 // the score of class 1 in row 0
	}{
		{&cfg, math.Exp(3) / (math.Exp(1) + 2*math.Exp(3) + 1)},
		{&multi, 1 / (1 + math.Exp(-3))},
	} {
		if got := TopK(logits, 1, c.cfg)[0][0]; got.Index != 1 || math.Abs(float64(got.Score)-c.want) > 1e-6 {
			t.Errorf("problem_type %q: top %+v, want class 1 scored %v", c.cfg.ProblemType, got, c.want)
		}
	}
}

// Nil inputs are errors, not panics.
func TestNilInputs(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Preprocess(nil); err == nil || !strings.Contains(err.Error(), "nil image") {
		t.Errorf("Preprocess(nil): %v", err)
	}
	if _, err := Stack([]*tensor.Tensor{tensor.New(1, 3, 2, 2), nil}); err == nil || !strings.Contains(err.Error(), "tensor 1 is nil") {
		t.Errorf("Stack with a nil: %v", err)
	}
}

func TestStack(t *testing.T) {
	a, b := tensor.New(1, 3, 2, 2), tensor.New(1, 3, 2, 2)
	b.Data[0] = 7
	s, err := Stack([]*tensor.Tensor{a, b})
	if err != nil || !tensor.SameShape(s.Shape, []int{2, 3, 2, 2}) || s.Data[12] != 7 {
		t.Fatalf("Stack: %v %v", s, err)
	}
	if _, err := Stack([]*tensor.Tensor{a, tensor.New(1, 3, 3, 2)}); err == nil {
		t.Error("stacked different shapes")
	}
	if _, err := Stack(nil); err == nil {
		t.Error("stacked nothing")
	}
	if _, err := Stack([]*tensor.Tensor{a, {Shape: []int{1, 3, 2, 2}, Data: make([]float32, 5)}}); err == nil {
		t.Error("stacked a tensor whose data does not fill its shape")
	}
}

// StackInto reuses dst's memory where it has room, also after a smaller batch shortened it.
func TestStackInto(t *testing.T) {
	img := func(v float32) *tensor.Tensor {
		x := tensor.New(1, 2, 1, 2)
		for i := range x.Data {
			x.Data[i] = v + float32(i)
		}
		return x
	}
	var dst *tensor.Tensor
	for _, batch := range [][]float32{{10, 20, 30}, {40}, {50, 60, 70}, {80, 90}} {
		var xs []*tensor.Tensor
		var want []float32
		for _, v := range batch {
			xs = append(xs, img(v))
			want = append(want, v, v+1, v+2, v+3)
		}
		prev := dst
		got, err := StackInto(dst, xs)
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.SameShape(got.Shape, []int{len(batch), 2, 1, 2}) || !slices.Equal(got.Data, want) {
			t.Fatalf("batch %v: shape %v, data %v", batch, got.Shape, got.Data)
		}
		if prev != nil && cap(prev.Data) >= len(want) && &got.Data[0] != &prev.Data[0] {
			t.Errorf("batch %v: a new buffer where the last one had room", batch)
		}
		dst = got
	}
}

// Feature maps and embeddings are the hidden states and pooled output PyTorch computed.
func TestFeatureMapsAndEmbed(t *testing.T) {
	m, err := FromPretrained(context.Background(), fixture("features-only"))
	if err != nil {
		t.Fatal(err)
	}
	exp := expected(t, "features-only")
	x := &tensor.Tensor{Shape: exp["input"].Shape, Data: exp["input"].Data}
	maps, err := m.FeatureMaps(x, "stem", "stage2")
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{"stem": "hidden_0", "stage2": "hidden_2"} {
		got, want := maps[name], exp[key]
		if !tensor.SameShape(got.Shape, want.Shape) {
			t.Fatalf("%s: shape %v, want %v", name, got.Shape, want.Shape)
		}
		for i := range want.Data {
			if d := math.Abs(float64(got.Data[i] - want.Data[i])); d > 1e-4 {
				t.Fatalf("%s[%d] off by %g", name, i, d)
			}
		}
	}
	if _, err := m.FeatureMaps(x, "stage9"); err == nil {
		t.Error("unknown stage accepted")
	}
	emb, err := m.Embed(x)
	if err != nil {
		t.Fatal(err)
	}
	logits, _ := m.Forward(x) // num_labels 0: the logits are the pooled features
	for i, v := range exp["pooled"].Data {
		if math.Abs(float64(emb.Data[i]-v)) > 1e-4 || emb.Data[i] != logits.Data[i] {
			t.Fatalf("embedding[%d] = %v, logits %v, PyTorch %v", i, emb.Data[i], logits.Data[i], v)
		}
	}
}
