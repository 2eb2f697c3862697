package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/resnet-go/resnet/onnx/onnxpb"
)

// maxElements bounds one tensor (2^31 floats = 8 GiB): a header claiming more is refused
// before anything is allocated for it.
const maxElements = 1 << 31

// value is a constant tensor of the graph (an initializer or a Constant node's output):
// FLOAT data as float32, integer data (shapes, axes, pads, indices) as int64.
type value struct {
	name  string
	dims  []int
	float bool
	f32   []float32
	i64   []int64
}

// numel is the element count of dims, or an error when a dim is negative or the count too large.
func numel(name string, dims []int64) ([]int, int, error) {
	n := 1
	out := make([]int, len(dims))
	for i, d := range dims {
		if d < 0 || d > maxElements {
			return nil, 0, fmt.Errorf("tensor %q: dimension %d is %d", name, i, d)
		}
		out[i] = int(d)
		n *= int(d)
		if n > maxElements {
			return nil, 0, fmt.Errorf("tensor %q: dims %v hold more than %d elements", name, dims, maxElements)
		}
	}
	return out, n, nil
}

// typeName spells an ONNX data type as the schema does (FLOAT16, DOUBLE, ...).
func typeName(t int32) string {
	if s, ok := onnxpb.TensorProto_DataType_name[t]; ok {
		return s
	}
	return fmt.Sprintf("data type %d", t)
}

