package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/resnet-go/resnet/imageproc"
)

// Spec is a parsed --dataset argument: KIND:PATH.
type Spec struct {
	Kind string // one of Kinds
	Path string
}

// Kinds are the dataset kinds a Spec may name.
var Kinds = []string{"cifar10", "folder", "mnist", "fashion-mnist", "hf"}

// ParseSpec reads KIND:PATH:
//
//	cifar10:DIR          CIFAR-10 binary batches in DIR (or DIR/cifar-10-batches-bin), else
//	                     its JPEGs: DIR/<split>*.tar[.gz], DIR/<split>/<class>/, DIR/<class>/
//	cifar10:FILE         one binary batch file, or a .tar/.tar.gz image folder
//	folder:DIR_OR_TAR    an image folder (ImageFolder layout), directory or .tar[.gz]
//	mnist:DIR            IDX files train-/t10k-{images-idx3,labels-idx1}-ubyte[.gz]
//	fashion-mnist:DIR    the same files, Fashion-MNIST label names
//	hf:ORG/NAME[:CONFIG][@REV][/SPLIT]
//	                     a Hugging Face hub dataset's Parquet files (see ParseHFRef, ResolveHF)
func ParseSpec(s string) (Spec, error) {
	kind, path, ok := strings.Cut(s, ":")
	if !ok || path == "" {
		return Spec{}, fmt.Errorf("dataset %q: want KIND:PATH with KIND one of %s, e.g. cifar10:../shared/data/cifar10", s, strings.Join(Kinds, ", "))
	}
	if !slices.Contains(Kinds, kind) {
		return Spec{}, fmt.Errorf("dataset %q: unknown kind %q (known: %s)", s, kind, strings.Join(Kinds, ", "))
	}
	if kind == "hf" {
		if _, err := ParseHFRef(path); err != nil {
			return Spec{}, err
		}
	}
	return Spec{Kind: kind, Path: path}, nil
}

// FixedSplit reports whether the spec names one split for every use (hf:ORG/NAME/SPLIT), so
// that training must not report that same split as its test error.
func (s Spec) FixedSplit() bool {
	if s.Kind != "hf" {
		return false
	}
	r, err := ParseHFRef(s.Path)
	return err == nil && r.Split != ""
}

func (s Spec) String() string { return s.Kind + ":" + s.Path }

// Load reads a split as per-image examples (RGB; gray images replicated; folder images in
// their own sizes), failing on any unreadable image.
func (s Spec) Load(split Split) ([]Example, error) {
	ex, _, err := s.LoadWithClasses(split)
	return ex, err
}

// LoadWithClasses is Load that also returns the class names (index = Example.Label), which
// an evaluation maps onto the model's labels with MapLabels.
func (s Spec) LoadWithClasses(split Split) ([]Example, []string, error) {
	ex, classes, _, err := s.LoadWithOptions(split, Options{})
	return ex, classes, err
}

// EncodedImages reports whether the dataset holds image files (folder, hf), decoded one by
// one, as against raw pixel records (cifar10, mnist, fashion-mnist): the decoding options
// (MaxPixels, KeepOrientation) apply to the former only.
func (s Spec) EncodedImages() bool { return s.Kind == "folder" || s.Kind == "hf" }

