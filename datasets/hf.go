package datasets

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/resnet-go/resnet/datasets/hfparquet"
	"github.com/resnet-go/resnet/hub"
)

// HFRef names a split of a Hugging Face hub dataset: hf:ORG/NAME[:CONFIG][@REV][/SPLIT].
// Empty fields take defaults when resolved (see ResolveHF).
type HFRef struct {
	Repo, Config, Revision, Split string
}

// ParseHFRef reads ORG/NAME[:CONFIG][@REV][/SPLIT] (without the "hf:" prefix). A revision
// starting with "refs/" has three parts (refs/convert/parquet, refs/pr/1); any other is one
// path element (a branch, tag or commit without "/").
func ParseHFRef(s string) (HFRef, error) {
	bad := func(why string) (HFRef, error) {
		return HFRef{}, fmt.Errorf("dataset hf:%s: %s; want hf:ORG/NAME[:CONFIG][@REV][/SPLIT], e.g. hf:uoft-cs/cifar10:plain_text@main/test", s, why)
	}
	org, rest, ok := strings.Cut(s, "/")
	if !ok || org == "" {
		return bad("no ORG/NAME")
	}
	end := strings.IndexAny(rest, ":@/")
	if end < 0 {
		end = len(rest)
	}
	r := HFRef{Repo: org + "/" + rest[:end]}
	rest = rest[end:]
	if strings.HasPrefix(rest, ":") {
		end := strings.IndexAny(rest[1:], "@/")
		if end < 0 {
			end = len(rest) - 1
		}
		r.Config, rest = rest[1:1+end], rest[1+end:]
		if r.Config == "" {
			return bad("empty CONFIG")
		}
	}
	if strings.HasPrefix(rest, "@") {
		parts := strings.Split(rest[1:], "/")
		n := 1
		if parts[0] == "refs" {
			n = 3
		}
		if len(parts) < n || slices.Contains(parts[:n], "") {
			return bad("incomplete REV")
		}
		r.Revision, rest = strings.Join(parts[:n], "/"), ""
		if len(parts) > n {
			rest = "/" + strings.Join(parts[n:], "/")
		}
	}
	if strings.HasPrefix(rest, "/") {
		r.Split, rest = rest[1:], ""
		if r.Split == "" || strings.Contains(r.Split, "/") {
			return bad("SPLIT must be one name")
		}
	}
	if rest != "" || r.Repo == org+"/" {
		return bad("unexpected " + rest)
	}
	if !hub.ValidRepoID(r.Repo) {
		return bad("invalid repo id " + r.Repo)
	}
	return r, nil
}

func (r HFRef) String() string {
	s := r.Repo
	if r.Config != "" {
		s += ":" + r.Config
	}
	if r.Revision != "" {
		s += "@" + r.Revision
	}
	if r.Split != "" {
		s += "/" + r.Split
	}
	return s
}

// HFSource is a resolved split: which commit, config and split were chosen and the local
// (cached) paths of its Parquet shards, in shard order.
type HFSource struct {
	Ref            HFRef
	Repo, Commit   string // canonical id and the commit read
	Revision       string // "main", refs/convert/parquet, or the revision asked for
	Config, Split  string
	RepoFiles      []string // shard paths in the repo
	Files          []string // the same shards in the local hub cache
	Offline        bool     // resolved from the cache only
	LabelColumn    string   // the label column Rows used ("" when none)
	client         *hub.Client
	ctx            context.Context
	repoFilesAtRev []string
}

