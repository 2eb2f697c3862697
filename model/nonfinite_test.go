package model

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/weights"
)

// A checkpoint holding NaN or ±Inf anywhere New reads is refused with the tensor's name, the
// value and its index, whether the tensors come from memory (.pth, .th, the built-in model)
// or from a lazily read safetensors file; a model that would print "NaN airplane" never runs.
func TestNewRefusesNonFiniteWeights(t *testing.T) {
	cfg, sd, _ := loadFixture(t, "basic")
	const (
		stemConv = "resnet.embedder.embedder.convolution.weight"
		conv     = "resnet.encoder.stages.1.layers.0.layer.0.convolution.weight"
		gamma    = "resnet.encoder.stages.0.layers.0.layer.1.normalization.weight"
		mean     = "resnet.encoder.stages.2.layers.1.layer.0.normalization.running_mean"
		variance = "resnet.embedder.embedder.normalization.running_var"
	)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		tensor string
		index  int
		value  float32
		want   string
	}{
		{stemConv, 0, nan, "NaN"},
		{conv, 17, nan, "NaN"},
		{conv, 863, inf, "+Inf"}, // the last element
		{gamma, 3, -inf, "-Inf"},
		{mean, 5, inf, "+Inf"},
		{variance, 7, nan, "NaN"},
		{arch.ClassifierWeight, 100, -inf, "-Inf"},
		{arch.ClassifierBias, 6, nan, "NaN"},
	}
	for _, c := range cases {
		for _, lazy := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s[%d]=%v/lazy=%v", c.tensor, c.index, c.value, lazy), func(t *testing.T) {
				s := weights.StateDict{}
				for k, v := range sd {
					s[k] = &weights.Tensor{DType: v.DType, Shape: v.Shape, Data: append([]float32(nil), v.Data...)}
				}
				if c.index >= len(s[c.tensor].Data) {
					t.Fatalf("%s has %d values", c.tensor, len(s[c.tensor].Data))
				}
				s[c.tensor].Data[c.index] = c.value
				var src weights.Source = s
				if lazy {
					path := filepath.Join(t.TempDir(), "model.safetensors")
					if err := weights.WriteSafetensors(path, s, nil, "F32"); err != nil {
						t.Fatal(err)
					}
					f, err := weights.OpenSafetensors(path)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					src = f
				}
				_, err := New(cfg, src)
				want := fmt.Sprintf("tensor %q has a non-finite value (%s) at index %d", c.tensor, c.want, c.index)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v, want one containing %s", err, want)
				}
			})
		}
	}
	// The same weights, all finite, load: the check refuses only what it should.
	if _, err := New(cfg, sd); err != nil {
		t.Fatal(err)
	}
}

// Finite weights whose activations overflow (a checkpoint saved by a diverged run) give an
// error from Forward instead of NaN scores; so does a non-finite input, named as such.
func TestForwardRefusesNonFiniteOutput(t *testing.T) {
	cfg, sd, exp := loadFixture(t, "basic")
	x := asTensor(exp["input"])
	cases := []struct {
		name   string
		mutate func(s weights.StateDict, x []float32)
		want   string
	}{
		{"huge classifier", func(s weights.StateDict, _ []float32) {
			for i := range s[arch.ClassifierWeight].Data {
				s[arch.ClassifierWeight].Data[i] = 3e38
			}
		}, "logits of image 0 has"},
		{"huge BN shift", func(s weights.StateDict, _ []float32) {
			for _, name := range []string{"resnet.embedder.embedder.normalization.bias", "resnet.encoder.stages.0.layers.0.layer.0.normalization.bias"} {
				for i := range s[name].Data {
					s[name].Data[i] = 3e38
				}
			}
		}, "embedding of image 0 has"},
		{"NaN input", func(_ weights.StateDict, x []float32) { x[len(x)-1] = float32(math.NaN()) }, "the input holds NaN at index"},
	}
	for _, c := range cases {
		s := weights.StateDict{}
		for k, v := range sd {
			s[k] = &weights.Tensor{DType: v.DType, Shape: v.Shape, Data: append([]float32(nil), v.Data...)}
		}
		in := *x
		in.Data = append([]float32(nil), x.Data...)
		c.mutate(s, in.Data)
		m, err := New(cfg, s)
		if err != nil {
			t.Fatalf("%s: finite weights refused: %v", c.name, err)
		}
		_, err = m.Forward(&in)
		if err == nil || !strings.Contains(err.Error(), "not finite") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
		t.Log(err)
	}
}
