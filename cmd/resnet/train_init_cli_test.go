package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/weights"
)

// publicResNet20 is akamaster's CIFAR-10 ResNet-20: a legacy torch file with no config.json.
func publicResNet20(t *testing.T) string {
	return filepath.Join(shared(t), "data", "cifar10-resnets", "resnet20-12fca82f.th")
}

// --arch names the architecture of a config-less --init checkpoint (a bare .th or .pth file),
// so such a file can be fine-tuned; a checkpoint with its own config.json must agree with it.
func TestTrainInitWithArch(t *testing.T) {
	th := publicResNet20(t)
	data := imageFolder(t)
	withConfig := filepath.Join(t.TempDir(), "r8")
	if _, errOut, code := run(t, "train", "--arch", "cifar-resnet8", "--dataset", "folder:"+data, "--epochs", "1", "--batch", "16", "--out", withConfig, "-q"); code != 0 {
		t.Fatalf("train: %s", errOut)
	}
	cases := []struct {
		name string
		args []string
		ok   bool
		want []string // in stderr when refused
	}{
		{"config-less file with its architecture", []string{"--init", th, "--arch", "cifar-resnet20", "--freeze-backbone"}, true, nil},
		{"config-less file without --arch", []string{"--init", th}, false, []string{"--arch"}},
		{"config-less file with another architecture", []string{"--init", th, "--arch", "cifar-resnet56"}, false, []string{"is not a cifar-resnet56, as --arch says", "missing key(s)"}},
		{"directory with a config.json that --arch contradicts", []string{"--init", withConfig, "--arch", "cifar-resnet20"}, false,
			[]string{"--arch cifar-resnet20", withConfig, "config.json", "depths [1 1 1] there, [3 3 3] in --arch", "drop --arch"}},
		{"plain twin of the same shapes", []string{"--init", withConfig, "--arch", "cifar-plain8"}, false, []string{"--arch cifar-plain8", "plain"}},
		{"weights file beside a config.json that --arch contradicts", []string{"--init", filepath.Join(withConfig, "model.safetensors"), "--arch", "cifar-resnet20"}, false,
			[]string{"--arch cifar-resnet20", "config.json", "[3 3 3]"}},
		{"directory with a config.json that --arch repeats", []string{"--init", withConfig, "--arch", "cifar-resnet8"}, true, nil},
		{"weights file beside a config.json that --arch repeats", []string{"--init", filepath.Join(withConfig, "model.safetensors"), "--arch", "cifar-resnet8"}, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			args := append([]string{"train", "--dataset", "folder:" + data, "--epochs", "1", "--batch", "16", "--lr", "0.01", "--out", out, "-q"}, c.args...)
			_, errOut, code := run(t, args...)
			if c.ok {
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				return
			}
			if code == 0 {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not mention %q: %s", w, errOut)
				}
			}
			if strings.Contains(errOut, "not both") {
				t.Errorf("stderr: %s", errOut)
			}
		})
	}
}

// The fine-tuned model really starts from the config-less file: with the backbone frozen,
// its convolutions are the file's.
func TestTrainInitFromConfiglessFileKeepsItsWeights(t *testing.T) {
	th := publicResNet20(t)
	data := imageFolder(t)
	out := filepath.Join(t.TempDir(), "run")
	if _, errOut, code := run(t, "train", "--init", th, "--arch", "cifar-resnet20", "--freeze-backbone", "--dataset", "folder:"+data,
		"--epochs", "1", "--batch", "16", "--lr", "0.01", "--out", out, "-q"); code != 0 {
		t.Fatalf("train: %s", errOut)
	}
	raw, err := weights.ReadFile(th)
	if err != nil {
		t.Fatal(err)
	}
	src, err := weights.ToHF(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := weights.ReadSafetensors(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"resnet.embedder.embedder.convolution.weight", "resnet.encoder.stages.2.layers.2.layer.1.convolution.weight"} {
		if !slices.Equal(got[name].Data, src[name].Data) {
			t.Errorf("%s is not the --init file's", name)
		}
	}
	if s := got["classifier.1.weight"].Shape; s[0] != 4 {
		t.Errorf("head %v, want 4 classes", s)
	}
}
