package train

import (
	"math"
	"testing"
)

// TestSchedulesAgainstPyTorch compares the schedules with the learning rates
// torch.optim.lr_scheduler produced (testdata/lr.safetensors, stored as F64 and read back as
// float32, hence the 1e-7 relative tolerance).
func TestSchedulesAgainstPyTorch(t *testing.T) {
	ref := readST(t, "testdata/lr.safetensors")
	cases := []struct {
		name string
		s    Schedule
	}{
		// MultiStepLR(milestones=[32, 48], gamma=0.1): the paper's schedule at 1/1000 scale.
		{"multistep", MultiStep{Base: 0.1, Gamma: 0.1, Milestones: []int{32, 48}}},
		{"cosine", Cosine{Base: 0.1, Min: 0.001, Total: 20}},
		// SequentialLR(LinearLR(0.1, 5), CosineAnnealingLR(T_max=15)) at milestone 5.
		{"warmup_cosine", Cosine{Base: 0.1, Total: 20, Warmup: 5, WarmupStart: 0.1}},
		// SequentialLR(LinearLR(0.01, 4), MultiStepLR([6, 9])) at milestone 4: the second
		// scheduler counts from 4, so the absolute milestones are 10 and 13.
		{"warmup_multistep", MultiStep{Base: 0.1, Gamma: 0.1, Milestones: []int{10, 13}, Warmup: 4, WarmupStart: 0.01}},
	}
	for _, c := range cases {
		want, ok := ref[c.name]
		if !ok {
			t.Fatalf("lr.safetensors lacks %q", c.name)
		}
		if err := CheckSchedule(c.s); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for i, w := range want.Data {
			if got := c.s.LR(i); math.Abs(got-float64(w)) > 1e-7*math.Abs(float64(w))+1e-12 {
				t.Errorf("%s: lr(%d) = %.9g, PyTorch %.9g", c.name, i, got, w)
			}
		}
	}
}

func TestSchedules(t *testing.T) {
	p := PaperCIFAR()
	for _, c := range []struct {
		iter int
		want float64
	}{{0, 0.1}, {31999, 0.1}, {32000, 0.01}, {47999, 0.01}, {48000, 0.001}, {PaperIters - 1, 0.001}} {
		if got := p.LR(c.iter); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("paper schedule at %d: %g, want %g", c.iter, got, c.want)
		}
	}
	if got := EpochMilestones([]int{100, 150}, 391); got[0] != 39100 || got[1] != 58650 {
		t.Errorf("EpochMilestones = %v", got)
	}
	if got := (Cosine{Base: 0.1, Min: 0.01, Total: 10}).LR(50); got != 0.01 {
		t.Errorf("cosine past the end = %g, want the minimum", got)
	}
	if got := Constant(0.05).LR(7); got != 0.05 {
		t.Errorf("constant = %g", got)
	}
	bad := []Schedule{
		nil,
		MultiStep{Base: 0.1, Gamma: 0.1, Milestones: []int{5, 3}},
		MultiStep{Base: 0.1, Gamma: 0},
		Cosine{Base: 0.1, Total: 0},
		Cosine{Base: 0.1, Total: 10, Warmup: 11},
		Cosine{Base: 0.1, Total: 10, WarmupStart: 2},
	}
	for _, s := range bad {
		if err := CheckSchedule(s); err == nil {
			t.Errorf("CheckSchedule(%#v) accepted", s)
		}
	}
}
