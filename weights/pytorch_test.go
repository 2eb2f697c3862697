package weights

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"
)

// TestReadPyTorchFixtures loads torch-written files of both formats and compares
// every tensor with the values torch itself converted to float32.
func TestReadPyTorchFixtures(t *testing.T) {
	exp := loadExpected(t)
	for _, name := range []string{"tiny_zip.pt", "tiny_legacy.pt", "plain_zip.pt", "model_legacy.pt"} {
		t.Run(name, func(t *testing.T) {
			want := exp.Files[name]
			if len(want) == 0 {
				t.Fatal("no expectations recorded")
			}
			sd, err := ReadPyTorch(testdata(name))
			if err != nil {
				t.Fatal(err)
			}
			compareStateDict(t, sd, want)
			viaSniff, err := ReadFile(testdata(name))
			if err != nil {
				t.Fatal(err)
			}
			compareStateDict(t, viaSniff, want)
		})
	}
	// the layouts that matter are really in the fixture
	tiny := exp.Files["tiny_zip.pt"]
	for _, k := range []string{"transposed", "offset_view", "shared_b", "expanded", "half", "bf16", "double", "long", "1.num_batches_tracked", "empty"} {
		if _, ok := tiny[k]; !ok {
			t.Errorf("fixture lacks %q", k)
		}
	}
}

