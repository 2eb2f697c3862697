package train

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate of iteration iter (0-based), as a PyTorch scheduler
// stepped once per iteration would.
type Schedule interface {
	LR(iter int) float64
}

// warmup is the linear warm-up factor of PyTorch's LinearLR: start at iteration 0, rising
// linearly to 1 at iteration n.
func warmup(iter, n int, start float64) float64 {
	if iter >= n || n <= 0 {
		return 1
	}
	return start + (1-start)*float64(iter)/float64(n)
}

// MultiStep is MultiStepLR: Base, multiplied by Gamma at each milestone iteration reached,
// optionally after a linear warm-up from Base·WarmupStart over the first Warmup iterations.
// Milestones count from iteration 0, warm-up included.
type MultiStep struct {
	Base, Gamma float64
	Milestones  []int
	Warmup      int
	WarmupStart float64
}

// LR implements Schedule.
func (s MultiStep) LR(iter int) float64 {
	lr := s.Base * warmup(iter, s.Warmup, s.WarmupStart)
	for _, m := range s.Milestones {
		if iter >= m {
			lr *= s.Gamma
		}
	}
	return lr
}

// EpochMilestones converts milestones in epochs to iterations.
func EpochMilestones(epochs []int, itersPerEpoch int) []int {
	out := make([]int, len(epochs))
	for i, e := range epochs {
		out[i] = e * itersPerEpoch
	}
	return out
}

// PaperIters is the length of He et al.'s CIFAR-10 training: 64k iterations at batch 128.
const PaperIters = 64000

// PaperCIFAR is He et al.'s CIFAR-10 schedule (§4.2): 0.1, divided by 10 at 32k and 48k
// iterations, stopping at PaperIters.
func PaperCIFAR() MultiStep {
	return MultiStep{Base: 0.1, Gamma: 0.1, Milestones: []int{32000, 48000}}
}

// Cosine is CosineAnnealingLR from Base to Min over Total iterations, optionally after a
// linear warm-up from Base·WarmupStart over the first Warmup iterations (then the cosine
// spans the remaining Total−Warmup, as SequentialLR(LinearLR, CosineAnnealingLR) does).
// Past Total the rate stays at Min.
type Cosine struct {
	Base, Min   float64
	Total       int
	Warmup      int
	WarmupStart float64
}

// LR implements Schedule.
func (s Cosine) LR(iter int) float64 {
	if iter < s.Warmup {
		return s.Base * warmup(iter, s.Warmup, s.WarmupStart)
	}
	span := s.Total - s.Warmup
	t := iter - s.Warmup
	if span <= 0 || t >= span {
		return s.Min
	}
	return s.Min + (s.Base-s.Min)*(1+math.Cos(math.Pi*float64(t)/float64(span)))/2
}

// Constant is a fixed learning rate.
type Constant float64

// LR implements Schedule.
func (c Constant) LR(int) float64 { return float64(c) }

// CheckSchedule reports settings no scheduler accepts.
func CheckSchedule(s Schedule) error {
	switch v := s.(type) {
	case MultiStep:
		if v.Base < 0 || v.Gamma <= 0 || v.Warmup < 0 || v.WarmupStart < 0 || v.WarmupStart > 1 {
			return fmt.Errorf("train: multi-step schedule %+v: need base ≥ 0, gamma > 0, warm-up start in [0, 1]", v)
		}
		for i := 1; i < len(v.Milestones); i++ {
			if v.Milestones[i] < v.Milestones[i-1] {
				return fmt.Errorf("train: multi-step milestones %v are not increasing", v.Milestones)
			}
		}
	case Cosine:
		if v.Base < 0 || v.Min < 0 || v.Total < 1 || v.Warmup < 0 || v.Warmup > v.Total || v.WarmupStart < 0 || v.WarmupStart > 1 {
			return fmt.Errorf("train: cosine schedule %+v: need rates ≥ 0, total ≥ 1, 0 ≤ warm-up ≤ total, warm-up start in [0, 1]", v)
		}
	case nil:
		return fmt.Errorf("train: no learning-rate schedule")
	}
	return nil
}
