package datasets

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/resnet-go/resnet/imageproc"
)

// Folder is an image folder dataset as read, images in their decoded (or resized) sizes.
type Folder struct {
	Examples []Example // sorted by class, then by path, as ImageFolder orders its samples
	Classes  []string  // sorted class folder names, index = label
	Paths    []string  // source of each example: DIR/class/x.jpg or ARCHIVE:member/name.jpg
	Skipped  []BadImage
	Root     string // the folder inside the source that holds the classes ("" or e.g. "train/")
	Source   string
	// Listed holds the images, undecoded, instead of Examples when the folder was read by
	// Spec.List.
	Listed []Listed
}

// Listed is an image of a dataset listed but not decoded (Spec.List): a file to read or
// the encoded bytes an archive or a Parquet file held.
type Listed struct {
	Name  string // as in Folder.Paths
	Label int
	file  string
	data  []byte
}

// Decode reads and decodes the image as the dataset's loader would have (opts: MaxPixels,
// KeepOrientation, and the resize of Width/Height/Filter).
func (l Listed) Decode(opts Options) (*imageproc.RGB, error) {
	return decodeJob(job{file: l.file, data: l.data}, &opts)
}

// ReadFolder reads an image folder dataset, one sub-folder per class (torchvision's
// ImageFolder), from a directory or directly from a .tar or .tar.gz archive (streamed, never
// extracted). The classes may sit one level down in a single folder (train/<class>/...), and
// where train/ and test/ (or val/) sit side by side split picks one; otherwise split is not
// used. Images are decoded on Options.Workers goroutines.
func ReadFolder(path string, split Split, opts Options) (*Folder, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("folder: %w", err)
	}
	if st.IsDir() {
		return readDirFolder(path, split, &opts)
	}
	return readTarFolder(path, split, &opts)
}

// Dataset packs the examples into a Dataset; they must all have one size (see
// Options.Width/Height).
func (f *Folder) Dataset() (*Dataset, error) {
	d, err := FromExamples(f.Examples, f.Classes, f.Paths)
	if err != nil {
		return nil, fmt.Errorf("folder %s: %w", f.Source, err)
	}
	d.Skipped, d.Source = f.Skipped, f.Source
	return d, nil
}

// job is one image to decode: its bytes (from an archive) or a file to read, or the reason
// it cannot be read.
type job struct {
	i    int
	data []byte
	file string
	err  error
}

type result struct {
	i   int
	img *imageproc.RGB
	err error
	src job // the job itself, undecoded, when listing (Options.lazy)
}

// decodePool decodes the jobs from in on n goroutines and closes out once in is closed and
// every job is done.
func decodePool(in <-chan job, out chan<- result, n int, o *Options) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for j := range in {
				if o.lazy {
					out <- result{i: j.i, err: j.err, src: j}
					continue
				}
				img, err := decodeJob(j, o)
				out <- result{i: j.i, img: img, err: err}
			}
		})
	}
	go func() {
		wg.Wait()
		close(out)
	}()
}

func decodeJob(j job, o *Options) (*imageproc.RGB, error) {
	if j.err != nil {
		return nil, j.err
	}
	data := j.data
	if j.file != "" {
		var err error
		if data, err = os.ReadFile(j.file); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the caller names the file
			}
			return nil, err
		}
	}
	img, err := imageproc.DecodeWith(bytes.NewReader(data), imageproc.DecodeOptions{MaxPixels: o.maxPixels(), KeepOrientation: o.KeepOrientation})
	if err != nil {
		return nil, err
	}
	return o.resize(img), nil
}

// candidate is an image file of the source that belongs to a class.
type candidate struct {
	rel   string // slash path inside the source, for ordering
	name  string // for Paths and errors
	label int
	img   *imageproc.RGB
	err   error
	src   *job // listed, not decoded (Options.lazy)
}

// listed is the candidate as Listed, if it was listed rather than decoded.
func (c *candidate) listed() (Listed, bool) {
	if c.src == nil || c.err != nil {
		return Listed{}, false
	}
	return Listed{Name: c.name, Label: c.label, file: c.src.file, data: c.src.data}, true
}

// assemble orders the candidates as ImageFolder does and applies the bad-image policy.
func assemble(cands []candidate, lay layout, src string, o *Options) (*Folder, error) {
	slices.SortFunc(cands, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.label, b.label), cmp.Compare(a.rel, b.rel))
	})
	f := &Folder{Classes: lay.classes, Root: lay.root, Source: src}
	var bad []BadImage
	for _, c := range cands {
		if c.err != nil {
			bad = append(bad, BadImage{Path: c.name, Err: c.err})
			continue
		}
		if l, ok := c.listed(); ok {
			f.Listed = append(f.Listed, l)
			f.Paths = append(f.Paths, c.name)
			continue
		}
		if c.img == nil {
			continue // not decoded: a fail-fast stop came first
		}
		f.Examples = append(f.Examples, Example{Image: c.img, Label: c.label})
		f.Paths = append(f.Paths, c.name)
	}
	if len(bad) > 0 && o.OnBadImage == BadImageFail {
		more := ""
		if len(bad) > 1 {
			more = fmt.Sprintf(" (and %d more unreadable images)", len(bad)-1)
		}
		return nil, fmt.Errorf("folder: %w%s; skip unreadable images (--on-bad-image skip; datasets.BadImageSkip in Go) to leave them out", bad[0], more)
	}
	for _, b := range bad {
		if o.Warn != nil {
			fmt.Fprintf(o.Warn, "datasets: skipping %v\n", b)
		}
	}
	f.Skipped = bad
	if len(f.Examples) == 0 && len(f.Listed) == 0 {
		return nil, fmt.Errorf("folder: %s: no readable images in %d class folders (%d unreadable)", src, len(lay.classes), len(bad))
	}
	return f, nil
}

// decodeAll decodes the job of each candidate into it; under BadImageFail it stops handing
// out work after the first error.
func decodeAll(cands []candidate, mkJob func(i int) job, o *Options) {
	in := make(chan job, 64)
	out := make(chan result, 64)
	decodePool(in, out, o.workers(), o)
	var stop atomic.Bool
	go func() {
		defer close(in)
		for i := range cands {
			if stop.Load() {
				return
			}
			in <- mkJob(i)
		}
	}()
	for r := range out {
		cands[r.i].img, cands[r.i].err = r.img, r.err
		if o.lazy {
			cands[r.i].src = &r.src
		}
		if r.err != nil && o.OnBadImage == BadImageFail {
			stop.Store(true)
		}
	}
}
