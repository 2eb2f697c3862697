package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// imageExts are the formats the decoder reads; directories are searched for these.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true, ".webp": true}

// expandInputs turns arguments into image paths: files as given, directories walked for images
// in sorted order. A missing path is kept so that it gets its own error line.
func expandInputs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && imageExts[strings.ToLower(filepath.Ext(p))] {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no images (%s) in this directory", a, exts())
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

func exts() string {
	var e []string
	for k := range imageExts {
		e = append(e, k)
	}
	sort.Strings(e)
	return strings.Join(e, " ")
}
