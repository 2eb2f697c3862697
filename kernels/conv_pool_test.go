package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/isatest"
)

// TestConv2DPlannedMaxPool checks the stem's convolution fused with its max
// pool against the two steps run apart, bit for bit, on every path and thread
// count: shapes the fused route takes (7×7/2 stems, even and odd maps, with
// and without bias and ReLU, batches of two) and ones it hands to the two
// steps. On the avx512 path it also checks that the stems took the fused route.
func TestConv2DPlannedMaxPool(t *testing.T) {
	stem := func(c, h, w, out int) ConvParams {
		return ConvParams{InC: c, InH: h, InW: w, OutC: out, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}
	}
	cases := []struct {
		p     ConvParams
		fused bool // on the avx512 path
	}{
		{stem(3, 224, 224, 64), true},
		{stem(3, 97, 128, 24), true}, // 49×64: odd output rows
		{stem(2, 60, 160, 9), true},  // 30×80, a row panel of 1 channel
		{stem(3, 64, 61, 16), false}, // 32×31: a plane per column shift, no extended rows
		{ConvParams{InC: 8, InH: 20, InW: 20, OutC: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, false},
		{ConvParams{InC: 16, InH: 28, InW: 28, OutC: 8, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, false},
	}
	isatest.Run(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, c := range cases {
			p := c.p
			if testing.Short() && p.InH*p.InW > 20000 && !curISA().asm {
				continue // the pure-Go paths under emulation (CI's arm64 run): the smaller stems suffice
			}
			oh, ow := p.OutH(), p.OutW()
			ph, pw := (oh-1)/2+1, (ow-1)/2+1
			const n = 2
			pl := PlanConv(p, randSlice(r, p.OutC*p.InC*p.KH*p.KW))
			in := randSlice(r, n*p.InC*p.InH*p.InW)
			for _, bias := range [][]float32{nil, randSlice(r, p.OutC)} {
				for _, relu := range []bool{false, true} {
					conv := make([]float32, n*p.OutC*oh*ow)
					Conv2DPlanned(p, n, in, pl, bias, nil, relu, conv)
					want := make([]float32, n*p.OutC*ph*pw)
					MaxPool2D(n*p.OutC, oh, ow, 3, 2, 1, conv, want)
					for _, threads := range []int{1, 2, 3} {
						name := fmt.Sprintf("%dx%dx%d->%d bias=%v relu=%v t%d", p.InC, p.InH, p.InW, p.OutC, bias != nil, relu, threads)
						got := fill(make([]float32, len(want)+1), float32(math.NaN()))
						withThreads(threads, func() {
							Conv2DPlannedMaxPool(p, n, in, pl, bias, relu, nil, got[:len(want)])
						})
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s: [%d] = %v, want %v", name, i, got[i], want[i])
							}
						}
						if !math.IsNaN(float64(got[len(want)])) {
							t.Fatalf("%s: wrote past the pooled output", name)
						}
					}
				}
			}
			if ISA() == "avx512" {
				geom := pl.phaseGeom(p)
				g := gemmArgs{m: p.OutC, k: p.InC * p.KH * p.KW, pa: pl.packed, isa: curISA()}
				if geom != nil {
					g.n = geom.n
				}
				took := geom != nil && geom.ew != ow && g.k <= curISA().gemm.kc && byRows(&g, ow, geom.ew)
				if took != c.fused {
					t.Errorf("%+v: fused route %v, want %v", p, took, c.fused)
				}
			}
		}
	})
}

// TestConv2DPlannedMaxPoolErrors checks that a short pooled output is refused,
// naming it.
func TestConv2DPlannedMaxPoolErrors(t *testing.T) {
	p := ConvParams{InC: 3, InH: 32, InW: 32, OutC: 8, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}
	pl := PlanConv(p, make([]float32, 8*3*49))
	defer func() {
		err, _ := recover().(error)
		if err == nil || !strings.Contains(err.Error(), "pooled output has 10 values, want at least 512") {
			t.Fatalf("got %v", err)
		}
	}()
	Conv2DPlannedMaxPool(p, 1, make([]float32, 3*32*32), pl, nil, true, nil, make([]float32, 10))
}
