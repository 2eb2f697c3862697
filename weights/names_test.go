package weights

import (
	"fmt"
	"sort"
	"testing"
)

func TestNameMapTable(t *testing.T) {
	const st = "resnet.encoder.stages."
	cases := []struct {
		fam    Family
		native string
		hf     string
	}{
		{Torchvision, "conv1.weight", "resnet.embedder.embedder.convolution.weight"},
		{Torchvision, "bn1.running_var", "resnet.embedder.embedder.normalization.running_var"},
		{Torchvision, "bn1.num_batches_tracked", "resnet.embedder.embedder.normalization.num_batches_tracked"},
		{Torchvision, "layer1.0.conv1.weight", st + "0.layers.0.layer.0.convolution.weight"},
		{Torchvision, "layer4.2.bn3.num_batches_tracked", st + "3.layers.2.layer.2.normalization.num_batches_tracked"},
		{Torchvision, "layer2.0.downsample.0.weight", st + "1.layers.0.shortcut.convolution.weight"},
		{Torchvision, "layer2.0.downsample.1.bias", st + "1.layers.0.shortcut.normalization.bias"},
		{Torchvision, "layer10.12.conv2.weight", st + "9.layers.12.layer.1.convolution.weight"},
		{Torchvision, "fc.weight", "classifier.1.weight"},
		{CIFAR, "conv1.weight", "resnet.embedder.embedder.convolution.weight"},
		{CIFAR, "layer3.8.bn2.weight", st + "2.layers.8.layer.1.normalization.weight"},
		{CIFAR, "layer3.0.shortcut.0.weight", st + "2.layers.0.shortcut.convolution.weight"},
		{CIFAR, "layer3.0.shortcut.1.running_mean", st + "2.layers.0.shortcut.normalization.running_mean"},
		{CIFAR, "linear.bias", "classifier.1.bias"},
	}
	for _, c := range cases {
		if got, ok := toHFName(c.native, c.fam); !ok || got != c.hf {
			t.Errorf("toHFName(%q, %v) = %q %v, want %q", c.native, c.fam, got, ok, c.hf)
		}
		if got, ok := fromHFName(c.hf, c.fam); !ok || got != c.native {
			t.Errorf("fromHFName(%q, %v) = %q %v, want %q", c.hf, c.fam, got, ok, c.native)
		}
	}
	for _, name := range []string{"layer0.0.conv1.weight", "layer01.0.conv1.weight", "layer1.00.conv1.weight", "maxpool.x", "fc",
		"conv1.", "layer1.0.conv0.weight", "layer1.0.downsample.2.weight", "layer1.0.shortcut.0.weight", "linear.weight",
		"layer1.0.conv1", "layerx.0.conv1.weight", "layer1.0.relu.weight", "layer+1.0.conv1.weight"} {
		if got, ok := toHFName(name, Torchvision); ok {
			t.Errorf("toHFName(%q) = %q, want no match", name, got)
		}
	}
	for _, name := range []string{st + "x.layers.0.layer.0.convolution.weight", st + "0.layer.0.layer.0.convolution.weight",
		st + "0.layers.0.layer.0.act.weight", st + "0.layers.0.shortcut.convolution.", "classifier.0.weight", "resnet.pooler.x"} {
		if got, ok := fromHFName(name, Torchvision); ok {
			t.Errorf("fromHFName(%q) = %q, want no match", name, got)
		}
	}
}

func sdOf(names ...string) StateDict {
	sd := StateDict{}
	for _, n := range names {
		sd[n] = &Tensor{DType: "F32", Shape: []int{1}, Data: []float32{0}}
	}
	return sd
}

