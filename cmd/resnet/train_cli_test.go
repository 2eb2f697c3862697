package main

import (
	"bufio"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// imageFolder writes a small class-per-folder dataset: the class is the bright quadrant.
func imageFolder(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for c, name := range []string{"a", "b", "c", "d"} {
		dir := filepath.Join(root, name)
		os.MkdirAll(dir, 0o755)
		for i := 0; i < 24; i++ {
			img := image.NewRGBA(image.Rect(0, 0, 8, 8))
			for y := 0; y < 8; y++ {
				for x := 0; x < 8; x++ {
					v := uint8((x*31 + y*17 + i*7) % 60)
					if (y/4)*2+x/4 == c {
						v = 220
					}
					img.Set(x, y, color.RGBA{v, v, v, 255})
				}
			}
			f, _ := os.Create(filepath.Join(dir, filepath.Base(name)+strings.Repeat("x", i%3)+string(rune('a'+i))+".png"))
			png.Encode(f, img)
			f.Close()
		}
	}
	return root
}

func TestTrainThenClassify(t *testing.T) {
	data := imageFolder(t)
	out := filepath.Join(t.TempDir(), "run")
	stdout, errOut, code := run(t, "train", "--arch", "cifar-resnet8", "--dataset", "folder:"+data, "--epochs", "2", "--batch", "16", "--lr", "0.05", "--out", out, "-q")
	if code != 0 {
		t.Fatalf("train: %s", errOut)
	}
	if strings.Count(stdout, "epoch ") < 2 || !strings.Contains(stdout, "done:") {
		t.Errorf("train output: %s", stdout)
	}
	for _, f := range []string{"config.json", "preprocessor_config.json", "model.safetensors", "metrics.jsonl", "training.png", "checkpoint.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	// The output directory is a model every other command accepts.
	img := filepath.Join(data, "a", "aa.png")
	if stdout, errOut, code = run(t, "classify", "--model", out, "--top-k", "1", img); code != 0 || !strings.Contains(stdout, "(") {
		t.Errorf("classify the trained model: %s %s", stdout, errOut)
	}
	if _, errOut, code = run(t, "info", "--model", out); code != 0 {
		t.Errorf("info: %s", errOut)
	}
	// A second run into the same directory must not overwrite it without --resume.
	if _, errOut, code = run(t, "train", "--arch", "cifar-resnet8", "--dataset", "folder:"+data, "--epochs", "2", "--batch", "16", "--out", out, "-q"); code == 0 || !strings.Contains(errOut, "--resume") {
		t.Errorf("second run into the same --out: exit %d, %s", code, errOut)
	}
	// --resume into an --out without a checkpoint (a run killed in its first epoch) starts the run.
	fresh := filepath.Join(t.TempDir(), "fresh")
	if stdout, errOut, code = run(t, "train", "--arch", "cifar-resnet8", "--dataset", "folder:"+data, "--epochs", "1", "--batch", "16", "--out", fresh, "-q", "--resume"); code != 0 || !strings.Contains(errOut, "starting the run from the beginning") || !strings.Contains(stdout, "epoch 1/1") {
		t.Errorf("--resume without a checkpoint: exit %d, %s %s", code, stdout, errOut)
	}
	if _, errOut, code = run(t, "train", "--arch", "cifar-resnet8", "--dataset", "folder:"+data, "--batch", "500", "--out", t.TempDir(), "-q"); code == 0 || !strings.Contains(errOut, "larger than") {
		t.Errorf("batch larger than the data: exit %d, %s", code, errOut)
	}
}

// Ctrl-C writes a checkpoint and exits 130; --resume then finishes the run.
func TestTrainInterruptAndResume(t *testing.T) {
	data := imageFolder(t)
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--arch", "cifar-resnet8", "--dataset", "folder:" + data, "--epochs", "40", "--batch", "8", "--out", out, "-q"}
	cmd := exec.Command(binary, args...)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "epoch 1/40") {
		t.Fatalf("no first epoch line: %q", lines.Text())
	}
	time.Sleep(50 * time.Millisecond) // somewhere inside epoch 2
	cmd.Process.Signal(syscall.SIGINT)
	go func() {
		for lines.Scan() {
		}
	}()
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("interrupted train: %v, want exit status 130", err)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint.safetensors")); err != nil {
		t.Fatal("no checkpoint after Ctrl-C")
	}
	stdout2, errOut, code := run(t, append(args, "--resume")...)
	if code != 0 || !strings.Contains(stdout2, "epoch 40/40") {
		t.Fatalf("resume: exit %d: %s %s", code, stdout2, errOut)
	}
	m, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if n := strings.Count(string(m), "\n"); n != 40 {
		t.Errorf("%d epochs in metrics.jsonl after resume, want 40", n)
	}
}

