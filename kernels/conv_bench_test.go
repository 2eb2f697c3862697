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
	{"l2_3x3_128", ConvParams{InC: 128, InH: 28, InW: 28, OutC: 128, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},
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

// BenchmarkConv2DPlanned is BenchmarkConv2D through PlanConv (Winograd for
// the 3×3 stride-1 layers); GFLOP/s counts the direct convolution's work.
func BenchmarkConv2DPlanned(b *testing.B) {
	for _, c := range benchConvs {
		b.Run(c.name, func(b *testing.B) {
			p := c.p
			r := rand.New(rand.NewPCG(1, 2))
			n := p.OutC * p.OutH() * p.OutW()
			in, pl := randSlice(r, p.InC*p.InH*p.InW), PlanConv(p, randSlice(r, p.OutC*p.InC*p.KH*p.KW))
			bias, res, out := randSlice(r, p.OutC), randSlice(r, n), make([]float32, n)
			benchPaths(b, func(b *testing.B) {
				for b.Loop() {
					Conv2DPlanned(p, 1, in, pl, bias, res, true, out)
				}
				b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		})
	}
}

// resnet50Convs lists every convolution of ResNet-50 (torchvision v1.5) for
// one 224×224 image, in execution order.
func resnet50Convs() []ConvParams {
	conv := func(in, h, out, k, s int) ConvParams {
		return ConvParams{InC: in, InH: h, InW: h, OutC: out, KH: k, KW: k, StrideH: s, StrideW: s, PadH: k / 2, PadW: k / 2}
	}
	ps := []ConvParams{conv(3, 224, 64, 7, 2)}
	in, h := 64, 56
	for _, st := range []struct{ blocks, mid, out, stride int }{{3, 64, 256, 1}, {4, 128, 512, 2}, {6, 256, 1024, 2}, {3, 512, 2048, 2}} {
		for b := 0; b < st.blocks; b++ {
			s := 1
			if b == 0 {
				s = st.stride
				ps = append(ps, conv(in, h, st.out, 1, s)) // projection shortcut
			}
			ps = append(ps, conv(in, h, st.mid, 1, 1), conv(st.mid, h, st.mid, 3, s))
			h /= s
			ps = append(ps, conv(st.mid, h, st.out, 1, 1))
			in = st.out
		}
	}
	return ps
}

// BenchmarkResNet50Convs runs all 53 convolutions of ResNet-50 for one image
// with prepacked weights, bias and ReLU fused (ms/image excludes pooling and
// the classifier, which are well under 1% of the work).
func BenchmarkResNet50Convs(b *testing.B) {
	ps := resnet50Convs()
	r := rand.New(rand.NewPCG(1, 2))
	type layer struct {
		p       ConvParams
		w       *PackedA
		bias    []float32
		in, out []float32
	}
	var layers []layer
	var macs int64
	for _, p := range ps {
		layers = append(layers, layer{p, PackConvWeights(p, randSlice(r, p.OutC*p.InC*p.KH*p.KW)), randSlice(r, p.OutC),
			randSlice(r, p.InC*p.InH*p.InW), make([]float32, p.OutC*p.OutH()*p.OutW())})
		macs += p.MACs()
	}
	benchPaths(b, func(b *testing.B) {
		for b.Loop() {
			for _, l := range layers {
				Conv2DPacked(l.p, l.in, l.w, l.bias, nil, true, l.out, nil)
			}
		}
		sec := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(sec*1e3, "ms/image")
		b.ReportMetric(2*float64(macs)/sec/1e9, "GFLOP/s")
	})
}
