package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSafetensorsFixture(t *testing.T) {
	exp := loadExpected(t)
	sd, meta, err := ReadSafetensors(testdata("tiny.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	compareStateDict(t, sd, exp.Files["tiny.safetensors"])
	if len(meta) != len(exp.Metadata) || meta["format"] != "pt" || meta["note"] != exp.Metadata["note"] {
		t.Errorf("metadata %v, want %v", meta, exp.Metadata)
	}
	if s := sd["bn.num_batches_tracked"]; s == nil || len(s.Shape) != 0 || s.Shape == nil || s.Data[0] != 12345 {
		t.Errorf("scalar I64 = %+v, want shape [] value 12345", s)
	}
}

// TestBadSafetensorsFixtures loads each malformed file made by the generator.
func TestBadSafetensorsFixtures(t *testing.T) {
	exp := loadExpected(t)
	if len(exp.BadSafetensors) < 10 {
		t.Fatalf("only %d bad fixtures", len(exp.BadSafetensors))
	}
	for _, c := range exp.BadSafetensors {
		t.Run(c.File, func(t *testing.T) {
			_, _, err := ReadSafetensors(testdata(c.File))
			wantErr(t, err, c.Error)
			wantErr(t, err, c.File) // the path is named
			if _, err := ReadFile(testdata(c.File)); err == nil {
				t.Error("ReadFile accepted it")
			}
		})
	}
}

// stFile assembles a safetensors file from a raw header and data.
func stFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestParseSafetensorsErrors(t *testing.T) {
	d8 := make([]byte, 8)
	cases := []struct {
		name, header string
		data         []byte
		want         string
	}{
		{"missing field", `{"a":{"dtype":"F32","shape":[2]}}`, d8, `tensor "a": header entry needs`},
		{"float shape", `{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}`, d8, `tensor "a": shape[0]`},
		{"three offsets", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}`, d8, `tensor "a": data_offsets must be`},
		{"end before begin", `{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, d8, `tensor "a": data_offsets [8, 0] end before`},
		{"negative offset", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, d8, `tensor "a": data_offsets begin`},
		{"shape overflow", `{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, d8, `tensor "a": shape`},
		{"entry not object", `{"a":[1,2]}`, nil, `tensor "a": header JSON`},
		{"trailing garbage", `{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}} x`, d8, "trailing data"},
		{"metadata not strings", `{"__metadata__":{"k":1}}`, nil, "__metadata__"},
		{"duplicate metadata", `{"__metadata__":{},"__metadata__":{}}`, nil, "twice"},
		{"not utf8", "{\"\xff\":1}", nil, "UTF-8"},
		{"leading space", ` {}`, nil, "does not start with '{'"},
		{"F8 unsupported", `{"f":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}`, d8, `tensor "f": unsupported dtype F8_E4M3`},
		{"U64 unsupported", `{"f":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}`, d8, `tensor "f": unsupported dtype U64`},
		{"sub-byte dtype unknown", `{"f":{"dtype":"F4","shape":[16],"data_offsets":[0,8]}}`, d8, `tensor "f": unknown dtype "F4"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ParseSafetensors(stFile(c.header, c.data))
			wantErr(t, err, c.want)
		})
	}
	for _, n := range []int{0, 1, 7} {
		_, _, err := ParseSafetensors(make([]byte, n))
		wantErr(t, err, "too short")
	}
}

func TestParseSafetensorsEdgeCases(t *testing.T) {
	// empty file with metadata only, zero-size tensors sharing an offset, padding
	sd, meta, err := ParseSafetensors(stFile(`{"__metadata__":{"a":"b"},"e":{"dtype":"F32","shape":[0,5],"data_offsets":[0,0]},`+
		`"f":{"dtype":"I8","shape":[],"data_offsets":[0,1]},"g":{"dtype":"F16","shape":[3,0],"data_offsets":[1,1]}}    `, []byte{0xfe}))
	if err != nil {
		t.Fatal(err)
	}
	if meta["a"] != "b" || len(sd) != 3 || sd["f"].Data[0] != -2 || len(sd["e"].Data) != 0 || !equalInts(sd["g"].Shape, []int{3, 0}) {
		t.Errorf("got %v %v", sd, meta)
	}
	if _, meta, err := ParseSafetensors(stFile(`{}`, nil)); err != nil || meta != nil {
		t.Errorf("empty header: %v %v", meta, err)
	}
}

// TestWriteSafetensorsMatchesPython: given only F32/I64/BOOL tensors, the writer's
// bytes equal those of the generator's spec-following Python writer.
func TestWriteSafetensorsMatchesPython(t *testing.T) {
	src := testdata("f32_only.safetensors")
	sd, meta, err := ReadSafetensors(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out.safetensors")
	if err := WriteSafetensors(dst, sd, meta, "F32"); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(src)
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, want) {
		t.Errorf("bytes differ:\n got %q\nwant %q", got[:min(len(got), 300)], want[:min(len(want), 300)])
	}
}

