package hfparquet

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/resnet-go/resnet/internal/testenv"
)

// The committed fixtures are what the generator writes: running tools/fixtures/gen_parquet.mjs
// (npm hyparquet-writer 0.17.0, each file cross-read by hyparquet 1.31.5) gives the same bytes.
// Needs node and the two packages under $RESNET_NPM_PREFIX (as .ci/run installs them); skips
// without them unless RESNET_REQUIRE_CLIENTS is set.
func TestFixturesReproduce(t *testing.T) {
	prefix := os.Getenv("RESNET_NPM_PREFIX")
	node, err := exec.LookPath("node")
	if err != nil || prefix == "" || !fileExists(filepath.Join(prefix, "node_modules", "hyparquet-writer", "package.json")) ||
		!fileExists(filepath.Join(prefix, "node_modules", "hyparquet", "package.json")) {
		msg := "node and npm hyparquet-writer@0.17.0 + hyparquet@1.31.5 under $RESNET_NPM_PREFIX are needed"
		testenv.MissingTool(t, "%s", msg)
	}
	root := testenv.RepoRoot(t)
	testenv.SharedDir(t) // the PNGs the generator reads
	out := t.TempDir()
	cmd := exec.Command(node, "tools/fixtures/gen_parquet.mjs")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GEN_PARQUET_OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, b)
	}
	n := 0
	err = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		got, _ := os.ReadFile(p)
		want, err := os.ReadFile(filepath.Join(root, "datasets", "hfparquet", "testdata", rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: the generator's %d bytes differ from the committed file (%v); regenerate and commit", rel, len(got), err)
		}
		n++
		return nil
	})
	if err != nil || n != 6 {
		t.Errorf("%d files generated (%v), want 6", n, err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
