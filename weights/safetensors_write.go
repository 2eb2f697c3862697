package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	"github.com/resnet-go/resnet/internal/atomicfile"
)

// intRanges lists the integer dtypes a tensor keeps when written, with the range of
// values each can hold; buffers such as num_batches_tracked must stay integers.
var intRanges = map[string][2]float64{
	"I64":  {-(1 << 63), 1 << 63},
	"I32":  {-(1 << 31), 1 << 31},
	"I16":  {-(1 << 15), 1 << 15},
	"I8":   {-(1 << 7), 1 << 7},
	"U8":   {0, 1 << 8},
	"BOOL": {0, 2},
}

// WriteSafetensors writes sd as a safetensors file. Floating-point tensors are stored
// as dtype ("F32", "F16" or "BF16", rounding to nearest even); integer and bool tensors
// keep their own dtype and must hold integral values in range. meta becomes the
// __metadata__ entry when non-empty. Data is laid out like the reference writer
// (larger elements first, then by name) after a header padded with spaces to a
// multiple of 8 bytes, and the file is replaced atomically.
func WriteSafetensors(path string, sd StateDict, meta map[string]string, dtype string) error {
	header, plan, err := planSafetensors(sd, meta, dtype)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFunc(path, func(w io.Writer) error {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
		if _, err := w.Write(n[:]); err != nil {
			return err
		}
		if _, err := w.Write(header); err != nil {
			return err
		}
		for _, p := range plan {
			if err := encodeTensor(w, p.dtype, sd[p.name].Data); err != nil {
				return err
			}
		}
		return nil
	})
}

// stPlanned is one tensor's place in the file being written.
type stPlanned struct {
	name  string
	dtype string
	size  int
}

// planSafetensors checks every tensor, picks its stored dtype and builds the padded
// header, so that nothing is written unless the whole state dict is valid.
func planSafetensors(sd StateDict, meta map[string]string, dtype string) ([]byte, []stPlanned, error) {
	if dtype != "F32" && dtype != "F16" && dtype != "BF16" {
		return nil, nil, fmt.Errorf("safetensors: cannot write floats as %q (want F32, F16 or BF16)", dtype)
	}
	plan := make([]stPlanned, 0, len(sd))
	for _, name := range sd.Names() {
		t := sd[name]
		if name == "__metadata__" {
			return nil, nil, errors.New(`safetensors: a tensor cannot be named "__metadata__"`)
		}
		if t == nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q is nil", name)
		}
		numel := 1
		for _, d := range t.Shape {
			var ok bool
			if numel, ok = mulCheck(numel, d); d < 0 || !ok {
				return nil, nil, fmt.Errorf("safetensors: tensor %q: invalid shape %s", name, shapeString(t.Shape))
			}
		}
		if numel != len(t.Data) {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: shape %s needs %d values, has %d",
				name, shapeString(t.Shape), numel, len(t.Data))
		}
		p := stPlanned{name: name, dtype: dtype}
		if r, ok := intRanges[t.DType]; ok {
			p.dtype = t.DType
			if err := checkIntegral(name, t, r); err != nil {
				return nil, nil, err
			}
		}
		p.size = dtypeSizes[p.dtype]
		plan = append(plan, p)
	}
	sort.SliceStable(plan, func(i, j int) bool { return plan[i].size > plan[j].size })

	var h bytes.Buffer
	h.WriteByte('{')
	if len(meta) > 0 {
		m, err := json.Marshal(meta)
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: __metadata__: %w", err)
		}
		h.WriteString(`"__metadata__":`)
		h.Write(m)
	}
	offset := 0
	for i, p := range plan {
		if i > 0 || len(meta) > 0 {
			h.WriteByte(',')
		}
		name, _ := json.Marshal(p.name)
		h.Write(name)
		h.WriteString(`:{"dtype":"` + p.dtype + `","shape":[`)
		for k, d := range sd[p.name].Shape {
			if k > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		end := offset + len(sd[p.name].Data)*p.size
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	return h.Bytes(), plan, nil
}

// checkIntegral makes sure an integer tensor's float32 values convert back exactly.
func checkIntegral(name string, t *Tensor, r [2]float64) error {
	for i, v := range t.Data {
		f := float64(v)
		if f != math.Trunc(f) || f < r[0] || f >= r[1] { // NaN fails the first test
			return fmt.Errorf("safetensors: tensor %q (%s): value %v at index %d is not a valid %s",
				name, t.DType, v, i, t.DType)
		}
	}
	return nil
}

// encodeTensor writes data little-endian as dtype, in chunks to bound memory.
func encodeTensor(w io.Writer, dtype string, data []float32) error {
	size := dtypeSizes[dtype]
	buf := make([]byte, 0, 1<<16)
	for i, v := range data {
		switch dtype {
		case "F32":
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		case "F16":
			buf = binary.LittleEndian.AppendUint16(buf, f32ToF16(v))
		case "BF16":
			buf = binary.LittleEndian.AppendUint16(buf, f32ToBF16(v))
		case "I64":
			buf = binary.LittleEndian.AppendUint64(buf, uint64(int64(v)))
		case "I32":
			buf = binary.LittleEndian.AppendUint32(buf, uint32(int32(v)))
		case "I16":
			buf = binary.LittleEndian.AppendUint16(buf, uint16(int16(v)))
		case "I8":
			buf = append(buf, byte(int8(v)))
		case "U8", "BOOL":
			buf = append(buf, byte(v))
		}
		if len(buf)+size > cap(buf) || i == len(data)-1 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}
