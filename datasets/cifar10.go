// Package datasets reads labelled image collections: CIFAR-10 binary batches (and, later,
// image folders and IDX files) as 8-bit RGB images with class indices.
package datasets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/resnet-go/resnet/imageproc"
)

// Example is one labelled image.
type Example struct {
	Image *imageproc.RGB
	Label int
}

// CIFAR-10 binary record: 1 label byte, then 1024 red, 1024 green and 1024 blue bytes, each
// plane 32 rows of 32 pixels, top to bottom.
const (
	cifarSide   = 32
	cifarRecord = 1 + 3*cifarSide*cifarSide
)

// CIFAR10Split names the files of a split in the binary distribution.
type CIFAR10Split int

const (
	CIFAR10Test  CIFAR10Split = iota // test_batch.bin
	CIFAR10Train                     // data_batch_1.bin … data_batch_5.bin
)

// CIFAR10Files returns the batch files of a split under dir, or dir itself when it is a file.
func CIFAR10Files(dir string, split CIFAR10Split) ([]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	if !st.IsDir() {
		return []string{dir}, nil
	}
	pattern := "test_batch.bin"
	if split == CIFAR10Train {
		pattern = "data_batch_*.bin"
	}
	files, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(files) == 0 {
		// The layout of the tarball, one level down.
		files, _ = filepath.Glob(filepath.Join(dir, "cifar-10-batches-bin", pattern))
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("cifar10: no %s in %s (expected the CIFAR-10 binary version)", pattern, dir)
	}
	sort.Strings(files)
	return files, nil
}

// ReadCIFAR10 reads every record of the given batch files, in order.
func ReadCIFAR10(files ...string) ([]Example, error) {
	var out []Example
	for _, f := range files {
		ex, err := readCIFARFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, ex...)
	}
	return out, nil
}

func readCIFARFile(path string) ([]Example, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	return ParseCIFAR10(data, path)
}

// ParseCIFAR10 decodes CIFAR-10 binary records; name is used in error messages.
func ParseCIFAR10(data []byte, name string) ([]Example, error) {
	if len(data) == 0 || len(data)%cifarRecord != 0 {
		return nil, fmt.Errorf("cifar10: %s is %d bytes, not a whole number of %d-byte records", name, len(data), cifarRecord)
	}
	n := len(data) / cifarRecord
	out := make([]Example, n)
	const plane = cifarSide * cifarSide
	for i := range out {
		rec := data[i*cifarRecord : (i+1)*cifarRecord]
		if rec[0] > 9 {
			return nil, fmt.Errorf("cifar10: %s record %d has label %d (want 0..9)", name, i, rec[0])
		}
		img := &imageproc.RGB{W: cifarSide, H: cifarSide, Pix: make([]uint8, 3*plane)}
		for p := 0; p < plane; p++ {
			img.Pix[3*p] = rec[1+p]
			img.Pix[3*p+1] = rec[1+plane+p]
			img.Pix[3*p+2] = rec[1+2*plane+p]
		}
		out[i] = Example{Image: img, Label: int(rec[0])}
	}
	return out, nil
}

// Spec is a parsed --dataset argument: KIND:PATH.
type Spec struct {
	Kind string // "cifar10" (more kinds come with training)
	Path string
}

// ParseSpec reads "cifar10:DIR".
func ParseSpec(s string) (Spec, error) {
	kind, path, ok := strings.Cut(s, ":")
	if !ok || path == "" {
		return Spec{}, fmt.Errorf("dataset %q: want KIND:PATH, e.g. cifar10:../shared/data/cifar10", s)
	}
	switch kind {
	case "cifar10":
		return Spec{kind, path}, nil
	}
	return Spec{}, fmt.Errorf("dataset %q: unknown kind %q (known: cifar10)", s, kind)
}

// Load reads a split of the dataset.
func (s Spec) Load(split CIFAR10Split) ([]Example, error) {
	switch s.Kind {
	case "cifar10":
		files, err := CIFAR10Files(s.Path, split)
		if err != nil {
			return nil, err
		}
		return ReadCIFAR10(files...)
	}
	return nil, errors.New("unreachable")
}
