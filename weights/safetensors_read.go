package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"sort"
	"strconv"
	"unicode/utf8"
)

// maxSafetensorsHeader is the Rust reference's MAX_HEADER_SIZE: a larger length is
// corruption or an attempt to make us allocate.
const maxSafetensorsHeader = 100_000_000

// stEntry is one tensor's header record, kept in header order for stable errors.
type stEntry struct {
	name       string
	dtype      string
	shape      []int
	begin, end int
}

// ReadSafetensors loads a .safetensors file, converting every tensor to float32.
func ReadSafetensors(path string) (StateDict, map[string]string, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	sd, meta, err := ParseSafetensors(buf)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return sd, meta, nil
}

// ParseSafetensors decodes a whole safetensors file held in memory. It returns the
// tensors and the optional __metadata__ map (nil when absent). The file is fully
// validated (header size, JSON, dtypes, shapes, offsets tiling the data buffer)
// before any value is converted.
func ParseSafetensors(buf []byte) (StateDict, map[string]string, error) {
	if len(buf) < 8 {
		return nil, nil, fmt.Errorf("safetensors: file is %d bytes, too short for the 8-byte header length", len(buf))
	}
	n := binary.LittleEndian.Uint64(buf)
	if n > maxSafetensorsHeader {
		return nil, nil, fmt.Errorf("safetensors: header length %d exceeds the limit of %d bytes", n, maxSafetensorsHeader)
	}
	if n > uint64(len(buf)-8) {
		return nil, nil, fmt.Errorf("safetensors: header length %d runs past the end of the %d-byte file", n, len(buf))
	}
	header, data := buf[8:8+n], buf[8+n:]
	entries, meta, err := parseSafetensorsHeader(header)
	if err != nil {
		return nil, nil, err
	}
	if err := checkTiling(entries, len(data)); err != nil {
		return nil, nil, err
	}
	sd := make(StateDict, len(entries))
	for _, e := range entries {
		if err := checkConvertible(e.name, e.dtype); err != nil {
			return nil, nil, fmt.Errorf("safetensors: %w", err)
		}
		t := &Tensor{DType: e.dtype, Shape: e.shape, Data: make([]float32, (e.end-e.begin)/dtypeSizes[e.dtype])}
		decodeContiguous(e.dtype, data[e.begin:e.end], t.Data)
		sd[e.name] = t
	}
	return sd, meta, nil
}

// stRecord is the JSON form of one header entry; pointers tell "missing" from zero.
type stRecord struct {
	DType   *string        `json:"dtype"`
	Shape   *[]json.Number `json:"shape"`
	Offsets *[]json.Number `json:"data_offsets"`
}

// parseSafetensorsHeader walks the header object token by token so that duplicate
// tensor names, which encoding/json would silently merge, are caught.
func parseSafetensorsHeader(header []byte) ([]stEntry, map[string]string, error) {
	if !utf8.Valid(header) {
		return nil, nil, errors.New("safetensors: header is not valid UTF-8")
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, nil, errors.New("safetensors: header does not start with '{' (not a JSON object)")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("safetensors: header JSON: %w", err)
	}
	var entries []stEntry
	var meta map[string]string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: header JSON: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("safetensors: header JSON: unexpected key %v", tok)
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("safetensors: tensor %q appears twice in the header", name)
		}
		seen[name] = true
		if name == "__metadata__" {
			if err := dec.Decode(&meta); err != nil {
				return nil, nil, fmt.Errorf("safetensors: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var rec stRecord
		if err := dec.Decode(&rec); err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: header JSON: %w", name, err)
		}
		e, err := rec.entry(name)
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: %w", err)
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("safetensors: header JSON: %w", err)
	}
	// InputOffset is just past the closing brace; only JSON whitespace may follow.
	if rest := header[min(int(dec.InputOffset()), len(header)):]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, nil, errors.New("safetensors: header JSON has trailing data after the object")
	}
	return entries, meta, nil
}