func TestReadFileSafetensorsSniff(t *testing.T) {
	exp := loadExpected(t)
	sd, err := ReadFile(testdata("tiny.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	compareStateDict(t, sd, exp.Files["tiny.safetensors"])
	dir := t.TempDir()
	for name, content := range map[string]string{"text.pt": "hello world, not a checkpoint", "empty.bin": ""} {
		os.WriteFile(dir+"/"+name, []byte(content), 0o644)
		_, err := ReadFile(dir + "/" + name)
		wantErr(t, err, "unrecognised checkpoint format")
		wantErr(t, err, name)
	}
	_, err = ReadFile(dir + "/missing.pt")
	wantErr(t, err, "missing.pt")
}

// TestEvilPickles: dangerous globals are refused before anything is built.
func TestEvilPickles(t *testing.T) {
	exp := loadExpected(t)
	if len(exp.Evil) < 5 {
		t.Fatalf("only %d evil fixtures", len(exp.Evil))
	}
	for _, c := range exp.Evil {
		t.Run(c.File, func(t *testing.T) {
			b, err := os.ReadFile(testdata(c.File))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(c.File, ".pkl") {
				_, _, err = unpickle(b, 0, nil)
			} else {
				_, err = ReadPyTorch(testdata(c.File))
			}
			wantErr(t, err, `pickle: refusing global "`+c.Global+`" (only tensor-rebuilding globals are allowed)`)
		})
	}
}

// TestLegacyHandMade checks strided and view storages against hand-computed values.
func TestLegacyHandMade(t *testing.T) {
	cases := []struct {
		name string
		t    tt
		want []float32
	}{
		{"transposed with offset", tt{"x", "FloatStorage", "k", 12, 1, []int{2, 3}, []int{1, 4}, nil}, []float32{1, 5, 9, 2, 6, 10}},
		{"stride 0", tt{"x", "FloatStorage", "k", 12, 3, []int{2, 2}, []int{0, 2}, nil}, []float32{3, 5, 3, 5}},
		{"size-1 dim odd stride", tt{"x", "FloatStorage", "k", 12, 2, []int{1, 3}, []int{99, 1}, nil}, []float32{2, 3, 4}},
		{"storage view", tt{"x", "FloatStorage", "k", 12, 1, []int{3}, []int{1}, []int{2, 5}}, []float32{3, 4, 5}},
		{"scalar", tt{"x", "FloatStorage", "k", 12, 11, []int{}, []int{}, nil}, []float32{11}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sd, err := parsePyTorch(legacyFile(tensorDict(c.t), storageData{"k", 12, f32Range(12)}))
			if err != nil {
				t.Fatal(err)
			}
			x := sd["x"]
			if x == nil || x.DType != "F32" || !equalInts(x.Shape, c.t.size) || len(x.Data) != len(c.want) {
				t.Fatalf("got %+v", x)
			}
			for i := range c.want {
				if x.Data[i] != c.want[i] {
					t.Fatalf("data %v, want %v", x.Data, c.want)
				}
			}
		})
	}
}

func TestPyTorchErrors(t *testing.T) {
	good := tt{"x", "FloatStorage", "k", 4, 0, []int{4}, []int{1}, nil}
	with := func(f func(*tt)) []byte { c := good; f(&c); return tensorDict(c) }
	data4 := storageData{"k", 4, f32Range(4)}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"size past storage", legacyFile(with(func(c *tt) { c.size = []int{5} }), data4), `tensor "x": size [5], stride [1] and offset 0 reach element 4, but storage "k" has 4`},
		{"offset past storage", legacyFile(with(func(c *tt) { c.offset = 4; c.size = []int{1} }), data4), `tensor "x"`},
		{"stride past storage", legacyFile(with(func(c *tt) { c.size = []int{2, 2}; c.stride = []int{3, 1} }), data4), "reach element 4"},
		{"view past root", legacyFile(with(func(c *tt) { c.view = []int{2, 3} }), data4), `view [2, 5) outside`},
		{"tensor past view", legacyFile(with(func(c *tt) { c.view = []int{1, 2} }), data4), "reach element 3"},
		{"huge broadcast", legacyFile(with(func(c *tt) { c.size = []int{1 << 20, 1 << 10}; c.stride = []int{0, 0} }), data4), "exceeds the limit"},
		{"overflowing size", legacyFile(with(func(c *tt) { c.size = []int{1 << 30, 1 << 30, 1 << 30}; c.stride = []int{0, 0, 0} }), data4), "too many elements"},
		{"size/stride rank", legacyFile(with(func(c *tt) { c.stride = []int{1, 1} }), data4), "differ in length"},
		{"count mismatch", legacyFile(tensorDict(good), storageData{"k", 3, f32Range(3)}), `storage "k" has 3 elements in the data section, the pickle says 4`},
		{"truncated data", legacyFile(tensorDict(good), storageData{"k", 4, f32Range(3)}), `truncated in storage "k"`},
		{"unknown key", legacyFile(tensorDict(good), storageData{"zz", 4, f32Range(4)}), `storage "zz" that the pickle never names`},
		{"duplicate key", legacyFile(tensorDict(good), data4, data4), "appears twice"},
		{"no data", legacyFile(tensorDict(good)), `tensor "x": storage "k" has no data`},
		{"bad storage class", legacyFile(with(func(c *tt) { c.class = "ComplexFloatStorage" }), data4), `refusing global "torch.ComplexFloatStorage"`},
		{"storage size mismatch", legacyFile(tensorDict(good, tt{"y", "FloatStorage", "k", 5, 0, []int{1}, []int{1}, nil}), data4), `storage "k" named as F32[4] and as F32[5]`},
		{"not a dict", legacyFile(newPk().op(']', '.').Bytes()), "checkpoint holds a list"},
		{"no tensors", legacyFile(newPk().op('}').str("epoch").int(3).op('s', '.').Bytes()), "no tensors found (top-level keys: epoch)"},
		{"module collision", legacyFile(tensorDict(good, tt{"module.x", "FloatStorage", "k", 4, 0, []int{1}, []int{1}, nil}), data4), `"x" appears twice`},
		{"memo missing", legacyFile(newPk().op('h', 5, '.').Bytes()), "memo index 5 missing"},
		{"stack underflow", legacyFile(newPk().op('R', '.').Bytes()), "stack underflow"},
		{"pop through mark", legacyFile(newPk().op('N', '(', 0x85, '.').Bytes()), "stack underflow"},
		{"unknown opcode", legacyFile(newPk().op(0xff, '.').Bytes()), "unknown opcode 0xff"},
		{"no STOP", legacyFile(newPk().op('N').Bytes()), "truncated"},
		{"call storage class", legacyFile(newPk().global("torch", "FloatStorage").op(')', 'R', '.').Bytes()), "torch.FloatStorage cannot be called"},
		{"call a string", legacyFile(newPk().str("f").op(')', 'R', '.').Bytes()), "cannot call a str"},
		{"string pid", legacyFile(newPk().str("p").op('Q', '.').Bytes()), "unsupported persistent id of type str"},
		{"module pid", legacyFile(newPk().str("module").op(0x85, 'Q', '.').Bytes()), "unsupported persistent id kind"},
		{"rebuild args", legacyFile(newPk().global("torch._utils", "_rebuild_tensor").op(')', 'R', '.').Bytes()), "takes 4 arguments"},
		{"ext opcode", legacyFile(newPk().op(0x82, 1, '.').Bytes()), "extension-registry"},
		{"bad magic", append([]byte("\x80\x02K\x07."), legacyMagicPickles[15:]...), "bad magic number"},
		{"bad protocol", append(append([]byte{}, legacyMagicPickles[:15]...), "\x80\x02K\x07."...), "protocol version 7"},
		{"tar", append(make([]byte, 257), "ustar\x00"...), "tar checkpoint format"},
		{"random bytes", []byte("\x00\x01garbage"), "not a PyTorch checkpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parsePyTorch(c.file)
			wantErr(t, err, c.want)
		})
	}
}