// ResolveHF finds the Parquet shards of ref and downloads them into the hub cache
// (HF_HOME/HF_HUB_CACHE, token and HF_HUB_OFFLINE as huggingface_hub). Without a revision it
// looks on main first and then on the dataset viewer's refs/convert/parquet branch (repos
// whose own files are not Parquet, such as loading-script repos). Config: the one asked for,
// else "default", else the only one. Split: the one asked for, else for role Train "train",
// for role Test the first of test, validation, valid, val present (a test split is never
// silently replaced by the training data).
func ResolveHF(ctx context.Context, c *hub.Client, ref HFRef, role Split) (*HFSource, error) {
	if c == nil {
		c = hub.NewFromEnv()
	}
	revs := []string{ref.Revision}
	if ref.Revision == "" {
		revs = []string{"main", hub.ParquetRevision}
	}
	var (
		snap   *hub.DatasetSnapshot
		groups map[string]map[string][]string
		tried  []string
	)
	for _, rev := range revs {
		s, err := c.DatasetFiles(ctx, ref.Repo, rev)
		if err != nil {
			if len(revs) > 1 && rev == "main" && errors.Is(err, hub.ErrOffline) {
				// Offline, main may never have been listed while the export was.
				tried = append(tried, fmt.Sprintf("%s: not in the cache", rev))
				continue
			}
			if rev == hub.ParquetRevision && len(tried) > 0 {
				tried = append(tried, fmt.Sprintf("%s: %v", rev, err))
				break
			}
			return nil, fmt.Errorf("dataset hf:%s: %w", ref, err)
		}
		snap, groups = s, parquetGroups(s.Files)
		if len(groups) > 0 {
			break
		}
		tried = append(tried, fmt.Sprintf("%s (commit %s): %d files, none of them Parquet", rev, s.Commit, len(s.Files)))
	}
	if len(groups) == 0 {
		hint := ""
		if snap != nil && snap.Offline {
			hint = "; offline (HF_HUB_OFFLINE), only files already in the cache are seen"
		}
		return nil, fmt.Errorf("dataset hf:%s: no Parquet files found (%s)%s", ref, strings.Join(tried, "; "), hint)
	}
	src := &HFSource{Ref: ref, Repo: snap.ID, Commit: snap.Commit, Revision: snap.Revision, Offline: snap.Offline, client: c, ctx: ctx, repoFilesAtRev: snap.Files}
	var err error
	if src.Config, err = pickConfig(ref, groups); err != nil {
		return nil, err
	}
	splits := groups[src.Config]
	if src.Split, err = pickSplit(ref, splits, role); err != nil {
		return nil, err
	}
	src.RepoFiles = splits[src.Split]
	for _, f := range src.RepoFiles {
		p, err := c.DownloadDataset(ctx, src.Repo, src.Commit, f)
		if err != nil {
			return nil, fmt.Errorf("dataset hf:%s: %w", ref, err)
		}
		src.Files = append(src.Files, p)
	}
	return src, nil
}

func (s *HFSource) String() string {
	return fmt.Sprintf("hf:%s:%s@%s/%s", s.Repo, s.Config, s.Revision, s.Split)
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

func pickConfig(ref HFRef, groups map[string]map[string][]string) (string, error) {
	names := sortedKeys(groups)
	switch {
	case ref.Config != "":
		if _, ok := groups[ref.Config]; !ok {
			return "", fmt.Errorf("dataset hf:%s: no config %q (configs: %s)", ref, ref.Config, strings.Join(names, ", "))
		}
		return ref.Config, nil
	case len(names) == 1:
		return names[0], nil
	}
	if _, ok := groups["default"]; ok {
		return "default", nil
	}
	return "", fmt.Errorf("dataset hf:%s: several configs (%s); name one as hf:%s:CONFIG", ref, strings.Join(names, ", "), ref.Repo)
}

func pickSplit(ref HFRef, splits map[string][]string, role Split) (string, error) {
	names := sortedKeys(splits)
	if ref.Split != "" {
		if _, ok := splits[ref.Split]; !ok {
			return "", fmt.Errorf("dataset hf:%s: no split %q (splits: %s)", ref, ref.Split, strings.Join(names, ", "))
		}
		return ref.Split, nil
	}
	want := []string{"test", "validation", "valid", "val"}
	if role == Train {
		want = []string{"train"}
	}
	for _, w := range want {
		if _, ok := splits[w]; ok {
			return w, nil
		}
	}
	return "", fmt.Errorf("dataset hf:%s: no %s split (splits: %s); name one as hf:%s/SPLIT", ref, role, strings.Join(names, ", "), ref.Repo)
}

// parquetGroups sorts a repo's Parquet files into config -> split -> shards (sorted, which is
// shard order for both 0000.parquet and test-00000-of-00002.parquet names). Layouts:
//
//	CONFIG/SPLIT/NNNN.parquet           the refs/convert/parquet export (partial-SPLIT too)
//	CONFIG/SPLIT-*.parquet              datasets' push_to_hub (data/ means config "default")
//	SPLIT-*.parquet, data/SPLIT/*.parquet
func parquetGroups(files []string) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, f := range files {
		if !strings.HasSuffix(f, ".parquet") {
			continue
		}
		parts := strings.Split(f, "/")
		config, split := "default", ""
		base := parts[len(parts)-1]
		switch len(parts) {
		case 1:
			split = splitPrefix(base)
		case 2:
			if parts[0] != "data" {
				config = parts[0]
			}
			split = splitPrefix(base)
		case 3:
			if parts[0] != "data" {
				config = parts[0]
			}
			split = strings.TrimPrefix(parts[1], "partial-")
		default:
			continue
		}
		if split == "" {
			continue
		}
		if out[config] == nil {
			out[config] = map[string][]string{}
		}
		out[config][split] = append(out[config][split], f)
	}
	for _, splits := range out {
		for _, fs := range splits {
			slices.Sort(fs)
		}
	}
	return out
}

