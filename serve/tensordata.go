package serve

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// OIP tensor data in JSON is row-major, flat ([1,2,3,4]) or nested ([[1,2],[3,4]]); in the
// binary extension it is little-endian, and each BYTES element is a 4-byte little-endian
// length followed by its bytes.

// parseJSONNumbers flattens valid JSON (as json.RawMessage holds it) made of arrays and
// numbers into float32s; want bounds the count (more is an error).
func parseJSONNumbers(data json.RawMessage, want int) ([]float32, error) {
	out := make([]float32, 0, min(want, len(data)/2+1))
	depth := 0
	for i := 0; i < len(data); {
		switch c := data[i]; c {
		case '[':
			depth++
			if depth > 8 {
				return nil, fmt.Errorf("data is nested more than 8 deep")
			}
			i++
		case ']':
			depth--
			i++
		case ',', ' ', '\t', '\n', '\r':
			i++
		default:
			j := i
			for j < len(data) && isNumberByte(data[j]) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("data holds %s; FP32 data must be numbers", describeJSON(data[i:]))
			}
			v, err := strconv.ParseFloat(string(data[i:j]), 32)
			if err != nil {
				return nil, fmt.Errorf("data value %s is not a float32 (out of range)", data[i:j])
			}
			if len(out) == want {
				return nil, fmt.Errorf("data has more values than the shape's %d", want)
			}
			out = append(out, float32(v))
			i = j
		}
	}
	return out, nil
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func describeJSON(b []byte) string {
	switch b[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return strconv.Quote(string(b[:min(len(b), 10)]))
}

// parseJSONBytes flattens JSON arrays of strings, each the base64 of one element (encoded
// images are binary, which a JSON string cannot hold).
func parseJSONBytes(data json.RawMessage) ([][]byte, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	var out [][]byte
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		switch t := v.(type) {
		case []any:
			if depth > 8 {
				return fmt.Errorf("data is nested more than 8 deep")
			}
			for _, e := range t {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
			return nil
		case string:
			b, err := decodeBase64(t)
			if err != nil {
				return fmt.Errorf("element %d is not base64 (encoded images travel as base64 strings in JSON, or raw in the binary extension): %v", len(out), err)
			}
			out = append(out, b)
			return nil
		}
		return fmt.Errorf("element %d is not a string", len(out))
	}
	if err := walk(v, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeBase64 reads standard base64, padded or not, strictly.
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		if b2, err2 := base64.RawStdEncoding.Strict().DecodeString(s); err2 == nil {
			return b2, nil
		}
	}
	return b, err
}

// parseBinaryFP32 reads little-endian float32s.
func parseBinaryFP32(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// parseBinaryBytes reads length-prefixed BYTES elements; they must fill b exactly.
func parseBinaryBytes(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("BYTES element %d: %d bytes left, too few for its 4-byte length", len(out), len(b))
		}
		n := binary.LittleEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, fmt.Errorf("BYTES element %d says %d bytes, only %d follow", len(out), n, len(b)-4)
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	return out, nil
}

// appendBinary appends a tensor's data in the binary extension's layout.
func appendBinary(dst []byte, t *Tensor) []byte {
	if t.Datatype == "BYTES" {
		for _, e := range t.Bytes {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(e)))
			dst = append(dst, e...)
		}
		return dst
	}
	for _, v := range t.FP32 {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
	}
	return dst
}
