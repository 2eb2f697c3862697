package weights

import (
	"math"
	"math/rand/v2"
	"testing"
)

// f16Reference decodes a half from its definition, independently of f16ToF32.
func f16Reference(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e, m := int(h>>10)&0x1f, float64(h&0x3ff)
	switch e {
	case 0x1f:
		if m != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	case 0:
		return sign * math.Ldexp(m, -24)
	}
	return sign * math.Ldexp(1+m/1024, e-15)
}

func TestF16ToF32Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got, want := f16ToF32(uint16(h)), f16Reference(uint16(h))
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) || f32ToF16(got) != uint16(h)|0x200 {
				t.Fatalf("NaN %#04x -> %v -> %#04x", h, got, f32ToF16(got))
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("f16ToF32(%#04x) = %v, want %v", h, got, want)
		}
		if back := f32ToF16(got); back != uint16(h) {
			t.Fatalf("round trip %#04x -> %v -> %#04x", h, got, back)
		}
	}
}

// TestRoundingMatchesTorch compares with torch's .half() and .bfloat16() bits.
func TestRoundingMatchesTorch(t *testing.T) {
	var fx struct{ Cases [][3]uint32 }
	readJSON(t, "rounding.json", &fx)
	if len(fx.Cases) < 200 {
		t.Fatalf("only %d rounding cases", len(fx.Cases))
	}
	for _, c := range fx.Cases {
		f := math.Float32frombits(c[0])
		if got := f32ToF16(f); uint32(got) != c[1] {
			t.Errorf("f32ToF16(%v = %#08x) = %#04x, torch %#04x", f, c[0], got, c[1])
		}
		if got := f32ToBF16(f); uint32(got) != c[2] {
			t.Errorf("f32ToBF16(%v = %#08x) = %#04x, torch %#04x", f, c[0], got, c[2])
		}
	}
	nan := float32(math.NaN())
	if !math.IsNaN(float64(f16ToF32(f32ToF16(nan)))) || !math.IsNaN(float64(bf16ToF32(f32ToBF16(nan)))) {
		t.Error("NaN does not stay NaN")
	}
}

// TestRoundingNearestEven checks random floats against the definition: the result
// is at least as close as both neighbours, and on a tie it is the even one.
func TestRoundingNearestEven(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	conv := []struct {
		name string
		to   func(float32) uint16
		from func(uint16) float32
	}{{"f16", f32ToF16, f16ToF32}, {"bf16", f32ToBF16, bf16ToF32}}
	for i := 0; i < 200000; i++ {
		x := math.Float32frombits(rng.Uint32())
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			continue
		}
		for _, c := range conv {
			h := c.to(x)
			got := float64(c.from(h))
			if math.IsInf(got, 0) {
				continue // overflow: checked by the torch fixture
			}
			d := math.Abs(float64(x) - got)
			for _, nb := range []uint16{h - 1, h + 1} {
				v := float64(c.from(nb))
				if math.IsNaN(v) || math.Signbit(v) != math.Signbit(got) && v != 0 {
					continue
				}
				dn := math.Abs(float64(x) - v)
				if dn < d || (dn == d && h&1 == 1) {
					t.Fatalf("%s(%v) = %#04x (%v), but %#04x (%v) is nearer or the even tie", c.name, x, h, got, nb, v)
				}
			}
		}
	}
}
