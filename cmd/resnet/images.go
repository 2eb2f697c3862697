package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/datasets/hfparquet"
	"github.com/resnet-go/resnet/hub"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/tensor"
)

// imageExts are the formats the decoder reads; directories are searched for these (.jfif and
// .jpe are JPEG, as Pillow registers them: browsers on Windows save photos as .jfif).
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".jfif": true, ".jpe": true, ".png": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true, ".webp": true}

// expandFiles turns file arguments into image paths: files as given, directories walked for
// images in sorted order. A missing path is kept so that it gets its own error line. Files of
// other types in a directory (an iPhone's .heic photos among .jpg ones) are counted in a note
// on stderr, so that the results are not taken for the whole folder.
func expandFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		skipped := map[string]int{} // by extension
		// Links are followed (a linked folder was once skipped as a file, results short
		// with exit 0); a link that points nowhere is kept if its name is an image's, so
		// that it gets its own error line.
		err = datasets.WalkFiles(a, func(p string, typ fs.FileMode) error {
			switch ext := strings.ToLower(filepath.Ext(p)); {
			case typ.IsDir():
			case imageExts[ext]:
				found = append(found, p)
			case !strings.HasPrefix(filepath.Base(p), "."): // not .DS_Store and the like
				skipped[ext]++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 && len(skipped) > 0 {
			return nil, fmt.Errorf("%s: no images (%s) in this directory, only %s of other types", a, exts(), datasets.CountFiles(skipped))
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no images (%s) in this directory", a, exts())
		}
		sort.Strings(found)
		out = append(out, found...)
		if len(skipped) > 0 {
			fmt.Fprintf(os.Stderr, "note: %s: %s skipped, not of a supported image type (%s)\n", a, datasets.CountFiles(skipped), exts())
		}
	}
	return out, nil
}

// refuseInputAsOutput returns an error if out already exists and is the same file as one of
// inputs (an image, a model): `classify -o photo.png photo.png` replaced the photo with the
// results, `export model.onnx model.onnx` the model, with exit 0. Inputs that are not
// files (hub ids, dataset rows) are passed over.
func refuseInputAsOutput(out string, inputs ...string) error {
	ost, err := os.Stat(out)
	if err != nil {
		return nil // not there yet: nothing to lose
	}
	for _, in := range inputs {
		if ist, err := os.Stat(in); err == nil && os.SameFile(ost, ist) {
			if in == out {
				return fmt.Errorf("%s is also an input: writing there would replace it; name another output file", out)
			}
			return fmt.Errorf("%s is also an input (%s): writing there would replace it; name another output file", out, in)
		}
	}
	return nil
}

func exts() string {
	var e []string
	for k := range imageExts {
		e = append(e, k)
	}
	sort.Strings(e)
	return strings.Join(e, " ")
}

// hfArgPrefix marks an IMAGE argument naming a hub dataset split:
// hf://datasets/ORG/NAME[:CONFIG][@REV][/SPLIT].
const hfArgPrefix = "hf://datasets/"

// columnFlags are --image-column and --label-column, for hf: datasets and hf:// arguments.
type columnFlags struct {
	imageColumn, labelColumn string
	hub                      *hub.Client // nil: hub.NewFromEnv(), without progress bars
}

func (c *columnFlags) registerColumns(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.imageColumn, "image-column", "", "hf: datasets: the image column (default: the first Image feature of the Parquet metadata)")
	cmd.Flags().StringVar(&c.labelColumn, "label-column", "", "hf: datasets: the label column (default: the first ClassLabel feature)")
}

func (c *columnFlags) datasetOptions() datasets.Options {
	return datasets.Options{ImageColumn: c.imageColumn, LabelColumn: c.labelColumn, Hub: c.hub}
}

// hfInput is one image of an hf:// argument: its encoded bytes, or the cached file holding
// them (an Image stored by path).
type hfInput struct {
	data []byte
	file string
}

// hfInputs maps the names expandInputs gives dataset images to their bytes. They are held
// encoded (a few KB each), so a split costs its Parquet image column in memory, not its
// decoded pixels.
var hfInputs sync.Map

// expandInputs turns IMAGE arguments into input names (see expandInputsWith), with the
// image and label columns found by feature type.
func expandInputs(args []string) ([]string, error) {
	return expandInputsWith(args, columnFlags{})
}

