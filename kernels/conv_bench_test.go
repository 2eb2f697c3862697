package kernels

import (
	"math/rand/v2"
	"testing"
)

// ResNet-50 (torchvision v1.5: stride on the 3×3) layers at batch 1.
var benchConvs = []struct {
	name string
	p    ConvParams
}{
	{"stem7x7s2", ConvParams{InC: 3, InH: 224, InW: 224, OutC: 64, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}},
	{"l1_1x1_64to256", ConvParams{InC: 64, InH: 56, InW: 56, OutC: 256, KH: 1, KW: 1, StrideH: 1, StrideW: 1}},
	{"l1_3x3_64", ConvParams{InC: 64, InH: 56, InW: 56, OutC: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},
	{"l2_3x3s2_128", ConvParams{InC: 128, InH: 56, InW: 56, OutC: 128, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{"l2_down1x1s2", ConvParams{InC: 256, InH: 56, InW: 56, OutC: 512, KH: 1, KW: 1, StrideH: 2, StrideW: 2}},
	{"l3_3x3_256", ConvParams{InC: 256, InH: 14, InW: 14, OutC: 256, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},
	{"l4_3x3_512", ConvParams{InC: 512, InH: 7, InW: 7, OutC: 512, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},
	{"l4_1x1_512to2048", ConvParams{InC: 512, InH: 7, InW: 7, OutC: 2048, KH: 1, KW: 1, StrideH: 1, StrideW: 1}},
}

// BenchmarkConv2D runs each layer with bias, residual and ReLU fused.
func BenchmarkConv2D(b *testing.B) {
	for _, c := range benchConvs {
		b.Run(c.name, func(b *testing.B) {
			p := c.p
			r := rand.New(rand.NewPCG(1, 2))
			n := p.OutC * p.OutH() * p.OutW()
			in, w := randSlice(r, p.InC*p.InH*p.InW), randSlice(r, p.OutC*p.InC*p.KH*p.KW)
			bias, res, out := randSlice(r, p.OutC), randSlice(r, n), make([]float32, n)
			scratch := make([]float32, ConvScratch(p))
			benchPaths(b, func(b *testing.B) {
				for b.Loop() {
					Conv2D(p, in, w, bias, res, true, out, scratch)
				}
				b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		})
	}
}

// BenchmarkConv2DPacked is BenchmarkConv2D with prepacked weights.
func BenchmarkConv2DPacked(b *testing.B) {
	for _, c := range benchConvs {
		b.Run(c.name, func(b *testing.B) {
			p := c.p
			r := rand.New(rand.NewPCG(1, 2))
			n := p.OutC * p.OutH() * p.OutW()
			in, w := randSlice(r, p.InC*p.InH*p.InW), PackConvWeights(p, randSlice(r, p.OutC*p.InC*p.KH*p.KW))
			bias, res, out := randSlice(r, p.OutC), randSlice(r, n), make([]float32, n)
			scratch := make([]float32, ConvScratch(p))
			benchPaths(b, func(b *testing.B) {
				for b.Loop() {
					Conv2DPacked(p, in, w, bias, res, true, out, scratch)
				}
				b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		})
	}
}
