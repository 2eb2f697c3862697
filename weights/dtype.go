package weights

import (
	"encoding/binary"
	"fmt"
	"math"
)

// dtypeSizes holds the element size in bytes of every safetensors dtype that has a
// whole-byte size. Knowing the size of a dtype we cannot convert still lets the
// parser validate a file's offsets before reporting the dtype as unsupported.
var dtypeSizes = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"F64": 8, "I64": 8, "U64": 8, "C64": 8,
}

// elemDecoders reads one little-endian element as float32, per convertible dtype.
var elemDecoders = map[string]func(b []byte) float32{
	"F32":  func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) },
	"F16":  func(b []byte) float32 { return f16ToF32(binary.LittleEndian.Uint16(b)) },
	"BF16": func(b []byte) float32 { return bf16ToF32(binary.LittleEndian.Uint16(b)) },
	"F64":  func(b []byte) float32 { return float32(math.Float64frombits(binary.LittleEndian.Uint64(b))) },
	"I64":  func(b []byte) float32 { return float32(int64(binary.LittleEndian.Uint64(b))) },
	"I32":  func(b []byte) float32 { return float32(int32(binary.LittleEndian.Uint32(b))) },
	"I16":  func(b []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(b))) },
	"I8":   func(b []byte) float32 { return float32(int8(b[0])) },
	"U8":   func(b []byte) float32 { return float32(b[0]) },
	"BOOL": func(b []byte) float32 {
		if b[0] != 0 {
			return 1
		}
		return 0
	},
}

// checkConvertible reports whether values of dtype can be turned into float32.
func checkConvertible(name, dtype string) error {
	if _, ok := elemDecoders[dtype]; ok {
		return nil
	}
	if _, ok := dtypeSizes[dtype]; ok {
		return fmt.Errorf("tensor %q: unsupported dtype %s (supported: F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL)", name, dtype)
	}
	return fmt.Errorf("tensor %q: unknown dtype %q", name, dtype)
}

// decodeContiguous converts len(dst) packed elements of dtype from raw into dst.
// The caller guarantees len(raw) == len(dst)*size and that dtype is convertible.
func decodeContiguous(dtype string, raw []byte, dst []float32) {
	switch dtype {
	case "F32":
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case "F16":
		for i := range dst {
			dst[i] = f16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case "BF16":
		for i := range dst {
			dst[i] = bf16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	default:
		dec, size := elemDecoders[dtype], dtypeSizes[dtype]
		for i := range dst {
			dst[i] = dec(raw[size*i:])
		}
	}
}

// f16ToF32 widens an IEEE binary16 value; every half is exactly representable.
func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // inf or NaN, keep the payload
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// subnormal: normalise the mantissa
	e := uint32(113)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// f32ToF16 rounds to the nearest binary16, ties to even, as PyTorch's .half() does.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13) // quiet NaN, keep top payload bits
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign // below half the smallest subnormal
		}
		m := mant | 0x800000
		shift := uint(14 - e)
		q := m >> shift
		r := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if r > half || (r == half && q&1 == 1) {
			q++ // may carry into the smallest normal, which is the right encoding
		}
		return sign | uint16(q)
	}
	q := uint32(e)<<10 | mant>>13
	r := mant & 0x1fff
	if r > 0x1000 || (r == 0x1000 && q&1 == 1) {
		q++ // a carry into the exponent rounds up to the next binade or to inf
	}
	return sign | uint16(q)
}

// bf16ToF32 widens a bfloat16 value (the top half of a float32).
func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// f32ToBF16 rounds to the nearest bfloat16, ties to even, keeping NaNs quiet.
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// nativeLittleEndian is true where float32 values in memory have safetensors' byte order.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
