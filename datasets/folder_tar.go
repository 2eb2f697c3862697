package datasets

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
)

// maxMemberBytes refuses absurd archive members before reading them into memory.
const maxMemberBytes = 1 << 30

// readTarFolder streams a .tar or .tar.gz (gzip recognised by its magic, not its name),
// handing each image member to the decoders as it arrives, so that decompression, reading
// and decoding overlap. The layout is known only at the end, so every image member is
// decoded and those outside the chosen class folders are then dropped.
func readTarFolder(archive string, split Split, o *Options) (*Folder, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, fmt.Errorf("folder: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("folder: %s: %w", archive, err)
		}
		defer gz.Close()
		r = gz
	}
	tr := tar.NewReader(r)

	// The reader goroutine owns names, members and readErr until it closes in; the pool
	// closes out only after that, so reading them after draining out is ordered.
	var (
		names   []string // cleaned slash path per job index
		members []string // as stored, for messages
		readErr error
		left    = leftOut{}
	)
	in := make(chan job, 64)
	out := make(chan result, 64)
	decodePool(in, out, o.workers(), o)
	go func() {
		defer close(in)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				readErr = fmt.Errorf("folder: %s: reading archive after %d images: %w", archive, len(names), err)
				return
			}
			if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != '\x00' {
				continue
			}
			rel, ok := cleanMember(hdr.Name)
			if !ok || !isImageName(rel) {
				if ok {
					left.add(rel)
				}
				continue
			}
			i := len(names)
			names = append(names, rel)
			members = append(members, archive+":"+hdr.Name)
			if hdr.Size > maxMemberBytes {
				in <- job{i: i, err: fmt.Errorf("archive member of %d bytes is over the %d-byte limit", hdr.Size, maxMemberBytes)}
				continue
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				readErr = fmt.Errorf("folder: %s: reading %s: %w", archive, hdr.Name, err)
				return
			}
			in <- job{i: i, data: data}
		}
	}()
	var res []result
	for r := range out {
		for len(res) <= r.i {
			res = append(res, result{})
		}
		res[r.i] = r
	}
	if readErr != nil {
		return nil, readErr
	}
	left.note(o.Warn, archive)

	// A later member of the same name replaces an earlier one, as on extraction.
	last := map[string]int{}
	var rels []string
	for i, n := range names {
		if _, dup := last[n]; !dup {
			rels = append(rels, n)
		}
		last[n] = i
	}
	lay, err := resolveLayout(rels, split, archive)
	if err != nil {
		return nil, err
	}
	var cands []candidate
	for _, rel := range rels {
		l := lay.label(rel)
		if l < 0 {
			continue
		}
		i := last[rel]
		c := candidate{rel: rel, name: members[i], label: l}
		if i < len(res) {
			c.img, c.err = res[i].img, res[i].err
			if o.lazy {
				c.src = &res[i].src
			}
		}
		cands = append(cands, c)
	}
	return assemble(cands, lay, archive, o)
}

// cleanMember turns a member name into a relative slash path ("./train/x.jpg" → "train/x.jpg");
// names that climb out of the archive are refused.
func cleanMember(name string) (string, bool) {
	if slices.Contains(strings.Split(name, "/"), "..") {
		return "", false
	}
	p := strings.TrimPrefix(path.Clean("/"+name), "/")
	return p, p != ""
}
