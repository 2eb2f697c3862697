package arch

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestProblemType: problem_type is read, kept through a save and decides the scoring
// function as transformers' pipeline does; values transformers refuses are refused.
func TestProblemType(t *testing.T) {
	for _, c := range []struct {
		json    string
		sigmoid bool
		errHas  string
	}{
		{`{"num_labels": 3}`, false, ""},
		{`{"num_labels": 3, "problem_type": "single_label_classification"}`, false, ""},
		{`{"num_labels": 3, "problem_type": "multi_label_classification"}`, true, ""},
		{`{"num_labels": 1}`, true, ""}, // a single logit: its sigmoid
		{`{"num_labels": 3, "problem_type": "regression"}`, false, ""},
		{`{"num_labels": 3, "problem_type": "multilabel"}`, false, `problem_type "multilabel" is not`},
	} {
		cfg, err := ParseConfig([]byte(c.json))
		if c.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("%s: error %v, want %q", c.json, err, c.errHas)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		if cfg.Sigmoid() != c.sigmoid {
			t.Errorf("%s: Sigmoid() = %v", c.json, cfg.Sigmoid())
		}
		out, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseConfig(out)
		if err != nil || again.ProblemType != cfg.ProblemType {
			t.Errorf("%s: saved and read back, problem_type %q (%v)", c.json, again.ProblemType, err)
		}
	}
}

// TestDiff: Diff names what differs in the network and nothing of the head.
func TestDiff(t *testing.T) {
	a, _ := Preset("resnet-50")
	b, _ := Preset("resnet-50-v1")
	c, _ := Preset("resnet-50")
	c.SetLabels([]string{"x", "y"})
	c.ProblemType = MultiLabelClassification
	if d := Diff(a, c, "here", "there"); len(d) != 0 {
		t.Errorf("labels and problem_type counted as differences: %v", d)
	}
	if d := Diff(a, b, "here", "there"); len(d) != 1 || d[0] != "downsample_in_bottleneck false here, true there" {
		t.Errorf("v1.5 against v1: %v", d)
	}
}

// TestID2LabelKeys: keys must be the class indices 0..n-1.
func TestID2LabelKeys(t *testing.T) {
	for _, c := range []struct{ json, errHas string }{
		{`{"id2label": {"0": "a", "1": "b"}}`, ""},
		{`{"id2label": {"1": "a", "2": "b"}}`, "id2label key 2 is out of range for 2 labels (keys run from 0 to 1)"},
		{`{"id2label": {"0": "a", "x": "b"}}`, `id2label key "x" is not a class index`},
	} {
		_, err := ParseConfig([]byte(c.json))
		if (c.errHas == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.errHas) {
			t.Errorf("%s: error %v, want %q", c.json, err, c.errHas)
		}
	}
}
