package imageproc

import (
	"encoding/binary"
	"encoding/json"
	"image"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

// The torchvision fixtures come from tools/fixtures/gen_tvresize.py (torch
// 1.13, torchvision 0.14). Every comparison is exact: uint8 bytes equal, and
// float32 values equal bit for bit.

const tvDir = "testdata/tvresize"

type tvCase struct {
	Input  string `json:"input"`
	W      int    `json:"w"`
	H      int    `json:"h"`
	Filter Filter `json:"filter"`
	Output string `json:"output"`
	Float  string `json:"float"`
}

func readTVJSON(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tvDir, name))
	if err != nil {
		t.Fatalf("%v (regenerate with: /usr/bin/python3 tools/fixtures/gen_tvresize.py)", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// TestTVInterpolateFixtures: the float32 sums before rounding equal
// torch.nn.functional.interpolate(antialias=True) bit for bit.
func TestTVInterpolateFixtures(t *testing.T) {
	var cases []tvCase
	readTVJSON(t, "cases.json", &cases)
	if len(cases) < 20 {
		t.Fatalf("cases.json lists %d cases, want the generator's 24", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Float, func(t *testing.T) {
			src := mustDecode(t, filepath.Join(tvDir, c.Input))
			want := readF32(t, filepath.Join(tvDir, c.Float))
			got := TVInterpolate(src, c.W, c.H, c.Filter)
			if len(got) != len(want) {
				t.Fatalf("%d values, want %d", len(got), len(want))
			}
			bad, first := 0, -1
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					bad++
					if first < 0 {
						first = i
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d values differ; first at %d: got %v want %v", bad, len(got), first, got[first], want[first])
			}
		})
	}
}

// TestTVResizeFixtures: the uint8 result equals torchvision's
// F.resize(uint8 tensor, antialias=True) byte for byte, for the whole image
// and for sub-regions (the crop path).
func TestTVResizeFixtures(t *testing.T) {
	var cases []tvCase
	readTVJSON(t, "cases.json", &cases)
	for _, c := range cases {
		t.Run(c.Output, func(t *testing.T) {
			src := mustDecode(t, filepath.Join(tvDir, c.Input))
			want := mustDecode(t, filepath.Join(tvDir, c.Output))
			got := TVResize(src, c.W, c.H, c.Filter)
			if msg, _ := diffRGB(got, want); msg != "" {
				t.Fatal(msg)
			}
			for _, r := range []image.Rectangle{
				image.Rect(c.W/3, c.H/4, c.W, c.H),
				image.Rect(0, c.H/2, (c.W+1)/2, c.H),
				image.Rect(c.W-1, c.H-1, c.W, c.H),
			} {
				if r.Empty() {
					continue
				}
				if msg, _ := diffRGB(TVResizeRegion(src, c.W, c.H, c.Filter, r), subImage(want, r)); msg != "" {
					t.Errorf("region %v: %s", r, msg)
				}
			}
		})
	}
}

// fma32 equals the exact a*b+c rounded once to float32 (math/big), on random
// operands and on constructed float32 ties, where rounding through float64
// first would go the wrong way.
func TestFMA32(t *testing.T) {
	exact := func(a, b, c float32) float32 {
		x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		x.Mul(x, new(big.Float).SetPrec(200).SetFloat64(float64(b)))
		x.Add(x, new(big.Float).SetPrec(200).SetFloat64(float64(c)))
		f, _ := x.Float32()
		return f
	}
	s := uint32(12345)
	next := func() float32 {
		s ^= s << 13
		s ^= s >> 17
		s ^= s << 5
		return math.Float32frombits(s&0x807fffff | (uint32(100+s%60) << 23)) // exponents 2^-27..2^32
	}
	type op struct{ a, b, c float32 }
	// (1+2^-12)^2 = 1 + 2^-11 + 2^-24 is halfway between two float32s; a
	// c of ±2^-70 decides the rounding, and float64 cannot hold it: the
	// first case is the one a plain float32(math.FMA(...)) gets wrong.
	ops := []op{
		{1 + 0x1p-12, 1 + 0x1p-12, 0x1p-70},
		{1 + 0x1p-12, 1 + 0x1p-12, -0x1p-70},
		{-1 - 0x1p-12, 1 + 0x1p-12, 0x1p-70},
		{1 + 0x1p-12, 1 + 0x1p-12, 0},
		{3, 0x1p-150, 0}, {-1e-30, 1e-10, 1e-45}, {0, 5, -0},
	}
	if o := ops[0]; float32(math.FMA(float64(o.a), float64(o.b), float64(o.c))) == exact(o.a, o.b, o.c) {
		t.Fatal("the tie case is not a double-rounding trap; the test lost its point")
	}
	for range 200000 {
		ops = append(ops, op{next(), next(), next()})
	}
	bad := 0
	for _, o := range ops {
		got, want := fma32(o.a, o.b, o.c), exact(o.a, o.b, o.c)
		if math.Float32bits(got) != math.Float32bits(want) && !(got == 0 && want == 0) {
			if bad < 5 {
				t.Errorf("fma32(%g, %g, %g) = %g, want %g", o.a, o.b, o.c, got, want)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d wrong", bad, len(ops))
	}
}