// decodeTensor reads a TensorProto's data: inline raw_data, typed fields (float_data,
// int32_data, int64_data) or external data in a file inside dir. Only FLOAT, INT64 and INT32
// are accepted; weights in FLOAT16, DOUBLE or any other type are refused by name, since
// converting them silently would change the model's numbers.
func decodeTensor(t *onnxpb.TensorProto, dir string) (*value, error) {
	if t == nil {
		return nil, fmt.Errorf("missing tensor")
	}
	name := t.GetName()
	dims, n, err := numel(name, t.GetDims())
	if err != nil {
		return nil, err
	}
	if t.Segment != nil {
		return nil, fmt.Errorf("tensor %q: segmented tensors are not supported", name)
	}
	dt := t.GetDataType()
	width := 0
	switch onnxpb.TensorProto_DataType(dt) {
	case onnxpb.TensorProto_FLOAT:
		width = 4
	case onnxpb.TensorProto_INT64:
		width = 8
	case onnxpb.TensorProto_INT32:
		width = 4
	default:
		return nil, fmt.Errorf("tensor %q has type %s: only FLOAT weights (and INT64/INT32 shapes) are supported; convert the model to float32", name, typeName(dt))
	}
	raw := t.GetRawData()
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		if raw, err = readExternal(t, dir, n*width); err != nil {
			return nil, err
		}
	} else if len(t.GetExternalData()) > 0 {
		return nil, fmt.Errorf("tensor %q has external_data entries but data_location is not EXTERNAL", name)
	}
	v := &value{name: name, dims: dims}
	typed := 0
	for _, k := range []int{len(t.GetFloatData()), len(t.GetInt32Data()), len(t.GetInt64Data()), len(t.GetDoubleData()), len(t.GetUint64Data()), len(t.GetStringData())} {
		if k > 0 {
			typed++
		}
	}
	if raw != nil || t.RawData != nil {
		if typed > 0 {
			return nil, fmt.Errorf("tensor %q carries both raw_data and a typed data field", name)
		}
		if len(raw) != n*width {
			return nil, fmt.Errorf("tensor %q: raw data is %d bytes, dims %v of %s need %d", name, len(raw), dims, typeName(dt), n*width)
		}
	}
	switch onnxpb.TensorProto_DataType(dt) {
	case onnxpb.TensorProto_FLOAT:
		v.float = true
		if raw != nil {
			v.f32 = make([]float32, n)
			for i := range v.f32 {
				v.f32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		} else {
			v.f32 = t.GetFloatData()
			if len(v.f32) != n || typed > 1 {
				return nil, fmt.Errorf("tensor %q: float_data has %d values, dims %v need %d", name, len(v.f32), dims, n)
			}
		}
	case onnxpb.TensorProto_INT64:
		v.i64 = make([]int64, n)
		if raw != nil {
			for i := range v.i64 {
				v.i64[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
		} else {
			if len(t.GetInt64Data()) != n || typed > 1 {
				return nil, fmt.Errorf("tensor %q: int64_data has %d values, dims %v need %d", name, len(t.GetInt64Data()), dims, n)
			}
			copy(v.i64, t.GetInt64Data())
		}
	case onnxpb.TensorProto_INT32:
		v.i64 = make([]int64, n)
		if raw != nil {
			for i := range v.i64 {
				v.i64[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
			}
		} else {
			if len(t.GetInt32Data()) != n || typed > 1 {
				return nil, fmt.Errorf("tensor %q: int32_data has %d values, dims %v need %d", name, len(t.GetInt32Data()), dims, n)
			}
			for i, x := range t.GetInt32Data() {
				v.i64[i] = int64(x)
			}
		}
	}
	return v, nil
}

// readExternal reads an external tensor's bytes. The location must be a relative path that
// stays inside the model's folder (no absolute paths, no "..", no symbolic link leading out):
// a model file must not make the loader read arbitrary files. offset and length are checked
// against the file's size and the tensor's byte count before reading.
func readExternal(t *onnxpb.TensorProto, dir string, want int) ([]byte, error) {
	name := t.GetName()
	var location string
	offset, length := int64(0), int64(-1)
	for _, kv := range t.GetExternalData() {
		switch kv.GetKey() {
		case "location":
			location = kv.GetValue()
		case "offset", "length":
			x, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || x < 0 {
				return nil, fmt.Errorf("tensor %q: external data %s %q is not a non-negative integer", name, kv.GetKey(), kv.GetValue())
			}
			if kv.GetKey() == "offset" {
				offset = x
			} else {
				length = x
			}
		case "checksum":
		default:
			return nil, fmt.Errorf("tensor %q: unknown external data key %q", name, kv.GetKey())
		}
	}
	if location == "" {
		return nil, fmt.Errorf("tensor %q: external data without a location", name)
	}
	if dir == "" {
		return nil, fmt.Errorf("tensor %q: external data %q, but the model was not read from a file", name, location)
	}
	if filepath.IsAbs(location) || strings.HasPrefix(location, "/") || strings.HasPrefix(location, `\`) || filepath.VolumeName(location) != "" {
		return nil, fmt.Errorf("tensor %q: external data location %q is an absolute path; only paths inside the model's folder are read", name, location)
	}
	for _, part := range strings.FieldsFunc(location, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return nil, fmt.Errorf("tensor %q: external data location %q leaves the model's folder (\"..\")", name, location)
		}
	}
	path := filepath.Join(dir, filepath.FromSlash(location))
	// A symbolic link inside the folder must not lead out of it either.
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	realPath, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: external data: %w", name, err)
	}
	if rel, err := filepath.Rel(realDir, realPath); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("tensor %q: external data location %q resolves to %s, outside the model's folder", name, location, realPath)
	}
	f, err := os.Open(realPath)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: external data: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("tensor %q: external data %s is not a regular file", name, location)
	}
	if offset > st.Size() {
		return nil, fmt.Errorf("tensor %q: external data offset %d is past the end of %s (%d bytes)", name, offset, location, st.Size())
	}
	if length < 0 {
		length = st.Size() - offset
	}
	if length != int64(want) {
		return nil, fmt.Errorf("tensor %q: external data length %d, its dims and type need %d bytes", name, length, want)
	}
	if offset+length > st.Size() {
		return nil, fmt.Errorf("tensor %q: external data [%d, %d) runs past the end of %s (%d bytes)", name, offset, offset+length, location, st.Size())
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil {
		return nil, fmt.Errorf("tensor %q: reading external data: %w", name, err)
	}
	return buf, nil
}