func TestDetectFamily(t *testing.T) {
	conv := func(k int) StateDict {
		return StateDict{"conv1.weight": {Shape: []int{16, 3, k, k}, Data: make([]float32, 48*k*k)}, "layer1.0.conv1.weight": {}}
	}
	cases := []struct {
		name string
		sd   StateDict
		want Family
	}{
		{"HF", sdOf("resnet.embedder.embedder.convolution.weight", "classifier.1.weight"), HF},
		{"HF headless", sdOf("resnet.encoder.stages.0.layers.0.layer.0.convolution.weight"), HF},
		{"HF bare ResNetModel", sdOf("embedder.embedder.convolution.weight", "encoder.stages.0.layers.0.layer.0.convolution.weight"), HF},
		{"torchvision", sdOf("conv1.weight", "layer1.0.conv1.weight", "fc.weight"), Torchvision},
		{"torchvision headless", sdOf("conv1.weight", "layer4.0.conv1.weight"), Torchvision},
		{"torchvision downsample", sdOf("layer2.0.downsample.0.weight"), Torchvision},
		{"CIFAR", sdOf("conv1.weight", "linear.weight"), CIFAR},
		{"CIFAR option B headless", sdOf("layer2.0.shortcut.0.weight"), CIFAR},
		{"3x3 stem, no head", conv(3), CIFAR},
		{"7x7 stem, no head", conv(7), Torchvision},
		{"empty", StateDict{}, Unknown},
		{"other", sdOf("encoder.weight", "head.bias"), Unknown},
	}
	for _, c := range cases {
		if got := DetectFamily(c.sd); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// hfReference lists HF ResNet names and shapes from the rules of spec §2, as an
// independent reference for ToHF.
func hfReference(depths []int, bottleneck bool, classes int) map[string][]int {
	m := map[string][]int{}
	bn := func(p string, c int) {
		for _, s := range []string{"weight", "bias", "running_mean", "running_var"} {
			m[p+".normalization."+s] = []int{c}
		}
		m[p+".normalization.num_batches_tracked"] = []int{}
	}
	m["resnet.embedder.embedder.convolution.weight"] = []int{64, 3, 7, 7}
	bn("resnet.embedder.embedder", 64)
	in := 64
	for s, depth := range depths {
		out := 64 << s
		if bottleneck {
			out *= 4
		}
		for l := 0; l < depth; l++ {
			p := fmt.Sprintf("resnet.encoder.stages.%d.layers.%d.", s, l)
			stride := 1
			if s > 0 && l == 0 {
				stride = 2
			}
			if in != out || stride != 1 {
				m[p+"shortcut.convolution.weight"] = []int{out, in, 1, 1}
				bn(p+"shortcut", out)
			}
			convs := [][]int{{out, in, 3, 3}, {out, out, 3, 3}}
			if bottleneck {
				r := out / 4
				convs = [][]int{{r, in, 1, 1}, {r, r, 3, 3}, {out, r, 1, 1}}
			}
			for k, shape := range convs {
				m[fmt.Sprintf("%slayer.%d.convolution.weight", p, k)] = shape
				bn(fmt.Sprintf("%slayer.%d", p, k), shape[0])
			}
			in = out
		}
	}
	m["classifier.1.weight"] = []int{classes, in}
	m["classifier.1.bias"] = []int{classes}
	return m
}

// TestToHFTorchvisionResNet18 maps the real torchvision resnet18 state dict names
// (from the generator) and compares with the HF layout built from the spec.
func TestToHFTorchvisionResNet18(t *testing.T) {
	var names [][2]any
	readJSON(t, "torchvision_resnet18.json", &names)
	sd := StateDict{}
	for _, n := range names {
		var shape []int
		for _, d := range n[1].([]any) {
			shape = append(shape, int(d.(float64)))
		}
		sd[n[0].(string)] = &Tensor{DType: "F32", Shape: shape}
	}
	if DetectFamily(sd) != Torchvision {
		t.Fatalf("family %v", DetectFamily(sd))
	}
	hf, err := ToHF(sd)
	if err != nil {
		t.Fatal(err)
	}
	want := hfReference([]int{2, 2, 2, 2}, false, 1000)
	if len(hf) != 122 || len(want) != 122 {
		t.Errorf("%d HF names, reference %d, want 122", len(hf), len(want))
	}
	for name, shape := range want {
		g := hf[name]
		if g == nil {
			t.Errorf("missing %s", name)
		} else if len(shape) > 0 && !equalInts(g.Shape, shape) {
			t.Errorf("%s: shape %v, want %v", name, g.Shape, shape)
		}
	}
	back := FromHF(hf, Torchvision)
	if fmt.Sprint(back.Names()) != fmt.Sprint(sd.Names()) {
		t.Errorf("FromHF(ToHF(sd)) names differ")
	}
	for name, tensor := range sd {
		if back[name] != tensor {
			t.Errorf("%s: tensor not carried through", name)
		}
	}
}

// torchvisionNames builds torchvision bottleneck ResNet names from its module rules.
func torchvisionNames(depths []int) StateDict {
	var names []string
	bn := func(p string) {
		for _, s := range []string{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"} {
			names = append(names, p+"."+s)
		}
	}
	names = append(names, "conv1.weight", "fc.weight", "fc.bias")
	bn("bn1")
	for s, depth := range depths {
		for l := 0; l < depth; l++ {
			p := fmt.Sprintf("layer%d.%d.", s+1, l)
			for k := 1; k <= 3; k++ {
				names = append(names, fmt.Sprintf("%sconv%d.weight", p, k))
				bn(fmt.Sprintf("%sbn%d", p, k))
			}
			if l == 0 {
				names = append(names, p+"downsample.0.weight")
				bn(p + "downsample.1")
			}
		}
	}
	return sdOf(names...)
}

func TestToHFResNet50Names(t *testing.T) {
	sd := torchvisionNames([]int{3, 4, 6, 3})
	hf, err := ToHF(sd)
	if err != nil {
		t.Fatal(err)
	}
	want := hfReference([]int{3, 4, 6, 3}, true, 1000)
	got, ref := hf.Names(), make([]string, 0, len(want))
	for n := range want {
		ref = append(ref, n)
	}
	sort.Strings(ref)
	if len(got) != 320 || fmt.Sprint(got) != fmt.Sprint(ref) {
		t.Errorf("got %d names, reference %d (want 320); first difference: %s", len(got), len(ref), firstDiff(got, ref))
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " vs " + b[i]
		}
	}
	return "(prefix)"
}

func TestToHFPassThroughAndErrors(t *testing.T) {
	hf, err := ToHF(sdOf("conv1.weight", "fc.weight", "maxpool.extra", "layer9.0.relu.x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"maxpool.extra", "layer9.0.relu.x", "classifier.1.weight"} {
		if hf[n] == nil {
			t.Errorf("%s missing from %v", n, hf.Names())
		}
	}
	same, err := ToHF(sdOf("classifier.1.weight", "resnet.embedder.embedder.convolution.weight"))
	if err != nil || len(same) != 2 || same["classifier.1.weight"] == nil {
		t.Errorf("HF identity: %v %v", same.Names(), err)
	}
	bare, err := ToHF(sdOf("embedder.embedder.convolution.weight", "encoder.stages.1.layers.0.shortcut.convolution.weight", "pooler.x"))
	if err != nil || bare["resnet.embedder.embedder.convolution.weight"] == nil ||
		bare["resnet.encoder.stages.1.layers.0.shortcut.convolution.weight"] == nil || bare["pooler.x"] == nil {
		t.Errorf("bare ResNetModel names: %v %v", bare.Names(), err)
	}
	_, err = ToHF(sdOf("fc.weight", "fc.bias", "classifier.1.weight"))
	wantErr(t, err, `both map to HF name "classifier.1.weight"`)
	_, err = ToHF(sdOf("foo"))
	wantErr(t, err, "cannot tell the checkpoint's naming scheme")

	c := FromHF(sdOf("classifier.1.bias", "resnet.encoder.stages.0.layers.0.shortcut.normalization.weight", "extra"), CIFAR)
	if c["linear.bias"] == nil || c["layer1.0.shortcut.1.weight"] == nil || c["extra"] == nil || len(c) != 3 {
		t.Errorf("FromHF CIFAR: %v", c.Names())
	}
	if id := FromHF(sdOf("classifier.1.bias"), HF); id["classifier.1.bias"] == nil {
		t.Errorf("FromHF HF: %v", id.Names())
	}
	if s := fmt.Sprint(HF, Torchvision, CIFAR, Unknown); s != "HF torchvision CIFAR unknown" {
		t.Errorf("String: %s", s)
	}
}
