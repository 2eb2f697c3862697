package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseShard(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == jobIndexEnv {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		flag, env string
		want      shard
	}{
		{"", "", shard{}},
		{"0/1", "", shard{0, 1}},
		{"3/8", "", shard{3, 8}},
		{"auto/8", "7", shard{7, 8}},
		{"auto/1", "0", shard{0, 1}},
	} {
		got, err := parseShard(c.flag, env(c.env))
		if err != nil || got != c.want {
			t.Errorf("%q (env %q): %v %v, want %v", c.flag, c.env, got, err, c.want)
		}
	}
	for _, c := range []struct{ flag, env, want string }{
		{"3/3", "", "from 0 to 2"},
		{"-1/4", "", "from 0 to 3"},
		{"1/0", "", "N ≥ 1"},
		{"1/-2", "", "N ≥ 1"},
		{"3", "", "want I/N"},
		{"a/b", "", "want I/N"},
		{"x/4", "", "from 0 to 3"},
		{"1/2/3", "", "want I/N"},
		{"auto/4", "", "JOB_COMPLETION_INDEX is not set"},
		{"auto/4", "4", `$JOB_COMPLETION_INDEX="4"`},
		{"auto/4", "one", "from 0 to 3"},
		{"auto/0", "0", "N ≥ 1"},
	} {
		_, err := parseShard(c.flag, env(c.env))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q (env %q): %v, want an error with %q", c.flag, c.env, err, c.want)
		}
	}
}

// TestShardPartition: for any N, the N shards of a listing are disjoint and their union is
// every input once, whatever the argument order and duplicates.
func TestShardPartition(t *testing.T) {
	inputs := []string{"z.jpg", "b/2.png", "a.jpg", "./a.jpg", "b/10.png", "b/1.png", "c.webp", "z.jpg", "d/x.jpg", "e.bmp", "f.gif"}
	unique := []string{"a.jpg", "b/1.png", "b/10.png", "b/2.png", "c.webp", "d/x.jpg", "e.bmp", "f.gif", "z.jpg"}
	for n := 1; n <= 12; n++ {
		seen := map[string]int{}
		for i := range n {
			reversed := slices.Clone(inputs)
			if i%2 == 1 {
				slices.Reverse(reversed) // another pod may list its arguments in another order
			}
			part := shard{i, n}.apply(reversed)
			if want := (len(unique) - i + n - 1) / n; len(part) != want {
				t.Errorf("%d/%d: %d inputs, want %d", i, n, len(part), want)
			}
			for _, p := range part {
				seen[p]++
			}
		}
		for _, p := range unique {
			if seen[p] != 1 {
				t.Errorf("N=%d: %s in %d shards", n, p, seen[p])
			}
		}
		if len(seen) != len(unique) {
			t.Errorf("N=%d: shards hold %d inputs, want %d", n, len(seen), len(unique))
		}
	}
	if got := (shard{}).apply(inputs); !slices.Equal(got, inputs) {
		t.Errorf("no shard changed the inputs: %v", got)
	}
}

func TestShardOutputName(t *testing.T) {
	for _, c := range []struct {
		s          shard
		path, want string
	}{
		{shard{}, "out/emb.npy", "out/emb.npy"},
		{shard{3, 8}, "out/emb.npy", "out/emb-00003-of-00008.npy"},
		{shard{0, 1}, "top.jsonl", "top-00000-of-00001.jsonl"},
		{shard{12, 200000}, "r.v1/top", "r.v1/top-000012-of-200000"},
	} {
		if got := c.s.outputName(c.path); got != c.want {
			t.Errorf("%v %s: %s, want %s", c.s, c.path, got, c.want)
		}
	}
	if got := pathsFileFor(shard{3, 8}.outputName("emb.npy")); got != "emb-00003-of-00008.paths.txt" {
		t.Errorf("paths file %s", got)
	}
}

