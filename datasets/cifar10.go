package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// CIFAR-10 binary record: 1 label byte, then 1024 red, 1024 green and 1024 blue bytes, each
// plane 32 rows of 32 pixels, top to bottom: exactly a Dataset's planar layout.
const (
	cifarSide   = 32
	cifarPlane  = cifarSide * cifarSide
	cifarRecord = 1 + 3*cifarPlane
)

// CIFAR10Classes are the CIFAR-10 label names (batches.meta.txt), index = label. They are in
// alphabetical order, so an image folder of CIFAR-10 gets the same indices.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// Split is the training or the test part of a dataset.
type Split int

const (
	Test  Split = iota // CIFAR-10 test_batch.bin, IDX t10k-*, folder test/
	Train              // CIFAR-10 data_batch_1.bin … data_batch_5.bin, IDX train-*, folder train/
)

func (s Split) String() string {
	if s == Train {
		return "train"
	}
	return "test"
}

// CIFAR10Split is the older name of Split.
type CIFAR10Split = Split

const (
	CIFAR10Test  = Test
	CIFAR10Train = Train
)

// cifar10Pattern is the batch file name (glob) of a split.
func cifar10Pattern(split Split) string {
	if split == Train {
		return "data_batch_*.bin"
	}
	return "test_batch.bin"
}

// CIFAR10Files returns the batch files of a split under dir, or dir itself when it is a file.
func CIFAR10Files(dir string, split Split) ([]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	if !st.IsDir() {
		return []string{dir}, nil
	}
	files := cifar10Glob(dir, split)
	if len(files) == 0 {
		return nil, fmt.Errorf("cifar10: no %s in %s (expected the CIFAR-10 binary version)", cifar10Pattern(split), dir)
	}
	return files, nil
}

// cifar10Glob finds a split's batch files in dir or in the tarball's cifar-10-batches-bin/.
func cifar10Glob(dir string, split Split) []string {
	pattern := cifar10Pattern(split)
	files, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(files) == 0 {
		files, _ = filepath.Glob(filepath.Join(dir, "cifar-10-batches-bin", pattern))
	}
	sort.Strings(files)
	return files
}

// ReadCIFAR10 reads every record of the given batch files, in order.
func ReadCIFAR10(files ...string) ([]Example, error) {
	d, err := ReadCIFAR10Dataset(files...)
	if err != nil {
		return nil, err
	}
	return d.Examples(), nil
}

// ReadCIFAR10Dataset reads every record of the given batch files, in order, as a 3×32×32
// Dataset.
func ReadCIFAR10Dataset(files ...string) (*Dataset, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("cifar10: no batch files given")
	}
	d := &Dataset{C: 3, H: cifarSide, W: cifarSide, Classes: CIFAR10Classes}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("cifar10: %w", err)
		}
		if err := d.appendCIFAR10(data, f); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// ParseCIFAR10 decodes CIFAR-10 binary records; name is used in error messages.
func ParseCIFAR10(data []byte, name string) ([]Example, error) {
	d := &Dataset{C: 3, H: cifarSide, W: cifarSide, Classes: CIFAR10Classes}
	if err := d.appendCIFAR10(data, name); err != nil {
		return nil, err
	}
	return d.Examples(), nil
}

// appendCIFAR10 checks and appends the records of one batch file.
func (d *Dataset) appendCIFAR10(data []byte, name string) error {
	if len(data) == 0 || len(data)%cifarRecord != 0 {
		return fmt.Errorf("cifar10: %s is %d bytes, not a whole number of %d-byte records", name, len(data), cifarRecord)
	}
	n := len(data) / cifarRecord
	for i := range n {
		if l := data[i*cifarRecord]; l > 9 {
			return fmt.Errorf("cifar10: %s record %d has label %d (want 0..9)", name, i, l)
		}
	}
	d.Pix = append(d.Pix, make([]uint8, n*3*cifarPlane)...)
	pix := d.Pix[len(d.Pix)-n*3*cifarPlane:]
	for i := range n {
		rec := data[i*cifarRecord : (i+1)*cifarRecord]
		copy(pix[i*3*cifarPlane:], rec[1:])
		d.Labels = append(d.Labels, int(rec[0]))
	}
	return nil
}
