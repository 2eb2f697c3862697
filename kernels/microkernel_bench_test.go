package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/resnet-go/resnet/internal/isa"
)

// BenchmarkMicroKernel runs each path's micro-kernel alone on one B micro-panel (in L1) and
// an mc×kc A block (in L2), as the GEMM's inner loop does: the kernel's own rate, without
// packing or edges.
func BenchmarkMicroKernel(b *testing.B) {
	for _, name := range SupportedISAs() {
		id, _ := isa.Parse(name)
		ker := impls[id].gemm
		for _, kc := range []int{32, 64, 128, 256} {
			b.Run(fmt.Sprintf("%s/kc%d", ker.name, kc), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				panels := ker.mc / ker.mr
				a, bp := randSlice(r, panels*kc*ker.mr), randSlice(r, kc*ker.nr)
				c := make([]float32, panels*ker.mr*ker.nr)
				for b.Loop() {
					for q := range panels {
						runTile(ker, kc, a[q*kc*ker.mr:], bp, c[q*ker.mr*ker.nr:], ker.nr, ker.mr, ker.nr, flagLoad, nil, nil, 0)
					}
				}
				flops := 2 * float64(panels*ker.mr*ker.nr*kc) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