// LoadWithOptions is LoadWithClasses with reading options (hf: column names, bad images); it
// also returns the unreadable images left out under BadImageSkip.
func (s Spec) LoadWithOptions(split Split, opts Options) ([]Example, []string, []BadImage, error) {
	if s.EncodedImages() {
		if err := opts.validate(); err != nil {
			return nil, nil, nil, err
		}
		var f *Folder
		var err error
		if s.Kind == "hf" {
			f, err = loadHF(s.Path, split, &opts)
		} else {
			f, err = ReadFolder(s.Path, split, opts)
		}
		if err != nil {
			return nil, nil, nil, err
		}
		return f.Examples, f.Classes, f.Skipped, nil
	}
	d, err := s.Dataset(split, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	return d.Examples(), d.Classes, d.Skipped, nil
}

// List is LoadWithOptions without decoding, for the kinds read image by image (folder and
// hf): the Folder's Listed holds each readable entry's file name or encoded bytes (an
// archive member's, a Parquet row's: memory for those, not for pixels), for the caller to
// decode one at a time (Listed.Decode), so a split of any size streams through a model.
// Images that fail to decode then surface only there; OnBadImage applies here to what
// listing finds (an archive member over the size limit).
func (s Spec) List(split Split, opts Options) (*Folder, error) {
	if !s.EncodedImages() {
		return nil, fmt.Errorf("dataset %s: %s datasets are read whole (LoadWithOptions), not listed", s, s.Kind)
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.lazy = true
	if s.Kind == "hf" {
		return loadHF(s.Path, split, &opts)
	}
	return ReadFolder(s.Path, split, opts)
}

// Dataset reads a split as a Dataset: 3 channels except for the IDX kinds (1 channel;
// see Dataset.WithChannels), resized when opts asks.
func (s Spec) Dataset(split Split, opts Options) (*Dataset, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	var (
		d   *Dataset
		err error
	)
	switch s.Kind {
	case "cifar10":
		d, err = loadCIFAR10(s.Path, split, &opts)
	case "folder":
		d, err = folderDataset(s.Path, split, &opts)
	case "hf":
		var f *Folder
		if f, err = loadHF(s.Path, split, &opts); err == nil {
			d, err = f.Dataset()
		}
	case "mnist", "fashion-mnist":
		classes := MNISTClasses
		if s.Kind == "fashion-mnist" {
			classes = FashionMNISTClasses
		}
		var images, labels string
		if images, labels, err = IDXFiles(s.Path, split); err == nil {
			d, err = ReadIDX(images, labels, classes)
		}
	default:
		return nil, fmt.Errorf("dataset %s: unknown kind %q (known: %s)", s, s.Kind, strings.Join(Kinds, ", "))
	}
	if err != nil {
		return nil, err
	}
	d.Source = fmt.Sprintf("%s (%s)", s, split)
	if d, err = resizeDataset(d, &opts); err != nil {
		return nil, err
	}
	return d, d.Check()
}

func folderDataset(path string, split Split, o *Options) (*Dataset, error) {
	f, err := ReadFolder(path, split, *o)
	if err != nil {
		return nil, err
	}
	return f.Dataset()
}

// loadCIFAR10 finds CIFAR-10 in one of its distributed forms (see ParseSpec).
func loadCIFAR10(path string, split Split, o *Options) (*Dataset, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	var folder string
	switch {
	case !st.IsDir() && isArchiveName(path):
		folder = path
	case !st.IsDir():
		return ReadCIFAR10Dataset(path)
	default:
		if files := cifar10Glob(path, split); len(files) > 0 {
			return ReadCIFAR10Dataset(files...)
		}
		if folder, err = cifar10FolderIn(path, split); err != nil {
			return nil, err
		}
	}
	if folder == "" {
		return nil, fmt.Errorf("cifar10: %s has neither %s nor %s*.tar[.gz] nor %s/ nor class folders (want the CIFAR-10 binary version or its images, one folder per class)",
			path, cifar10Pattern(split), split, split)
	}
	d, err := folderDataset(folder, split, o)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(d.Classes, CIFAR10Classes) {
		return nil, fmt.Errorf("cifar10: %s has class folders %v, not CIFAR-10's %v", folder, d.Classes, CIFAR10Classes)
	}
	return d, nil
}

// cifar10FolderIn picks the image folder source for a split inside dir: one
// <split>*.tar[.gz] archive, a <split>/ folder, or dir itself when it holds class folders;
// "" when there is none.
func cifar10FolderIn(dir string, split Split) (string, error) {
	var archives []string
	for _, pat := range []string{"*.tar", "*.tar.gz", "*.tgz"} {
		m, _ := filepath.Glob(filepath.Join(dir, split.String()+pat))
		archives = append(archives, m...)
	}
	switch {
	case len(archives) == 1:
		return archives[0], nil
	case len(archives) > 1:
		return "", fmt.Errorf("cifar10: %s has several %s archives %v; name one with cifar10:FILE", dir, split, archives)
	}
	if st, err := os.Stat(filepath.Join(dir, split.String())); err == nil && st.IsDir() {
		return filepath.Join(dir, split.String()), nil
	}
	for _, c := range CIFAR10Classes {
		if st, err := os.Stat(filepath.Join(dir, c)); err != nil || !st.IsDir() {
			return "", nil
		}
	}
	return dir, nil
}

func isArchiveName(p string) bool {
	p = strings.ToLower(p)
	return strings.HasSuffix(p, ".tar") || strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz")
}

// resizeDataset applies Options.Width/Height to a dataset read at its native size (CIFAR-10
// binary, IDX). Gray images go through the RGB resampler replicated, which gives the same
// bytes per channel as resampling the gray plane.
func resizeDataset(d *Dataset, o *Options) (*Dataset, error) {
	if o.Width == 0 || (d.W == o.Width && d.H == o.Height) {
		return d, nil
	}
	out := *d
	out.W, out.H = o.Width, o.Height
	plane := o.Width * o.Height
	out.Pix = make([]uint8, d.Len()*d.C*plane)
	workers := min(o.workers(), d.Len())
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w * d.Len() / workers; i < (w+1)*d.Len()/workers; i++ {
				img := imageproc.Resize(d.RGB(i), o.Width, o.Height, o.Filter)
				dst := out.Pix[i*d.C*plane : (i+1)*d.C*plane]
				for c := range d.C {
					for p := range plane {
						dst[c*plane+p] = img.Pix[3*p+c]
					}
				}
			}
		})
	}
	wg.Wait()
	return &out, nil
}