func TestWriteSafetensorsRoundTrip(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 1.0009765625, 1.00048828125, 65504, 65520, 1e-7, 3e-8,
		float32(math.Inf(1)), float32(math.Inf(-1)), 3.4e38, 1.17549435e-38, 0.1, 1.0 / 3}
	base := StateDict{
		"conv.weight":            {DType: "F32", Shape: []int{2, 2, 2, 2}, Data: specials},
		"half":                   {DType: "F16", Shape: []int{3}, Data: []float32{0.5, -2, 1000}},
		"bn.num_batches_tracked": {DType: "I64", Shape: []int{}, Data: []float32{1 << 40}},
		"ints":                   {DType: "I32", Shape: []int{2}, Data: []float32{-2147483648, 7}},
		"u8":                     {DType: "U8", Shape: []int{2}, Data: []float32{0, 255}},
		"mask":                   {DType: "BOOL", Shape: []int{2}, Data: []float32{1, 0}},
		"empty":                  {DType: "F32", Shape: []int{0, 4}, Data: []float32{}},
		"plain":                  {Shape: []int{1}, Data: []float32{2.5}}, // no DType: a float
	}
	cases := []struct {
		dtype string
		round func(float32) float32
	}{
		{"F32", func(v float32) float32 { return v }},
		{"F16", func(v float32) float32 { return f16ToF32(f32ToF16(v)) }},
		{"BF16", func(v float32) float32 { return bf16ToF32(f32ToBF16(v)) }},
	}
	for _, c := range cases {
		t.Run(c.dtype, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "m.safetensors")
			meta := map[string]string{"format": "pt", "quote": `a"b`}
			if err := WriteSafetensors(path, base, meta, c.dtype); err != nil {
				t.Fatal(err)
			}
			raw, _ := os.ReadFile(path)
			n := binary.LittleEndian.Uint64(raw)
			if n%8 != 0 || !bytes.HasSuffix(bytes.TrimRight(raw[8:8+n], " "), []byte("}")) {
				t.Errorf("header length %d not padded with spaces to 8", n)
			}
			checkLayout(t, raw[8:8+n])
			got, gotMeta, err := ReadSafetensors(path)
			if err != nil {
				t.Fatal(err)
			}
			if gotMeta["quote"] != `a"b` || gotMeta["format"] != "pt" {
				t.Errorf("metadata %v", gotMeta)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("temporary files left: %v", entries)
			}
			for name, w := range base {
				g := got[name]
				wantType := c.dtype
				if _, isInt := intRanges[w.DType]; isInt {
					wantType = w.DType
				}
				if g == nil || g.DType != wantType || !equalInts(g.Shape, w.Shape) || len(g.Data) != len(w.Data) {
					t.Fatalf("%s: got %+v, want %s %v", name, g, wantType, w.Shape)
				}
				for i, v := range w.Data {
					want := v
					if wantType == c.dtype {
						want = c.round(v)
					}
					if math.Float32bits(g.Data[i]) != math.Float32bits(want) {
						t.Errorf("%s[%d] = %v, want %v", name, i, g.Data[i], want)
					}
				}
			}
		})
	}
}

// checkLayout verifies the data order: larger elements first, then by name.
func checkLayout(t *testing.T, header []byte) {
	t.Helper()
	var h map[string]json.RawMessage
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatal(err)
	}
	type ent struct {
		name string
		size int
		off  int
	}
	var es []ent
	for name, raw := range h {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			DType   string `json:"dtype"`
			Offsets []int  `json:"data_offsets"`
		}
		json.Unmarshal(raw, &e)
		es = append(es, ent{name, dtypeSizes[e.DType], e.Offsets[0]})
	}
	for _, a := range es {
		for _, b := range es {
			before := a.size > b.size || (a.size == b.size && a.name < b.name)
			if before && a.off > b.off {
				t.Errorf("%s (size %d) stored after %s (size %d)", a.name, a.size, b.name, b.size)
			}
		}
	}
}

func TestWriteSafetensorsErrors(t *testing.T) {
	cases := []struct {
		name  string
		sd    StateDict
		dtype string
		want  string
	}{
		{"bad dtype", StateDict{"a": {Shape: []int{1}, Data: []float32{1}}}, "F64", "cannot write floats as"},
		{"shape mismatch", StateDict{"a": {Shape: []int{2}, Data: []float32{1}}}, "F32", `tensor "a": shape [2] needs 2 values, has 1`},
		{"negative shape", StateDict{"a": {Shape: []int{-1}, Data: nil}}, "F32", `tensor "a": invalid shape`},
		{"fractional int", StateDict{"n": {DType: "I64", Shape: []int{}, Data: []float32{1.5}}}, "F32", `tensor "n" (I64): value 1.5`},
		{"NaN int", StateDict{"n": {DType: "I32", Shape: []int{1}, Data: []float32{float32(math.NaN())}}}, "F32", `tensor "n" (I32)`},
		{"out of range", StateDict{"n": {DType: "U8", Shape: []int{1}, Data: []float32{256}}}, "F32", `tensor "n" (U8): value 256`},
		{"nil tensor", StateDict{"x": nil}, "F32", `tensor "x" is nil`},
		{"metadata name", StateDict{"__metadata__": {Shape: []int{}, Data: []float32{1}}}, "F32", "__metadata__"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.safetensors")
			wantErr(t, WriteSafetensors(path, c.sd, nil, c.dtype), c.want)
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Error("file was created despite the error")
			}
		})
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteSafetensors(filepath.Join(file, "dir.safetensors"), StateDict{}, nil, "F32")
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file where the folder would be: %v", err)
	}
}
