package kernels

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

func BenchmarkZZNet(b *testing.B) {
	th, _ := strconv.Atoi(os.Getenv("ZZT"))
	SetThreads(max(th, 1))
	ps := resnet50Convs()
	if os.Getenv("ZZNET") == "18" {
		ps = resnet18Convs()
	}
	r := rand.New(rand.NewPCG(1, 2))
	type layer struct {
		p       ConvParams
		pl      *ConvPlan
		bias    []float32
		in, out []float32
	}
	var layers []layer
	for _, p := range ps {
		layers = append(layers, layer{p, PlanConv(p, randSlice(r, p.OutC*p.InC*p.KH*p.KW)), randSlice(r, p.OutC),
			randSlice(r, p.InC*p.InH*p.InW), make([]float32, p.OutC*p.OutH()*p.OutW())})
	}
	for b.Loop() {
		for _, l := range layers {
			Conv2DPlanned(l.p, 1, l.in, l.pl, l.bias, nil, true, l.out)
		}
	}
}