// runEnv runs the binary with extra environment variables.
func runEnv(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// TestShardCLI: `classify --shard I/N --output` and `embed --shard auto/N` (I from
// JOB_COMPLETION_INDEX, as in an Indexed Job) write one file per shard; together the shards
// hold every image once, with the results of an unsharded run; a shard left without inputs
// still writes its (empty) files; bad values are refused before any work.
func TestShardCLI(t *testing.T) {
	dir := t.TempDir()
	imgs := filepath.Join(dir, "imgs")
	if err := os.MkdirAll(filepath.Join(imgs, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	var all []string
	for i := range 7 {
		p := filepath.Join(imgs, fmt.Sprintf("im%d.png", i))
		if i >= 5 {
			p = filepath.Join(imgs, "sub", fmt.Sprintf("s%d.png", i))
		}
		writePNG(t, p, 20+i, 24)
		all = append(all, p)
	}
	slices.Sort(all)
	extra := filepath.Join(dir, "extra.png")
	writePNG(t, extra, 30, 30)
	all = append(all, extra)
	slices.Sort(all)

	// --batch 1: each image's logits do not depend on the others in its batch, so sharded and
	// unsharded lines compare exactly.
	stdout, stderr, code := run(t, "classify", "--model", tinyModel, "--json", "--logits", "--batch", "1", extra, imgs)
	if code != 0 {
		t.Fatalf("unsharded classify: %s", stderr)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var r classifyResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		want[r.Image] = line
	}

	const n = 3
	out := filepath.Join(dir, "out", "top.jsonl")
	os.MkdirAll(filepath.Dir(out), 0o755)
	got := map[string]int{}
	for i := range n {
		_, stderr, code := run(t, "classify", "--model", tinyModel, "--json", "--logits", "--batch", "1", "--shard", fmt.Sprintf("%d/%d", i, n), "--output", out, imgs, extra)
		if code != 0 {
			t.Fatalf("shard %d: %s", i, stderr)
		}
		b, err := os.ReadFile(filepath.Join(dir, "out", fmt.Sprintf("top-%05d-of-%05d.jsonl", i, n)))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var r classifyResult
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("shard %d: %q: %v", i, line, err)
			}
			got[r.Image]++
			if want[r.Image] != line {
				t.Errorf("shard %d: %s\n got %s\nwant %s", i, r.Image, line, want[r.Image])
			}
		}
	}
	if len(got) != len(all) {
		t.Errorf("classify shards hold %d images, want %d: %v", len(got), len(all), got)
	}
	for _, p := range all {
		if got[p] != 1 {
			t.Errorf("classify: %s in %d shards", p, got[p])
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s written without the shard suffix", out)
	}

	// embed with auto/N, one more shard than images: the last shard is empty.
	const m = 9
	emb := filepath.Join(dir, "emb", "e.npy")
	os.MkdirAll(filepath.Dir(emb), 0o755)
	rows := map[string]int{}
	for i := range m {
		_, stderr, code := runEnv(t, []string{jobIndexEnv + "=" + fmt.Sprint(i)}, "embed", "--model", tinyModel, "--shard", fmt.Sprintf("auto/%d", m), "--output", emb, extra, imgs)
		if code != 0 {
			t.Fatalf("embed shard %d: %s", i, stderr)
		}
		base := filepath.Join(dir, "emb", fmt.Sprintf("e-%05d-of-%05d", i, m))
		b, err := os.ReadFile(base + ".npy")
		if err != nil {
			t.Fatal(err)
		}
		paths, err := os.ReadFile(base + ".paths.txt")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Fields(string(paths))
		shape := fmt.Sprintf("(%d, 16)", len(lines))
		if !bytes.Contains(b[:min(len(b), 128)], []byte(shape)) {
			t.Errorf("shard %d: header %q, want shape %s", i, b[:min(len(b), 128)], shape)
		}
		if i == m-1 && len(lines) != 0 {
			t.Errorf("shard %d of %d images: %v", i, len(all), lines)
		}
		for _, p := range lines {
			rows[p]++
		}
	}
	for _, p := range all {
		if rows[p] != 1 {
			t.Errorf("embed: %s in %d shards", p, rows[p])
		}
	}
	if len(rows) != len(all) {
		t.Errorf("embed shards hold %d images, want %d", len(rows), len(all))
	}

	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"classify", "--shard", "3/3", extra}, "--shard 3/3: the index must be an integer from 0 to 2"},
		{nil, []string{"embed", "--shard", "0/0", extra}, "N ≥ 1"},
		{[]string{jobIndexEnv + "="}, []string{"classify", "--shard", "auto/2", extra}, "JOB_COMPLETION_INDEX is not set"},
		{[]string{jobIndexEnv + "=5"}, []string{"embed", "--shard", "auto/2", extra}, `$JOB_COMPLETION_INDEX="5"`},
	} {
		_, stderr, code := runEnv(t, c.env, c.args...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}
