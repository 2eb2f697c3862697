package datasets

import (
	"bytes"
	"os"
	"sort"
	"strconv"

	"sigs.k8s.io/yaml"
)

// cardClassNames is the fallback for Parquet files without `huggingface` metadata: the class
// names the dataset card (README.md YAML front matter) lists for column, at
// dataset_info.features[name == column].dtype.class_label.names, where dataset_info is one
// mapping or a list of them told apart by config_name. nil when the card has none.
func (s *HFSource) cardClassNames(column string) []string {
	if column == "" {
		return nil
	}
	p, err := s.client.DownloadDataset(s.ctx, s.Repo, s.Commit, "README.md")
	if err != nil && s.Revision != "main" {
		p, err = s.client.DownloadDataset(s.ctx, s.Repo, "main", "README.md")
	}
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	return readmeClassNames(b, s.Config, column)
}

// readmeClassNames parses the card; see cardClassNames.
func readmeClassNames(readme []byte, config, column string) []string {
	const fence = "---"
	readme = bytes.TrimLeft(readme, "\ufeff")
	if !bytes.HasPrefix(readme, []byte(fence)) {
		return nil
	}
	rest := readme[len(fence):]
	end := bytes.Index(rest, []byte("\n"+fence))
	if end < 0 {
		return nil
	}
	var card struct {
		DatasetInfo any `json:"dataset_info"`
	}
	if yaml.Unmarshal(rest[:end], &card) != nil {
		return nil
	}
	var infos []map[string]any
	switch v := card.DatasetInfo.(type) {
	case map[string]any:
		infos = append(infos, v)
	case []any:
		for _, x := range v {
			if m, ok := x.(map[string]any); ok {
				infos = append(infos, m)
			}
		}
	}
	for _, info := range infos {
		if name, _ := info["config_name"].(string); len(infos) > 1 && name != config {
			continue
		}
		feats, _ := info["features"].([]any)
		for _, f := range feats {
			fm, _ := f.(map[string]any)
			if n, _ := fm["name"].(string); n != column {
				continue
			}
			dtype, _ := fm["dtype"].(map[string]any)
			cl, _ := dtype["class_label"].(map[string]any)
			return namesOf(cl["names"])
		}
	}
	return nil
}

// namesOf reads {"0": "a", "1": "b"} (indices as keys, possibly with gaps refused) or a list.
func namesOf(v any) []string {
	switch n := v.(type) {
	case []any:
		out := make([]string, len(n))
		for i, x := range n {
			s, ok := x.(string)
			if !ok {
				return nil
			}
			out[i] = s
		}
		return out
	case map[string]any:
		idx := make([]int, 0, len(n))
		byIdx := map[int]string{}
		for k, x := range n {
			i, err := strconv.Atoi(k)
			s, ok := x.(string)
			if err != nil || !ok || i < 0 {
				return nil
			}
			idx = append(idx, i)
			byIdx[i] = s
		}
		sort.Ints(idx)
		out := make([]string, len(idx))
		for k, i := range idx {
			if i != k {
				return nil
			}
			out[k] = byIdx[i]
		}
		return out
	}
	return nil
}
