package datasets

import (
	"fmt"
	"os"
	"path/filepath"
)

// maxDirDepth bounds the walk, which follows symbolic links (as ImageFolder's os.walk does),
// so that a link cycle ends with an error instead of running forever.
const maxDirDepth = 32

// readDirFolder lists the directory, picks the class folders and decodes only their images.
func readDirFolder(root string, split Split, o *Options) (*Folder, error) {
	var rels []string
	if err := listImages(root, "", 0, &rels); err != nil {
		return nil, err
	}
	lay, err := resolveLayout(rels, split, root)
	if err != nil {
		return nil, err
	}
	var cands []candidate
	for _, r := range rels {
		if l := lay.label(r); l >= 0 {
			cands = append(cands, candidate{rel: r, name: filepath.Join(root, filepath.FromSlash(r)), label: l})
		}
	}
	decodeAll(cands, func(i int) job { return job{i: i, file: cands[i].name} }, o)
	return assemble(cands, lay, root, o)
}

// listImages appends the slash paths, relative to root, of the image files under root/rel.
func listImages(root, rel string, depth int, out *[]string) error {
	if depth > maxDirDepth {
		return fmt.Errorf("folder: %s: more than %d levels of folders (a symbolic link cycle?)", filepath.Join(root, rel), maxDirDepth)
	}
	dir := filepath.Join(root, filepath.FromSlash(rel))
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return fmt.Errorf("folder: %w", err)
	}
	for _, e := range entries {
		r := e.Name()
		if rel != "" {
			r = rel + "/" + r
		}
		mode := e.Type()
		if mode&os.ModeSymlink != 0 {
			st, err := os.Stat(filepath.Join(dir, e.Name()))
			if err != nil {
				continue // a dangling link is not data
			}
			mode = st.Mode().Type()
		}
		switch {
		case mode.IsDir() && e.Name()[0] != '.':
			if err := listImages(root, r, depth+1, out); err != nil {
				return err
			}
		case mode.IsRegular() && isImageName(r):
			*out = append(*out, r)
		}
	}
	return nil
}