func TestZipHandMade(t *testing.T) {
	pkl := string(tensorDict(tt{"module.w", "FloatStorage", "7", 3, 1, []int{2}, []int{1}, nil}))
	data := string(f32Range(3))
	sd, err := parsePyTorch(zipFile(t, [2]string{"any name/data.pkl", pkl}, [2]string{"any name/data/7", data},
		[2]string{"any name/byteorder", "little"}, [2]string{"any name/version", "3\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if w := sd["w"]; w == nil || len(w.Data) != 2 || w.Data[0] != 1 || w.Data[1] != 2 {
		t.Fatalf("got %+v", sd)
	}
	cases := []struct {
		name    string
		entries [][2]string
		want    string
	}{
		{"missing record", [][2]string{{"a/data.pkl", pkl}}, "storage record a/data/7 is missing"},
		{"short record", [][2]string{{"a/data.pkl", pkl}, {"a/data/7", data[:8]}}, "a/data/7 has 8 bytes, but F32[3] needs 12"},
		{"long record", [][2]string{{"a/data.pkl", pkl}, {"a/data/7", data + "xxxx"}}, "has 16 bytes"},
		{"big endian", [][2]string{{"a/byteorder", "big"}, {"a/data.pkl", pkl}}, `byteorder "big"`},
		{"no data.pkl", [][2]string{{"a/version", "3"}}, "no a/data.pkl entry"},
		{"torchscript", [][2]string{{"a/constants.pkl", "x"}}, "TorchScript"},
		{"no folder", [][2]string{{"data.pkl", pkl}}, "not inside a top-level folder"},
		{"empty zip", nil, "archive is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parsePyTorch(zipFile(t, c.entries...))
			wantErr(t, err, c.want)
		})
	}
}

// TestTruncatedPyTorch cuts real files at every length: each prefix must give an
// error, never a panic or a silently partial state dict.
func TestTruncatedPyTorch(t *testing.T) {
	for _, name := range []string{"tiny_legacy.pt", "tiny_zip.pt", "model_legacy.pt", "plain_zip.pt"} {
		b, err := os.ReadFile(testdata(name))
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(b); n++ {
			if sd, err := parsePyTorch(b[:n]); err == nil {
				t.Fatalf("%s cut to %d bytes loaded %d tensors without error", name, n, len(sd))
			}
		}
	}
}

// TestCorruptLegacyCount flips the element count of the first storage of a real file.
func TestCorruptLegacyCount(t *testing.T) {
	b, err := os.ReadFile(testdata("tiny_legacy.pt"))
	if err != nil {
		t.Fatal(err)
	}
	// skip the five pickles to reach the first count
	pos := 0
	for i := 0; i < 5; i++ {
		st := &torchStorages{byKey: map[string]*storageRef{}}
		if _, pos, err = unpickle(b, pos, st.persistentLoad); err != nil {
			t.Fatal(err)
		}
	}
	bad := append([]byte(nil), b...)
	binary.LittleEndian.PutUint64(bad[pos:], binary.LittleEndian.Uint64(bad[pos:])+1)
	_, err = parsePyTorch(bad)
	wantErr(t, err, "elements in the data section")
}
