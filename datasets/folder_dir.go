package datasets

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// maxDirDepth bounds the walk, which follows symbolic links (as ImageFolder's os.walk does),
// so that a link cycle ends with an error instead of running forever.
const maxDirDepth = 32

// readDirFolder lists the directory, picks the class folders and decodes only their images.
func readDirFolder(root string, split Split, o *Options) (*Folder, error) {
	rels, left, err := listImages(root)
	if err != nil {
		return nil, err
	}
	left.note(o.Warn, root)
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

// listImages returns the slash paths, relative to root, of the image files under root
// (hidden folders and files left out; links that point nowhere are not data), and the other
// files counted by extension.
func listImages(root string) ([]string, leftOut, error) {
	var rels []string
	left := leftOut{}
	err := WalkFiles(root, func(p string, typ fs.FileMode) error {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case typ.IsDir() && filepath.Base(p)[0] == '.':
			return fs.SkipDir
		case typ.IsRegular() && isImageName(rel):
			rels = append(rels, rel)
		case typ.IsRegular():
			left.add(rel)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("folder: %w", err)
	}
	return rels, left, nil
}

// WalkFiles calls fn for every entry under root (not root itself), each folder's entries in
// name order, a folder before what it holds. It follows symbolic links, to folders as to
// files, as torchvision's ImageFolder does (os.walk(followlinks=True)): a folder of links
// is a common way to make a subset of a dataset. typ is the entry's type with links
// resolved; a link that points nowhere keeps fs.ModeSymlink. fn returning fs.SkipDir for a
// folder skips its contents; another error ends the walk. More than maxDirDepth levels of
// folders (a link to a folder above it) is an error.
func WalkFiles(root string, fn func(path string, typ fs.FileMode) error) error {
	return walkFiles(root, 0, fn)
}

func walkFiles(dir string, depth int, fn func(path string, typ fs.FileMode) error) error {
	if depth > maxDirDepth {
		return fmt.Errorf("%s: more than %d levels of folders (a symbolic link cycle?)", dir, maxDirDepth)
	}
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		typ := e.Type()
		if typ&fs.ModeSymlink != 0 {
			if st, err := os.Stat(p); err == nil {
				typ = st.Mode().Type()
			}
		}
		err := fn(p, typ)
		if typ.IsDir() && err == nil {
			err = walkFiles(p, depth+1, fn)
		}
		if err != nil && err != fs.SkipDir {
			return err
		}
	}
	return nil
}
