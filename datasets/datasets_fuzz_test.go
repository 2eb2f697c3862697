package datasets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"testing"

	"github.com/resnet-go/resnet/internal/memcheck"
)

// Fuzz targets of the dataset readers; tools/fuzz.sh runs them, e.g.
// `go test -run '^$' -fuzz '^FuzzParseIDX$' -fuzztime 60s ./datasets`.

// cifarBound: ParseCIFAR10 allocates at most 4 bytes per input byte (the planes, then the
// RGB copies Examples returns) plus 64 KiB.
var cifarBound = memcheck.Bound{PerByte: 4, Cap: 64 << 10}

// idxBound: ParseIDX allocates at most 4 bytes per input byte (io.ReadAll's growth) plus
// 64 KiB, whatever size the header announces.
var idxBound = memcheck.Bound{PerByte: 4, Cap: 64 << 10}

// FuzzParseCIFAR10: records parse exactly when the input is a whole number of 3073-byte
// records with labels 0..9, and then give back each record's label and bytes.
func FuzzParseCIFAR10(f *testing.F) {
	rec := make([]byte, cifarRecord)
	for i := range rec {
		rec[i] = byte(i * 7)
	}
	rec[0] = 3
	f.Add(rec)
	f.Add(append(append([]byte{}, rec...), rec...))
	f.Add(rec[:100])
	f.Fuzz(func(t *testing.T, data []byte) {
		var ex []Example
		var err error
		n := memcheck.Bytes(func() { ex, err = ParseCIFAR10(data, "fuzz.bin") })
		if e := cifarBound.Check("ParseCIFAR10", len(data), n); e != nil {
			t.Fatal(e)
		}
		valid := len(data) > 0 && len(data)%cifarRecord == 0
		for i := 0; valid && i < len(data); i += cifarRecord {
			valid = data[i] <= 9
		}
		if (err == nil) != valid {
			t.Fatalf("error %v for an input that is valid=%v", err, valid)
		}
		if err != nil {
			return
		}
		if len(ex) != len(data)/cifarRecord {
			t.Fatalf("%d examples from %d records", len(ex), len(data)/cifarRecord)
		}
		for i, e := range ex {
			r := data[i*cifarRecord : (i+1)*cifarRecord]
			if e.Label != int(r[0]) || e.Image.W != cifarSide || e.Image.H != cifarSide {
				t.Fatalf("example %d: label %d, %dx%d", i, e.Label, e.Image.W, e.Image.H)
			}
			for p := range cifarPlane {
				for c := range 3 {
					if e.Image.Pix[3*p+c] != r[1+c*cifarPlane+p] {
						t.Fatalf("example %d pixel %d channel %d differs from the record", i, p, c)
					}
				}
			}
		}
	})
}

// idxFile is an unsigned-byte IDX file with the given dimensions and data.
func idxFile(dims []uint32, data []byte) []byte {
	b := []byte{0, 0, idxUbyte, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

// FuzzParseIDX: within the memory bound whatever the header announces; a file that parses
// is exactly its header (written back from dims) followed by its data.
func FuzzParseIDX(f *testing.F) {
	f.Add(idxFile([]uint32{2, 3, 2}, []byte("abcdefghijkl")))
	f.Add(idxFile([]uint32{4}, []byte{0, 1, 2, 9}))
	f.Add(idxFile([]uint32{1 << 30, 1 << 30}, nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		var dims []int
		var data []byte
		var err error
		n := memcheck.Bytes(func() { dims, data, err = ParseIDX(bytes.NewReader(in), "fuzz.idx") })
		if e := idxBound.Check("ParseIDX", len(in), n); e != nil {
			t.Fatal(e)
		}
		if err != nil {
			return
		}
		d32 := make([]uint32, len(dims))
		for i, d := range dims {
			d32[i] = uint32(d)
		}
		if !bytes.Equal(idxFile(d32, data), in) {
			t.Fatalf("dims %v and %d data bytes do not write back to the input", dims, len(data))
		}
	})
}

// folderMaxPixels is the image limit of FuzzReadFolderTar.
const folderMaxPixels = 1 << 12

// tarMembers is an archive's uncompressed size and its count of regular members, read
// independently of readTarFolder (gunzipped up to 64 MiB).
func tarMembers(b []byte) (size, members int) {
	var r io.Reader = bytes.NewReader(b)
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return len(b), 0
		}
		raw, _ := io.ReadAll(io.LimitReader(gz, 64<<20))
		r = bytes.NewReader(raw)
		size = len(raw)
	}
	size = max(size, len(b))
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			return size, members
		}
		if h.Typeflag == tar.TypeReg || h.Typeflag == 0 {
			members++
		}
	}
}

// FuzzReadFolderTar: a .tar or .tar.gz image folder, read with Workers 1 and a 4096-pixel
// limit, allocates at most 64 bytes per byte of the uncompressed archive plus 64 bytes per
// allowed pixel for each member (decoding, see imageproc's decodeBound) plus 2 MiB (the
// 1 MiB read buffer, gzip's window, the worker channels); a
// folder that reads has one class per example label and one path per example.
func FuzzReadFolderTar(f *testing.F) {
	files, _ := tree(f)
	for _, fl := range files {
		if fl.name == "train/dog/b.png" {
			files = append(files, file{"train/dog/j.jpg", jpegImage(f, 8, 6, 1)})
			break
		}
	}
	f.Add(tarBytes(f, files[:3], false))
	f.Add(tarBytes(f, files, true))
	f.Add(tarBytes(f, []file{{"a/x.png", pngImage(f, 3, 2, 1)}, {"b/y.png", pngImage(f, 3, 2, 2)}}, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := writeFile(t, "fuzz.tar", b)
		size, members := tarMembers(b)
		bound := memcheck.Bound{PerByte: 64, Cap: uint64(members)*64*folderMaxPixels + 2<<20}
		var fo *Folder
		var err error
		n := memcheck.Bytes(func() {
			fo, err = ReadFolder(path, Train, Options{Workers: 1, MaxPixels: folderMaxPixels, OnBadImage: BadImageSkip})
		})
		if e := bound.Check("ReadFolder", size, n); e != nil {
			t.Fatal(e)
		}
		if err != nil {
			return
		}
		if len(fo.Paths) != len(fo.Examples) {
			t.Fatalf("%d paths for %d examples", len(fo.Paths), len(fo.Examples))
		}
		for i, e := range fo.Examples {
			if e.Label < 0 || e.Label >= len(fo.Classes) || e.Image == nil || e.Image.Check() != nil {
				t.Fatalf("example %d (%s): label %d of %d classes", i, fo.Paths[i], e.Label, len(fo.Classes))
			}
		}
	})
}
