package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/imageproc"
)

// --preprocess picks the processor's backend for every command that loads a
// model: classify's logits with torchvision equal the library's with
// Processor.Backend = Torchvision, differ from pil's (the default), and bad
// values are refused before any work.
func TestPreprocessFlag(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "cat", "a.png")
	if err := os.Mkdir(filepath.Dir(img), 0o755); err != nil {
		t.Fatal(err)
	}
	writePNG(t, img, 97, 61) // odd sizes, downscaled: the backends differ here

	logits := func(args ...string) []float32 {
		t.Helper()
		out, errOut, code := run(t, append([]string{"classify", "--model", tinyModel, "--json", "--logits", img}, args...)...)
		if code != 0 {
			t.Fatalf("classify %v: exit %d: %s", args, code, errOut)
		}
		var r classifyResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Logits) == 0 {
			t.Fatalf("classify %v: %v in %q", args, err, out)
		}
		return r.Logits
	}
	def, pil, tv := logits(), logits("--preprocess", "pil"), logits("--preprocess", "torchvision")

	want := map[imageproc.Backend][]float32{}
	for _, b := range []imageproc.Backend{imageproc.PIL, imageproc.Torchvision} {
		m, err := resnet.FromPretrained(context.Background(), tinyModel)
		if err != nil {
			t.Fatal(err)
		}
		m.Processor.Backend = b
		x, err := m.PreprocessFile(img)
		if err != nil {
			t.Fatal(err)
		}
		y, err := m.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		want[b] = y.Data
	}
	same := func(a, b []float32) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	if !same(def, want[imageproc.PIL]) || !same(pil, want[imageproc.PIL]) {
		t.Errorf("default/pil logits %v, %v; library (PIL) %v", def, pil, want[imageproc.PIL])
	}
	if !same(tv, want[imageproc.Torchvision]) {
		t.Errorf("--preprocess torchvision logits %v; library (Torchvision) %v", tv, want[imageproc.Torchvision])
	}
	if same(pil, tv) {
		t.Error("pil and torchvision gave the same logits on an image they preprocess differently")
	}

	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"classify", "--preprocess", "opencv", img}, `--preprocess: unknown preprocessing backend "opencv" (want pil or torchvision)`},
		{[]string{"embed", "--preprocess", "", img}, "unknown preprocessing backend"},
		{[]string{"classify", "--preprocess", "torchvision", "--resample", "box", img}, "--preprocess torchvision: image processor: resample box is not supported by the torchvision backend"},
		{[]string{"eval", "--preprocess", "TV", "--dataset", "folder:" + dir}, "unknown preprocessing backend"},
	} {
		_, errOut, code := run(t, append(c.args[:1:1], append([]string{"--model", tinyModel}, c.args[1:]...)...)...)
		if code == 0 || !strings.Contains(errOut, c.err) {
			t.Errorf("%v: exit %d, stderr %q; want a refusal containing %q", c.args, code, errOut, c.err)
		}
	}
}
