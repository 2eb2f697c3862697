package datasets

import (
	"context"
	"fmt"
	"slices"

	"github.com/resnet-go/resnet/datasets/hfparquet"
)

// loadHF reads a hub dataset split (spec path ORG/NAME[:CONFIG][@REV][/SPLIT]) as examples
// in dataset order, decoding one row group's images at a time on Options.Workers goroutines.
func loadHF(spec string, split Split, o *Options) (*Folder, error) {
	ref, err := ParseHFRef(spec)
	if err != nil {
		return nil, err
	}
	src, err := ResolveHF(context.Background(), o.Hub, ref, split)
	if err != nil {
		return nil, err
	}
	f := &Folder{Source: src.String()}
	var bad []BadImage
	cols := hfparquet.Columns{Image: o.ImageColumn, Label: o.LabelColumn}
	classes, err := src.Rows(cols, func(rows []HFRow) error {
		cands := make([]candidate, len(rows))
		for i, r := range rows {
			if r.Label < 0 {
				return fmt.Errorf("%s: no label (null, or no label column: name one with --label-column)", r.Name)
			}
			cands[i] = candidate{name: r.Name, label: r.Label}
		}
		decodeAll(cands, func(i int) job { return job{i: i, data: rows[i].Data, file: rows[i].File} }, o)
		for _, c := range cands {
			l, listed := c.listed()
			switch {
			case c.err != nil:
				bad = append(bad, BadImage{Path: c.name, Err: c.err})
			case listed:
				f.Listed = append(f.Listed, l)
				f.Paths = append(f.Paths, c.name)
			case c.img != nil:
				f.Examples = append(f.Examples, Example{Image: c.img, Label: c.label})
				f.Paths = append(f.Paths, c.name)
			}
		}
		if len(bad) > 0 && o.OnBadImage == BadImageFail {
			return fmt.Errorf("%w; skip unreadable images (--on-bad-image skip; datasets.BadImageSkip in Go) to leave them out", bad[0])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, b := range bad {
		if o.Warn != nil {
			fmt.Fprintf(o.Warn, "datasets: skipping %v\n", b)
		}
	}
	f.Skipped = bad
	if classes == nil {
		classes = src.cardClassNames(src.LabelColumn)
	}
	if classes == nil {
		return nil, fmt.Errorf("dataset %s: no class names: the Parquet files carry no huggingface metadata with a ClassLabel for column %q, and README.md lists none under dataset_info", src, src.LabelColumn)
	}
	labels := make([]int, 0, len(f.Examples)+len(f.Listed))
	for _, e := range f.Examples {
		labels = append(labels, e.Label)
	}
	for _, l := range f.Listed {
		labels = append(labels, l.Label)
	}
	for i, l := range labels {
		if l >= len(classes) {
			return nil, fmt.Errorf("dataset %s: %s has label %d, but the ClassLabel has %d names", src, f.Paths[i], l, len(classes))
		}
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("dataset %s: no readable images (%d unreadable)", src, len(bad))
	}
	f.Classes = slices.Clone(classes)
	return f, nil
}
