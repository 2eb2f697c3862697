package datasets

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// imageExts are the extensions torchvision's ImageFolder accepts (IMG_EXTENSIONS), compared
// lower-cased: the same files make up each class as in PyTorch. PPM/PGM are not decodable
// here and so are reported as bad images rather than silently ignored.
var imageExts = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}

// isImageName reports whether a slash-separated relative path is an image file that belongs
// to the dataset: an image extension and no hidden component (".DS_Store", "._x.jpg",
// ".ipynb_checkpoints/" are litter, not data; torchvision would make the last a class).
func isImageName(rel string) bool {
	for _, part := range strings.Split(rel, "/") {
		if strings.HasPrefix(part, ".") {
			return false
		}
	}
	return slices.Contains(imageExts, strings.ToLower(path.Ext(rel)))
}

// leftOut counts, by lower-cased extension, the files of a folder source that are not taken
// as images (hidden ones are litter and not counted): a class folder's .gif or .jfif photos,
// which ImageFolder also leaves out, are then named in a note instead of vanishing from the
// count in silence.
type leftOut map[string]int

// add counts rel (a slash path) if it is neither an image nor hidden.
func (l leftOut) add(rel string) {
	for _, part := range strings.Split(rel, "/") {
		if strings.HasPrefix(part, ".") {
			return
		}
	}
	l[strings.ToLower(path.Ext(rel))]++
}

// note writes one line about the files left out to w (if any, and if w is not nil).
func (l leftOut) note(w io.Writer, src string) {
	if len(l) == 0 || w == nil {
		return
	}
	fmt.Fprintf(w, "note: folder:%s: %s left out, not of the types torchvision's ImageFolder takes (%s)\n",
		src, CountFiles(l), strings.Join(imageExts, " "))
}

// CountFiles says "3 files (.heic ×2, .txt)" for file counts by extension ("" is a file
// without one).
func CountFiles(byExt map[string]int) string {
	n, kinds := 0, make([]string, 0, len(byExt))
	for ext, c := range byExt {
		n += c
		if ext == "" {
			ext = "no extension"
		}
		if c > 1 {
			ext += fmt.Sprintf(" ×%d", c)
		}
		kinds = append(kinds, ext)
	}
	slices.Sort(kinds)
	noun := "files"
	if n == 1 {
		noun = "file"
	}
	return fmt.Sprintf("%d %s (%s)", n, noun, strings.Join(kinds, ", "))
}

// Folder names that mean a split rather than a class.
var (
	trainDirs = []string{"train", "training"}
	testDirs  = []string{"test", "testing", "val", "valid", "validation"}
)

// layout is where the classes are inside an image folder source.
type layout struct {
	root    string   // slash path of the folder holding the class folders, "" or ending in "/"
	classes []string // sorted class folder names
}

// resolveLayout finds the class folders among the image paths of a source (slash-separated,
// relative). Starting at the top it descends
//   - into the folder named after split when all top folders are split names (train/ and
//     test/ side by side),
//   - into a single top folder that holds only folders (an archive's train/ or test/),
//
// and then takes the folders there as the classes, in sorted order (ImageFolder's indices).
func resolveLayout(rels []string, split Split, src string) (layout, error) {
	if len(rels) == 0 {
		return layout{}, fmt.Errorf("folder: %s holds no image files (%s)", src, strings.Join(imageExts, " "))
	}
	prefix := ""
	for {
		tops, loose := foldersUnder(rels, prefix)
		if len(tops) == 0 {
			return layout{}, fmt.Errorf("folder: %s has no class folders (expected %s<class>/<image>, found only %d loose images)", src, where(src, prefix), loose)
		}
		if len(tops) >= 2 && allSplitNames(tops) {
			want := trainDirs
			if split == Test {
				want = testDirs
			}
			i := slices.IndexFunc(tops, func(t string) bool { return slices.Contains(want, t) })
			if i < 0 {
				return layout{}, fmt.Errorf("folder: %s has split folders %s but none for the %s split (%s)", src, strings.Join(tops, "/, ")+"/", split, strings.Join(want, "/, ")+"/")
			}
			prefix += tops[i] + "/"
			continue
		}
		if len(tops) == 1 && loose == 0 {
			sub, subLoose := foldersUnder(rels, prefix+tops[0]+"/")
			if len(sub) > 0 && subLoose == 0 {
				prefix += tops[0] + "/"
				continue
			}
		}
		return layout{root: prefix, classes: tops}, nil
	}
}

// foldersUnder returns the sorted folder names directly under prefix that hold images (at
// any depth) and the number of images directly in prefix.
func foldersUnder(rels []string, prefix string) (folders []string, loose int) {
	seen := map[string]bool{}
	for _, r := range rels {
		rest, ok := strings.CutPrefix(r, prefix)
		if !ok {
			continue
		}
		dir, _, nested := strings.Cut(rest, "/")
		if !nested {
			loose++
		} else if !seen[dir] {
			seen[dir] = true
			folders = append(folders, dir)
		}
	}
	slices.Sort(folders)
	return folders, loose
}

func allSplitNames(names []string) bool {
	for _, n := range names {
		if !slices.Contains(trainDirs, n) && !slices.Contains(testDirs, n) {
			return false
		}
	}
	return true
}

func where(src, prefix string) string {
	if strings.HasSuffix(src, "/") {
		return src + prefix
	}
	return src + "/" + prefix
}

// label returns the class index of a path under the layout, or -1 for a path outside the
// class folders.
func (l layout) label(rel string) int {
	rest, ok := strings.CutPrefix(rel, l.root)
	if !ok {
		return -1
	}
	dir, _, nested := strings.Cut(rest, "/")
	if !nested {
		return -1
	}
	i, found := slices.BinarySearch(l.classes, dir)
	if !found {
		return -1
	}
	return i
}
