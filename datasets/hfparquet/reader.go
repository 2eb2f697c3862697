// Package hfparquet reads image-classification rows from the Parquet files of Hugging Face
// dataset repos: the Image feature (struct<bytes: binary, path: string>), the ClassLabel
// feature (int64, names in the `huggingface` key-value metadata), nothing else.
//
// Memory is bounded by one row group's image and label columns, not by the file: row groups
// are read one at a time and only the three leaf columns needed are touched (parquet-go reads
// a column chunk's pages on demand). Decoding the images is the caller's job.
package hfparquet

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// Row is one example as stored: the encoded image (Bytes, or when those are null a Path to
// resolve) and its label (-1 when null).
type Row struct {
	Bytes []byte
	Path  string
	Label int64
}

// File is an open Parquet file with the image and label columns chosen.
type File struct {
	Name        string   // for errors
	Features    Features // nil when the file has no `huggingface` metadata
	ImageColumn string
	LabelColumn string   // "" when the dataset has no label column
	Classes     []string // the label column's ClassLabel names (nil when unknown)

	f                 *os.File
	pf                *parquet.File
	bytesIdx, pathIdx int
	labelIdx          int
	bytesDef, pathDef int
	labelDef          int
	labelIsI32        bool
}

// Columns overrides the column choice; empty fields mean "find by feature type".
type Columns struct {
	Image, Label string
}

// Open opens a Parquet file and finds its image and label columns: the given ones, else the
// first Image feature and the first ClassLabel feature of the metadata, else a struct column
// with a binary "bytes" field and a column named "label" or "labels".
func Open(name string, cols Columns) (*File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a readable Parquet file (%d bytes; truncated or corrupt download?): %w", name, st.Size(), err)
	}
	h := &File{Name: name, f: f, pf: pf}
	if err := h.choose(cols); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return h, nil
}

// Close releases the file.
func (h *File) Close() error { return h.f.Close() }

// NumRows is the row count the footer announces.
func (h *File) NumRows() int64 { return h.pf.NumRows() }

// NumRowGroups is the number of row groups.
func (h *File) NumRowGroups() int { return len(h.pf.RowGroups()) }

func (h *File) choose(cols Columns) error {
	if meta, ok := h.pf.Lookup("huggingface"); ok {
		fs, err := ParseFeatures(meta)
		if err != nil {
			return err
		}
		h.Features = fs
	}
	top := h.pf.Schema().Fields()
	names := make([]string, len(top))
	for i, f := range top {
		names[i] = f.Name()
	}
	pick := func(what, given, featureType string, fallback func(parquet.Field) bool) (string, error) {
		if given != "" {
			for _, n := range names {
				if n == given {
					return n, nil
				}
			}
			return "", fmt.Errorf("no %s column %q (columns: %s)", what, given, strings.Join(names, ", "))
		}
		for _, n := range names {
			if h.Features[n].Type == featureType {
				return n, nil
			}
		}
		for _, f := range top {
			if fallback(f) {
				return f.Name(), nil
			}
		}
		return "", nil
	}
	var err error
	h.ImageColumn, err = pick("image", cols.Image, "Image", func(f parquet.Field) bool {
		if f.Leaf() {
			return false
		}
		for _, c := range f.Fields() {
			if c.Name() == "bytes" {
				return true
			}
		}
		return false
	})
	if err != nil {
		return err
	}
	if h.ImageColumn == "" {
		return fmt.Errorf("no Image column (no Image feature in the huggingface metadata and no struct column with a bytes field; columns: %s); name one with --image-column", strings.Join(names, ", "))
	}
	h.LabelColumn, err = pick("label", cols.Label, "ClassLabel", func(f parquet.Field) bool {
		return f.Leaf() && (f.Name() == "label" || f.Name() == "labels")
	})
	if err != nil {
		return err
	}
	h.Classes = h.Features[h.LabelColumn].Names

	schema := h.pf.Schema()
	leaf := func(path ...string) (parquet.LeafColumn, error) {
		lc, ok := schema.Lookup(path...)
		if !ok {
			return lc, fmt.Errorf("column %s is not in the Parquet schema", strings.Join(path, "."))
		}
		if lc.MaxRepetitionLevel != 0 {
			return lc, fmt.Errorf("column %s is repeated (a list); want one value per row", strings.Join(path, "."))
		}
		return lc, nil
	}
	b, err := leaf(h.ImageColumn, "bytes")
	if err != nil {
		return fmt.Errorf("image column %q: want struct<bytes: binary, path: string>: %w", h.ImageColumn, err)
	}
	if k := b.Node.Type().Kind(); k != parquet.ByteArray {
		return fmt.Errorf("image column %q: bytes is %v, want binary", h.ImageColumn, k)
	}
	h.bytesIdx, h.bytesDef = b.ColumnIndex, b.MaxDefinitionLevel
	h.pathIdx = -1
	if p, err := leaf(h.ImageColumn, "path"); err == nil && p.Node.Type().Kind() == parquet.ByteArray {
		h.pathIdx, h.pathDef = p.ColumnIndex, p.MaxDefinitionLevel
	}
	h.labelIdx = -1
	if h.LabelColumn != "" {
		l, err := leaf(h.LabelColumn)
		if err != nil {
			return fmt.Errorf("label column: %w", err)
		}
		switch l.Node.Type().Kind() {
		case parquet.Int64:
		case parquet.Int32:
			h.labelIsI32 = true
		default:
			return fmt.Errorf("label column %q is %v, want an integer (ClassLabel)", h.LabelColumn, l.Node.Type().Kind())
		}
		h.labelIdx, h.labelDef = l.ColumnIndex, l.MaxDefinitionLevel
	}
	return nil
}