// expandInputsWith turns arguments into input names: files as given, directories walked for
// images in sorted order, and hf://datasets/ORG/NAME[:CONFIG][@REV][/SPLIT] expanded into one
// name per row of that split (hf://datasets/ORG/NAME/SPLIT/ROW; default split as for eval:
// test, validation, valid, val), downloaded into the hub cache first. Read the images with
// decodeInput or preprocessInput, which know both kinds of name.
func expandInputsWith(args []string, cols columnFlags) ([]string, error) {
	var out, files []string
	flush := func() error {
		if len(files) == 0 {
			return nil
		}
		p, err := expandFiles(files)
		out = append(out, p...)
		files = nil
		return err
	}
	stdin := false
	for _, a := range args {
		if a == stdinArg {
			if stdin {
				return nil, fmt.Errorf("- (standard input) is given twice")
			}
			stdin = true
			if err := flush(); err != nil {
				return nil, err
			}
			data, err := readStdin(os.Stdin, maxStdinBytes)
			if err != nil {
				return nil, err
			}
			hfInputs.Store(stdinArg, hfInput{data: data})
			out = append(out, stdinArg)
			continue
		}
		if !strings.HasPrefix(a, hfArgPrefix) {
			files = append(files, a)
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		names, err := expandHF(a, cols)
		if err != nil {
			return nil, err
		}
		out = append(out, names...)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// stdinArg names standard input among the images: one image's bytes, read whole (as `cat
// x.jpg | resnet classify -`).
const stdinArg = "-"

// maxStdinBytes bounds an image read from standard input: larger than any image the pixel
// limit lets through in a usual format, smaller than what would exhaust memory.
const maxStdinBytes = 1 << 30

// readStdin reads r whole, refusing more than limit bytes and nothing at all.
func readStdin(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("- (standard input): %w", err)
	case int64(len(data)) > limit:
		return nil, fmt.Errorf("- (standard input): more than %d bytes", limit)
	case len(data) == 0:
		return nil, fmt.Errorf("- (standard input): empty; pipe an image into it (cat x.jpg | resnet classify -)")
	}
	return data, nil
}

// expandHF resolves one hf:// argument (or an hf: --dataset) and registers its images.
func expandHF(arg string, cols columnFlags) ([]string, error) {
	spec := strings.TrimPrefix(strings.TrimPrefix(arg, hfArgPrefix), "hf:")
	ref, err := datasets.ParseHFRef(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	src, err := datasets.ResolveHF(context.Background(), cols.hub, ref, datasets.Test)
	if err != nil {
		return nil, err
	}
	var names []string
	_, err = src.Rows(hfparquet.Columns{Image: cols.imageColumn, Label: cols.labelColumn}, func(rows []datasets.HFRow) error {
		for _, r := range rows {
			name := fmt.Sprintf("%s%s/%s/%d", hfArgPrefix, src.Repo, src.Split, r.Index)
			hfInputs.Store(name, hfInput{data: r.Data, file: r.File})
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: %s has no rows", arg, src)
	}
	return names, nil
}

// decodeInput decodes an input named by expandInputs: an image file or a dataset image, with a
// model's options (Model.DecodeOptions, whose MaxPixels is never 0).
func decodeInput(name string, o imageproc.DecodeOptions) (*imageproc.RGB, error) {
	v, ok := hfInputs.Load(name)
	if !ok {
		return imageproc.DecodeFileWith(name, o)
	}
	in := v.(hfInput)
	if in.file != "" {
		return imageproc.DecodeFileWith(in.file, o)
	}
	return imageproc.DecodeWith(bytes.NewReader(in.data), o)
}

// preprocessInput is Model.PreprocessFile for any input name of expandInputs, writing into
// dst where it has room.
func preprocessInput(m *resnet.Model, name string, dst []float32) (*tensor.Tensor, error) {
	img, err := decodeInput(name, m.DecodeOptions())
	if err != nil {
		return nil, err
	}
	defer img.Release()
	return m.PreprocessRGBInto(img, dst)
}

// datasetArgs is the IMAGE arguments plus a --dataset of classify/embed (hf: only: the other
// kinds are folders and files that can be named as arguments directly).
func datasetArgs(args []string, dataset string) ([]string, error) {
	if dataset == "" {
		if len(args) == 0 {
			return nil, fmt.Errorf("no images: give IMAGE|DIR arguments or --dataset hf:ORG/NAME[/SPLIT]")
		}
		return args, nil
	}
	if !strings.HasPrefix(dataset, "hf:") || strings.HasPrefix(dataset, "hf://") {
		return nil, fmt.Errorf("--dataset %q: classify and embed read hf:ORG/NAME[:CONFIG][@REV][/SPLIT]; name folders and files as arguments", dataset)
	}
	return append(args, hfArgPrefix+strings.TrimPrefix(dataset, "hf:")), nil
}

// plural says "1 image" or "3 images".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
