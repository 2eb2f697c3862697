package kernels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestGridSimulation is a measuring tool, not a test: with RESNET_GRIDSIM=T[,N] it plans
// ResNet-50's convolutions for T threads and batch N (default 1), then runs every parallel
// loop's tasks one after the other on one core, timing each, and reports per layer the
// one-core time and what T perfect cores would take with these grids: each loop as long as
// the larger of its longest task and its total over T, plus the work outside loops. It says
// how much of a many-core speed-up the task grids allow, leaving out what it cannot see
// (memory bandwidth shared by T cores, hand-off costs), so it bounds, not predicts, a 16-core
// run. Loops of fewer than T tasks are listed. On the 2-core Intel Xeon (session 23), T = 16:
// 11.7–12.1× at batch 1 and 12.4–13.0× at batch 16, where the 16-core machine measured ONNX
// Runtime at 5.7× and 7.4× from 1 to 16 threads and this project at 4.9× and 5.0× (issue 10,
// as filed): the grids are not what holds a 16-core run back.
//
//	RESNET_GRIDSIM=16,1 go test -run TestGridSimulation -v ./kernels
func TestGridSimulation(t *testing.T) {
	spec := os.Getenv("RESNET_GRIDSIM")
	if spec == "" {
		t.Skip("a measuring tool: set RESNET_GRIDSIM=THREADS[,BATCH]")
	}
	f := strings.Split(spec, ",")
	threads, err := strconv.Atoi(f[0])
	batch := 1
	if err == nil && len(f) > 1 {
		batch, err = strconv.Atoi(f[1])
	}
	if err != nil || threads < 1 || batch < 1 {
		t.Fatalf("RESNET_GRIDSIM=%q: want THREADS[,BATCH], both at least 1", spec)
	}
	defer SetThreads(Threads())
	SetThreads(threads)
	var makespan, work float64 // the loops' simulated time and their tasks' total, in seconds
	var narrow []int           // task counts of loops narrower than the machine
	parallelSim = func(n int, fn func(i int)) {
		sum, longest := 0.0, 0.0
		for i := range n {
			t0 := time.Now()
			fn(i)
			d := time.Since(t0).Seconds()
			sum += d
			longest = max(longest, d)
		}
		makespan += max(longest, sum/float64(threads))
		work += sum
		if n < threads {
			narrow = append(narrow, n)
		}
	}
	defer func() { parallelSim = nil }()
	r := rand.New(rand.NewPCG(1, 2))
	fmt.Printf("%d threads, batch %d: ms per layer on one core and on %d simulated cores\n", threads, batch, threads)
	var one, sim float64
	for _, p := range resnet50Convs() {
		pl := PlanConv(p, randSlice(r, p.OutC*p.InC*p.KH*p.KW))
		in, bias := randSlice(r, batch*p.InC*p.InH*p.InW), randSlice(r, p.OutC)
		out := make([]float32, batch*p.OutC*p.OutH()*p.OutW())
		Conv2DPlanned(p, batch, in, pl, bias, nil, true, out) // first touches
		best, bestSim, bestNarrow := 0.0, 0.0, []int(nil)
		for rep := 0; rep < 3; rep++ {
			makespan, work, narrow = 0, 0, nil
			t0 := time.Now()
			Conv2DPlanned(p, batch, in, pl, bias, nil, true, out)
			d := time.Since(t0).Seconds()
			if rep == 0 || d < best {
				best, bestSim, bestNarrow = d, d-work+makespan, narrow
			}
		}
		one += best
		sim += bestSim
		note := ""
		if len(bestNarrow) > 0 {
			note = fmt.Sprintf("  loops of %v tasks", bestNarrow)
		}
		fmt.Printf("%dx%d/%d %4d->%-4d @%-3d %8.3f %7.3f  %5.2f×%s\n", p.KH, p.KW, p.StrideH, p.InC, p.OutC, p.InH, best*1e3, bestSim*1e3, best/bestSim, note)
	}
	fmt.Printf("all %d convolutions: %.2f ms on one core, %.2f on %d: %.2f×\n", len(resnet50Convs()), one*1e3, sim*1e3, threads, one/sim)
}