// Rows calls fn for every row in file order, reading one row group at a time. An error from
// fn stops the iteration and is returned as is.
func (h *File) Rows(fn func(Row) error) error {
	for g, rg := range h.pf.RowGroups() {
		n := int(rg.NumRows())
		chunks := rg.ColumnChunks()
		bytesV, err := h.readColumn(chunks[h.bytesIdx], n, g, h.ImageColumn+".bytes")
		if err != nil {
			return err
		}
		var pathV, labelV []parquet.Value
		if h.pathIdx >= 0 {
			if pathV, err = h.readColumn(chunks[h.pathIdx], n, g, h.ImageColumn+".path"); err != nil {
				return err
			}
		}
		if h.labelIdx >= 0 {
			if labelV, err = h.readColumn(chunks[h.labelIdx], n, g, h.LabelColumn); err != nil {
				return err
			}
		}
		for i := range n {
			r := Row{Label: -1}
			if v := bytesV[i]; v.DefinitionLevel() == h.bytesDef && !v.IsNull() {
				r.Bytes = v.ByteArray()
			}
			if pathV != nil {
				if v := pathV[i]; v.DefinitionLevel() == h.pathDef && !v.IsNull() {
					r.Path = string(v.ByteArray())
				}
			}
			if labelV != nil {
				if v := labelV[i]; v.DefinitionLevel() == h.labelDef && !v.IsNull() {
					if h.labelIsI32 {
						r.Label = int64(v.Int32())
					} else {
						r.Label = v.Int64()
					}
				}
			}
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// readColumn reads one column chunk of row group g: exactly n values (one per row), their
// byte arrays copied out of the pages so the pages can be released.
func (h *File) readColumn(cc parquet.ColumnChunk, n, g int, col string) ([]parquet.Value, error) {
	where := func(err error) error {
		return fmt.Errorf("%s: row group %d, column %s: %w (truncated or corrupt file?)", h.Name, g, col, err)
	}
	pages := cc.Pages()
	defer pages.Close()
	out := make([]parquet.Value, 0, n)
	buf := make([]parquet.Value, 256)
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, where(err)
		}
		vr := p.Values()
		for {
			k, err := vr.ReadValues(buf)
			for _, v := range buf[:k] {
				out = append(out, v.Clone())
			}
			if len(out) > n {
				parquet.Release(p)
				return nil, where(fmt.Errorf("more than the %d values the row group announces", n))
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				parquet.Release(p)
				return nil, where(err)
			}
		}
		parquet.Release(p)
	}
	if len(out) != n {
		return nil, where(fmt.Errorf("%d values for %d rows", len(out), n))
	}
	return out, nil
}
