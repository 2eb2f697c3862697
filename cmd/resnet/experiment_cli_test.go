package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every --depths value is checked before anything is trained: a bad one used to fail only
// when its turn came, after the networks before it had trained for minutes.
func TestDegradationChecksDepthsFirst(t *testing.T) {
	data := imageFolder(t)
	rule := "6n+2 with n ≥ 1 blocks per stage: 8, 14, 20, 26, 32, 44, 56, 110, …"
	cases := []struct {
		depths string
		want   []string
	}{
		{"20,21", []string{"--depths 21:", "not a CIFAR depth", rule}},
		{"21,20", []string{"--depths 21:", rule}},
		{"20,21,33", []string{"--depths 21, 33:", "not CIFAR depths", rule}},
		{"2,20", []string{"--depths 2:", rule}},
		{"-4,20", []string{"--depths -4:", rule}},
		{"20,20", []string{"--depths: 20 is given twice"}},
		{"20", []string{"at least two depths"}},
	}
	for _, c := range cases {
		t.Run(c.depths, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "deg")
			_, errOut, code := run(t, "experiment", "degradation", "--dataset", "folder:"+data, "--depths", c.depths,
				"--epochs", "1", "--batch", "16", "--out", out, "-q")
			if code == 0 {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not mention %q: %s", w, errOut)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was created: something ran before the depths were checked", out)
			}
		})
	}
}

func TestCheckDepthsSorts(t *testing.T) {
	cases := []struct {
		in, want []int
	}{
		{[]int{56, 20}, []int{20, 56}},
		{[]int{8, 110, 14}, []int{8, 14, 110}},
		{[]int{20, 32}, []int{20, 32}},
	}
	for _, c := range cases {
		got, err := checkDepths(c.in)
		if err != nil || len(got) != len(c.want) {
			t.Fatalf("%v: %v %v", c.in, got, err)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%v: got %v, want %v", c.in, got, c.want)
				break
			}
		}
	}
}

// A dataset without a test split has no test error: the table says "none" and results.json
// leaves test_error out (both used to report 0.00%, and the figure a test curve at 0%); with
// train/ and test/ side by side, every network has one.
func TestDegradationTestErrorOnlyWithATestSplit(t *testing.T) {
	one := imageFolder(t) // class folders alone
	split := t.TempDir()
	for _, s := range []string{"train", "test"} {
		if err := os.CopyFS(filepath.Join(split, s), os.DirFS(one)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		data     string
		withTest bool
	}{{one, false}, {split, true}} {
		out := filepath.Join(t.TempDir(), "deg")
		stdout, errOut, code := run(t, "experiment", "degradation", "--dataset", "folder:"+c.data, "--depths", "8,14",
			"--epochs", "1", "--batch", "32", "--out", out, "-q")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.data, code, errOut)
		}
		var rows []map[string]any
		b, err := os.ReadFile(filepath.Join(out, "results.json"))
		if err == nil {
			err = json.Unmarshal(b, &rows)
		}
		if err != nil || len(rows) != 4 {
			t.Fatalf("results.json: %v, %d rows", err, len(rows))
		}
		for _, r := range rows {
			if _, has := r["test_error"]; has != c.withTest {
				t.Errorf("test split %v: results.json row %v", c.withTest, r)
			}
		}
		if none := strings.Count(stdout, " none "); (none == 4) == c.withTest || (none == 0) != c.withTest {
			t.Errorf("test split %v: %d rows of the table say none:\n%s", c.withTest, none, stdout)
		}
	}
}
