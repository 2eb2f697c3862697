package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

var zzS2 = []ConvParams{
	{InC: 128, InH: 56, InW: 56, OutC: 128, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{InC: 512, InH: 14, InW: 14, OutC: 512, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{InC: 256, InH: 56, InW: 56, OutC: 512, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
	{InC: 3, InH: 224, InW: 224, OutC: 64, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3},
	{InC: 512, InH: 7, InW: 7, OutC: 2048, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
}

func BenchmarkZZS2(b *testing.B) {
	SetThreads(1)
	for _, p := range zzS2 {
		r := rand.New(rand.NewPCG(1, 2))
		in := randSlice(r, p.InC*p.InH*p.InW)
		pl := PlanConv(p, randSlice(r, p.OutC*p.InC*p.KH*p.KW))
		out := make([]float32, p.OutC*p.OutH()*p.OutW())
		b.Run(fmt.Sprintf("%dx%d_%d_%d", p.KH, p.StrideH, p.InC, p.InH), func(b *testing.B) {
			for b.Loop() {
				Conv2DPlanned(p, 1, in, pl, nil, nil, true, out)
			}
			b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