// train on a folder of photos of different sizes: refused without --size (the message says
// how), trained with it; a folder with train/ and test/ side by side reports test error, one
// without has no test split (not its training images under that name); --size changes on
// --resume are refused, and sizes no run can use before any data is read.
func TestTrainFolderSizesAndSplits(t *testing.T) {
	root := t.TempDir()
	for _, split := range []string{"train", "test"} {
		for c, class := range []string{"a", "b"} {
			dir := filepath.Join(root, split, class)
			os.MkdirAll(dir, 0o755)
			for i := range 6 {
				w, h := 8+i, 8+(i*3)%5 // sizes differ within every class
				img := image.NewRGBA(image.Rect(0, 0, w, h))
				for y := range h {
					for x := range w {
						v := uint8(40 + 160*c)
						img.Set(x, y, color.RGBA{v, uint8(x * 9), uint8(y * 9), 255})
					}
				}
				f, _ := os.Create(filepath.Join(dir, string(rune('a'+i))+".png"))
				png.Encode(f, img)
				f.Close()
			}
		}
	}
	args := func(extra ...string) []string {
		return append([]string{"train", "--arch", "cifar-resnet8", "--dataset", "folder:" + root, "--epochs", "1", "--batch", "4", "-q"}, extra...)
	}
	if _, errOut, code := run(t, args("--out", t.TempDir())...); code == 0 || !strings.Contains(errOut, "images differ in size") || !strings.Contains(errOut, "--size N resizes") {
		t.Errorf("mixed sizes without --size: exit %d, %s", code, errOut)
	}
	out := filepath.Join(t.TempDir(), "run")
	stdout, errOut, code := run(t, args("--size", "8", "--out", out)...)
	if code != 0 || !strings.Contains(stdout, "test error") || !strings.Contains(stdout, "done: "+out+" (train error") {
		t.Fatalf("--size 8: exit %d, %s %s", code, stdout, errOut)
	}
	if _, errOut, code = run(t, args("--size", "10", "--out", out, "--resume")...); code == 0 || !strings.Contains(errOut, "image size (--size) 8x8 (now 10x10)") {
		t.Errorf("--resume at another --size: exit %d, %s", code, errOut)
	}
	for _, bad := range []struct{ size, want string }{{"0", "--size"}, {"-3", "--size"}, {"20000", "more pixels than --max-pixels"}} {
		if _, errOut, code = run(t, args("--size", bad.size, "--out", t.TempDir())...); code == 0 || !strings.Contains(errOut, bad.want) {
			t.Errorf("--size %s: exit %d, %s", bad.size, code, errOut)
		}
	}
	// One folder of classes: both splits would read the same images.
	stdout, errOut, code = run(t, "train", "--arch", "cifar-resnet8", "--dataset", "folder:"+filepath.Join(root, "train"), "--epochs", "1", "--batch", "4", "--size", "8", "--out", t.TempDir(), "-q")
	if code != 0 || !strings.Contains(errOut, "has no test split of its own") || strings.Contains(stdout, "test error") || !strings.Contains(stdout, "no test split") {
		t.Errorf("a folder without split folders: exit %d, %s %s", code, stdout, errOut)
	}
}
