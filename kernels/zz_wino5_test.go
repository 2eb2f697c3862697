package kernels

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

func BenchmarkZZWinoProf(b *testing.B) {
	c, _ := strconv.Atoi(os.Getenv("ZZC"))
	h, _ := strconv.Atoi(os.Getenv("ZZH"))
	p := ConvParams{InC: c, InH: h, InW: h, OutC: c, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	SetThreads(1)
	r := rand.New(rand.NewPCG(1, 2))
	in := randSlice(r, p.InC*p.InH*p.InW)
	pl := PlanConv(p, randSlice(r, p.OutC*p.InC*9))
	out := make([]float32, p.OutC*p.OutH()*p.OutW())
	for b.Loop() {
		Conv2DPlanned(p, 1, in, pl, nil, nil, true, out)
	}
}