// splitPrefix is the split named by a file name: "test" of test-00000-of-00001.parquet,
// test.parquet or test_0.parquet.
func splitPrefix(base string) string {
	base = strings.TrimSuffix(base, ".parquet")
	if i := strings.IndexAny(base, "-_."); i >= 0 {
		base = base[:i]
	}
	return base
}

// HFRow is one example as read from a shard: encoded image bytes, or a file in the cache
// holding them (an Image stored by path), and the label (-1 when the row has none).
type HFRow struct {
	Index int    // position in the split
	Name  string // shard path in the repo and the row's index in the split, for messages
	Data  []byte
	File  string
	Label int
}

// Rows reads the split's shards in order, one row group at a time, and hands fn each row
// group's rows. Images stored by path (bytes null) are fetched from the repo at the same
// commit, relative to the repo root. It returns the ClassLabel names, which must agree
// across shards (nil when the files carry no huggingface metadata).
func (s *HFSource) Rows(cols hfparquet.Columns, fn func([]HFRow) error) ([]string, error) {
	var classes []string
	index := 0
	for k, file := range s.Files {
		f, err := hfparquet.Open(file, cols)
		if err != nil {
			return nil, fmt.Errorf("dataset %s: shard %s: %w", s, s.RepoFiles[k], err)
		}
		if k == 0 {
			classes, s.LabelColumn = f.Classes, f.LabelColumn
		} else if !slices.Equal(classes, f.Classes) {
			f.Close()
			return nil, fmt.Errorf("dataset %s: shard %s has classes %v, shard %s has %v", s, s.RepoFiles[k], f.Classes, s.RepoFiles[0], classes)
		}
		var batch []HFRow
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := fn(batch)
			batch = nil
			return err
		}
		err = f.Rows(func(r hfparquet.Row) error {
			row := HFRow{Index: index, Name: fmt.Sprintf("%s:%d", s.RepoFiles[k], index), Data: r.Bytes, Label: int(r.Label)}
			index++
			if row.Data == nil {
				if r.Path == "" {
					return fmt.Errorf("%s: image %q has neither bytes nor path", row.Name, f.ImageColumn)
				}
				p, err := s.imageFile(r.Path)
				if err != nil {
					return fmt.Errorf("%s: image stored by path %q: %w", row.Name, r.Path, err)
				}
				row.File = p
			}
			batch = append(batch, row)
			if len(batch) == 256 {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", s, err)
		}
	}
	return classes, nil
}

// imageFile fetches a repo-relative image path (at the commit read) into the cache.
func (s *HFSource) imageFile(p string) (string, error) {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	return s.client.DownloadDataset(s.ctx, s.Repo, s.Commit, p)
}
