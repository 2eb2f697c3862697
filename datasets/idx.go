package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// IDX files (MNIST's format): two zero bytes, a type byte, a dimension count, one big-endian
// uint32 per dimension, then the values in row-major order. Only unsigned bytes (type 0x08)
// occur in image datasets.
const idxUbyte = 0x08

var idxTypeNames = map[byte]string{0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}

// maxIDXBytes bounds the payload a header may announce (MNIST-like sets are ~50 MB); the data
// is read as it arrives, so a lying header cannot force a large allocation either.
const maxIDXBytes = 1 << 34

// MNISTClasses and FashionMNISTClasses are the label names, index = label.
var (
	MNISTClasses        = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
)

// ParseIDX reads an unsigned-byte IDX stream (gunzipped already); name is used in errors.
func ParseIDX(r io.Reader, name string) (dims []int, data []uint8, err error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, nil, fmt.Errorf("idx: %s: reading header: %w", name, eofIsTruncated(err))
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, nil, fmt.Errorf("idx: %s: bad magic % x (an IDX file starts 00 00 <type> <ndims>)", name, head)
	}
	if head[2] != idxUbyte {
		t, ok := idxTypeNames[head[2]]
		if !ok {
			t = "unknown"
		}
		return nil, nil, fmt.Errorf("idx: %s: value type 0x%02x (%s); only unsigned byte (0x08) is supported", name, head[2], t)
	}
	nd := int(head[3])
	if nd == 0 {
		return nil, nil, fmt.Errorf("idx: %s: zero dimensions", name)
	}
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, nil, fmt.Errorf("idx: %s: reading %d dimensions: %w", name, nd, eofIsTruncated(err))
	}
	size := int64(1)
	dims = make([]int, nd)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(raw[4*i:]))
		size *= int64(dims[i])
		if size > maxIDXBytes {
			return nil, nil, fmt.Errorf("idx: %s: dimensions %v announce more than %d bytes", name, dims[:i+1], int64(maxIDXBytes))
		}
	}
	data, err = io.ReadAll(io.LimitReader(r, size+1))
	if err != nil {
		return nil, nil, fmt.Errorf("idx: %s: %w", name, err)
	}
	if int64(len(data)) < size {
		return nil, nil, fmt.Errorf("idx: %s: truncated: dimensions %v need %d data bytes, file has %d", name, dims, size, len(data))
	}
	if int64(len(data)) > size {
		return nil, nil, fmt.Errorf("idx: %s: data continues past the %d bytes dimensions %v describe", name, size, dims)
	}
	return dims, data, nil
}

func eofIsTruncated(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("file truncated (%w)", err)
	}
	return err
}

// ReadIDXFile reads an IDX file, gunzipping it when it starts with the gzip magic (whatever
// its name).
func ReadIDXFile(path string) (dims []int, data []uint8, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("idx: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("idx: %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	return ParseIDX(r, path)
}

// ReadIDX reads an images file (N×H×W) and a labels file (N) into a 1-channel Dataset.
func ReadIDX(imagesPath, labelsPath string, classes []string) (*Dataset, error) {
	idims, pix, err := ReadIDXFile(imagesPath)
	if err != nil {
		return nil, err
	}
	ldims, labels, err := ReadIDXFile(labelsPath)
	if err != nil {
		return nil, err
	}
	return idxDataset(idims, pix, imagesPath, ldims, labels, labelsPath, classes)
}

func idxDataset(idims []int, pix []uint8, iname string, ldims []int, labels []uint8, lname string, classes []string) (*Dataset, error) {
	if len(idims) != 3 {
		return nil, fmt.Errorf("idx: %s has dimensions %v; images need 3 (count, rows, columns)", iname, idims)
	}
	if len(ldims) != 1 {
		return nil, fmt.Errorf("idx: %s has dimensions %v; labels need 1 (count)", lname, ldims)
	}
	if idims[0] != ldims[0] {
		return nil, fmt.Errorf("idx: %s holds %d images but %s holds %d labels", iname, idims[0], lname, ldims[0])
	}
	if idims[1] < 1 || idims[2] < 1 {
		return nil, fmt.Errorf("idx: %s has %dx%d images", iname, idims[2], idims[1])
	}
	d := &Dataset{C: 1, H: idims[1], W: idims[2], Pix: pix, Labels: make([]int, len(labels)), Classes: classes}
	for i, l := range labels {
		if int(l) >= len(classes) {
			return nil, fmt.Errorf("idx: %s label %d is %d (want 0..%d)", lname, i, l, len(classes)-1)
		}
		d.Labels[i] = int(l)
	}
	return d, nil
}

// IDXFiles finds a split's images and labels files in dir (or its raw/ sub-folder, where
// torchvision keeps them): train-* or t10k-*, named images-idx3-ubyte or images.idx3-ubyte,
// optionally gzipped (.gz).
func IDXFiles(dir string, split Split) (images, labels string, err error) {
	prefix := "t10k"
	if split == Train {
		prefix = "train"
	}
	find := func(kind, idx string) string {
		for _, d := range []string{dir, filepath.Join(dir, "raw")} {
			for _, sep := range []string{"-", "."} {
				for _, ext := range []string{"", ".gz"} {
					p := filepath.Join(d, prefix+"-"+kind+sep+idx+"-ubyte"+ext)
					if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
						return p
					}
				}
			}
		}
		return ""
	}
	images, labels = find("images", "idx3"), find("labels", "idx1")
	if images == "" || labels == "" {
		return "", "", fmt.Errorf("idx: %s has no %s-images-idx3-ubyte[.gz] and %s-labels-idx1-ubyte[.gz] (the MNIST file names)", dir, prefix, prefix)
	}
	return images, labels, nil
}
