package kernels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"
)

func TestZZLayers(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	nets := map[string][]ConvParams{"r50": resnet50Convs(), "r18": resnet18Convs()}
	batch, _ := strconv.Atoi(os.Getenv("ZZN"))
	batch = max(batch, 1)
	for _, name := range []string{"r50", "r18"} {
		ps := nets[name]
		r := rand.New(rand.NewPCG(1, 2))
		type lay struct {
			p             ConvParams
			pl            *ConvPlan
			in, out, bias []float32
		}
		var ls []lay
		for _, p := range ps {
			ls = append(ls, lay{p, PlanConv(p, randSlice(r, p.OutC*p.InC*p.KH*p.KW)), randSlice(r, batch*p.InC*p.InH*p.InW), make([]float32, batch*p.OutC*p.OutH()*p.OutW()), randSlice(r, p.OutC)})
		}
		bests := map[int][]time.Duration{1: make([]time.Duration, len(ps)), 2: make([]time.Duration, len(ps))}
		for round := 0; round < 6; round++ {
			for _, th := range []int{1, 2} {
				SetThreads(th)
				for i, l := range ls {
					t0 := time.Now()
					Conv2DPlanned(l.p, batch, l.in, l.pl, l.bias, nil, true, l.out)
					d := time.Since(t0)
					if round == 0 || d < bests[th][i] {
						bests[th][i] = d
					}
				}
			}
		}
		for _, th := range []int{1, 2} {
			agg := map[string]time.Duration{}
			aggm := map[string]int64{}
			var tot time.Duration
			for i, l := range ls {
				p, pl, best := l.p, l.pl, bests[th][i]
				key := fmt.Sprintf("%dx%d s%d %4d->%4d @%3d %s", p.KH, p.KW, p.StrideH, p.InC, p.OutC, p.InH, pl.Algorithm())
				agg[key] += best
				aggm[key] += p.MACs() * int64(batch)
				tot += best
			}
			fmt.Printf("%s n%d threads %d total %.2f ms/image\n", name, batch, th, tot.Seconds()*1e3/float64(batch))
			var keys []string
			for k := range agg {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v := agg[k]
				fmt.Printf("  %-42s %7.3f ms %6.1f GFLOP/s\n", k, v.Seconds()*1e3/float64(batch), 2*float64(aggm[k])/v.Seconds()/1e9)
			}
		}
	}
}