// entry checks one record on its own: required fields, a known dtype, a shape of
// non-negative integers and offsets whose span matches the element count.
func (r stRecord) entry(name string) (stEntry, error) {
	e := stEntry{name: name}
	if r.DType == nil || r.Shape == nil || r.Offsets == nil {
		return e, fmt.Errorf("tensor %q: header entry needs dtype, shape and data_offsets", name)
	}
	e.dtype = *r.DType
	size, ok := dtypeSizes[e.dtype]
	if !ok {
		return e, fmt.Errorf("tensor %q: unknown dtype %q", name, e.dtype)
	}
	numel := 1
	for i, num := range *r.Shape {
		d, err := nonNegInt(num)
		if err != nil {
			return e, fmt.Errorf("tensor %q: shape[%d] = %s: %v", name, i, num, err)
		}
		e.shape = append(e.shape, d)
		if numel, ok = mulCheck(numel, d); !ok {
			return e, fmt.Errorf("tensor %q: shape %v has too many elements", name, *r.Shape)
		}
	}
	if e.shape == nil {
		e.shape = []int{}
	}
	if len(*r.Offsets) != 2 {
		return e, fmt.Errorf("tensor %q: data_offsets must be [begin, end], got %d numbers", name, len(*r.Offsets))
	}
	var err error
	if e.begin, err = nonNegInt((*r.Offsets)[0]); err != nil {
		return e, fmt.Errorf("tensor %q: data_offsets begin %s: %v", name, (*r.Offsets)[0], err)
	}
	if e.end, err = nonNegInt((*r.Offsets)[1]); err != nil {
		return e, fmt.Errorf("tensor %q: data_offsets end %s: %v", name, (*r.Offsets)[1], err)
	}
	if e.end < e.begin {
		return e, fmt.Errorf("tensor %q: data_offsets [%d, %d] end before they begin", name, e.begin, e.end)
	}
	nbytes, ok := mulCheck(numel, size)
	if !ok || nbytes != e.end-e.begin {
		return e, fmt.Errorf("tensor %q: %s %s needs %d bytes but data_offsets [%d, %d] span %d",
			name, e.dtype, shapeString(e.shape), nbytes, e.begin, e.end, e.end-e.begin)
	}
	return e, nil
}

// checkTiling verifies that the tensors, sorted by offset, cover the data buffer
// exactly: no gaps, no overlaps, nothing past the end and nothing left over.
func checkTiling(entries []stEntry, dataLen int) error {
	for _, e := range entries {
		if e.end > dataLen {
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] run past the %d-byte data buffer (file truncated?)",
				e.name, e.begin, e.end, dataLen)
		}
	}
	sorted := append([]stEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].begin != sorted[j].begin {
			return sorted[i].begin < sorted[j].begin
		}
		return sorted[i].end < sorted[j].end
	})
	pos := 0
	for _, e := range sorted {
		switch {
		case e.begin < pos:
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] overlap the previous tensor, which ends at %d",
				e.name, e.begin, e.end, pos)
		case e.begin > pos:
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] leave a gap after byte %d",
				e.name, e.begin, e.end, pos)
		}
		pos = e.end
	}
	if pos != dataLen {
		return fmt.Errorf("safetensors: data buffer has %d bytes but the tensors cover only %d", dataLen, pos)
	}
	return nil
}

// nonNegInt parses a JSON number that must be a non-negative integer fitting in int.
func nonNegInt(n json.Number) (int, error) {
	v, err := strconv.ParseUint(string(n), 10, bits.UintSize-1)
	if err != nil {
		return 0, errors.New("want a non-negative integer")
	}
	return int(v), nil
}

// mulCheck multiplies two non-negative ints, reporting overflow.
func mulCheck(a, b int) (int, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > uint64(maxInt) {
		return 0, false
	}
	return int(lo), true
}

// addCheck adds two non-negative ints, reporting overflow.
func addCheck(a, b int) (int, bool) {
	s := a + b
	if s < a {
		return 0, false
	}
	return s, true
}

const maxInt = int(^uint(0) >> 1)
