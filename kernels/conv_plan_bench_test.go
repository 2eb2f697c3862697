package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// resnet18Convs lists every convolution of ResNet-18 for one 224×224 image,
// in execution order (shortcut projection first, as the model runs it).
func resnet18Convs() []ConvParams {
	conv := func(in, h, out, k, s int) ConvParams {
		return ConvParams{InC: in, InH: h, InW: h, OutC: out, KH: k, KW: k, StrideH: s, StrideW: s, PadH: k / 2, PadW: k / 2}
	}
	ps := []ConvParams{conv(3, 224, 64, 7, 2)}
	in, h := 64, 56
	for si, out := range []int{64, 128, 256, 512} {
		for b := 0; b < 2; b++ {
			s := 1
			if b == 0 && si > 0 {
				s = 2
				ps = append(ps, conv(in, h, out, 1, s))
			}
			ps = append(ps, conv(in, h, out, 3, s))
			h /= s
			ps = append(ps, conv(out, h, out, 3, 1))
			in = out
		}
	}
	return ps
}

// BenchmarkResNetPlanned runs all convolutions of ResNet-50 and ResNet-18
// with PlanConv/Conv2DPlanned at batch 1 and 8 (ms/image excludes pooling
// and the classifier). "GFLOP/s" counts the direct convolution's
// multiply-adds, so Winograd layers show their effective rate.
func BenchmarkResNetPlanned(b *testing.B) {
	for _, net := range []struct {
		name string
		ps   []ConvParams
	}{{"resnet50", resnet50Convs()}, {"resnet18", resnet18Convs()}} {
		for _, batch := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/n%d", net.name, batch), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				type layer struct {
					p       ConvParams
					pl      *ConvPlan
					bias    []float32
					in, out []float32
				}
				var layers []layer
				var macs int64
				for _, p := range net.ps {
					layers = append(layers, layer{p, PlanConv(p, randSlice(r, p.OutC*p.InC*p.KH*p.KW)), randSlice(r, p.OutC),
						randSlice(r, batch*p.InC*p.InH*p.InW), make([]float32, batch*p.OutC*p.OutH()*p.OutW())})
					macs += p.MACs()
				}
				benchPaths(b, func(b *testing.B) {
					for _, l := range layers { // weights repacked for this path's tile, once
						Conv2DPlanned(l.p, batch, l.in, l.pl, l.bias, nil, true, l.out)
					}
					for b.Loop() {
						for _, l := range layers {
							Conv2DPlanned(l.p, batch, l.in, l.pl, l.bias, nil, true, l.out)
						}
					}
					sec := b.Elapsed().Seconds() / float64(b.N) / float64(batch)
					b.ReportMetric(sec*1e3, "ms/image")
					b.ReportMetric(2*float64(macs)/sec/1e9, "GFLOP/s")
				})
			})
		}
	}
}

// BenchmarkResNetLayerKinds runs, for each kind of ResNet-50 and ResNet-18
// layer (kernel, stride, channels, input size, algorithm), all the network's
// layers of that kind in sequence at batch 1, with bias and ReLU: the
// GFLOP/s per layer type (direct-convolution work) and ms per pass that
// layers of this kind cost the network.
func BenchmarkResNetLayerKinds(b *testing.B) {
	for _, net := range []struct {
		name string
		ps   []ConvParams
	}{{"resnet50", resnet50Convs()}, {"resnet18", resnet18Convs()}} {
		r := rand.New(rand.NewPCG(1, 2))
		type layer struct {
			p       ConvParams
			pl      *ConvPlan
			bias    []float32
			in, out []float32
		}
		kinds := map[string][]layer{}
		var order []string
		for _, p := range net.ps {
			pl := PlanConv(p, randSlice(r, p.OutC*p.InC*p.KH*p.KW))
			k := fmt.Sprintf("%dx%ds%d_%dto%d@%d_%s", p.KH, p.KW, p.StrideH, p.InC, p.OutC, p.InH, pl.Algorithm())
			if kinds[k] == nil {
				order = append(order, k)
			}
			kinds[k] = append(kinds[k], layer{p, pl, randSlice(r, p.OutC), randSlice(r, p.InC*p.InH*p.InW), make([]float32, p.OutC*p.OutH()*p.OutW())})
		}
		for _, k := range order {
			ls := kinds[k]
			var macs int64
			for _, l := range ls {
				macs += l.p.MACs()
			}
			b.Run(net.name+"/"+k, func(b *testing.B) {
				benchPaths(b, func(b *testing.B) {
					for _, l := range ls { // weights repacked for this path's tile, once
						Conv2DPlanned(l.p, 1, l.in, l.pl, l.bias, nil, true, l.out)
					}
					for b.Loop() {
						for _, l := range ls {
							Conv2DPlanned(l.p, 1, l.in, l.pl, l.bias, nil, true, l.out)
						}
					}
					sec := b.Elapsed().Seconds() / float64(b.N)
					b.ReportMetric(sec*1e3, "ms/pass")
					b.ReportMetric(2*float64(macs)/sec/1e9, "GFLOP/s")
				})
			})
		}
	}
}
