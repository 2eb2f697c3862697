package arch

import (
	"fmt"
	"sort"
	"strings"
)

// imagenetShapes are the HF microsoft/resnet-* configurations (depths, widths, block type).
var imagenetShapes = map[int]struct {
	depths, widths []int
	layer          string
}{
	18:  {[]int{2, 2, 2, 2}, []int{64, 128, 256, 512}, Basic},
	34:  {[]int{3, 4, 6, 3}, []int{64, 128, 256, 512}, Basic},
	50:  {[]int{3, 4, 6, 3}, []int{256, 512, 1024, 2048}, Bottleneck},
	101: {[]int{3, 4, 23, 3}, []int{256, 512, 1024, 2048}, Bottleneck},
	152: {[]int{3, 8, 36, 3}, []int{256, 512, 1024, 2048}, Bottleneck},
}

// cifarDepths are the 6n+2 networks of He et al. §4.2.
var cifarDepths = []int{20, 32, 44, 56, 110}

// Presets lists every preset name Preset accepts.
func Presets() []string {
	var names []string
	for d := range imagenetShapes {
		names = append(names, fmt.Sprintf("resnet-%d", d), fmt.Sprintf("plain-%d", d))
		if imagenetShapes[d].layer == Bottleneck {
			names = append(names, fmt.Sprintf("resnet-%d-v1", d))
		}
	}
	for _, d := range cifarDepths {
		names = append(names, fmt.Sprintf("cifar-resnet%d", d), fmt.Sprintf("cifar-resnet%d-b", d), fmt.Sprintf("cifar-plain%d", d))
	}
	sort.Strings(names)
	return names
}

// Preset returns a named architecture:
//
//	resnet-18 … resnet-152   ImageNet ResNets as HF's microsoft/resnet-* (v1.5, 1000 labels)
//	resnet-50-v1 …           the same with the stride on the first 1×1 (original v1)
//	plain-18 … plain-152     their plain twins (no shortcuts)
//	cifar-resnet20 … 110     CIFAR ResNets, option A shortcuts, 10 labels
//	cifar-resnet20-b …       the same with option B (projection) shortcuts
//	cifar-plain20 … 110      plain CIFAR twins
//
// "resnet50", "resnet-50" and "microsoft/resnet-50" spell the same preset.
func Preset(name string) (*Config, error) {
	n := strings.ToLower(strings.TrimPrefix(name, "microsoft/"))
	c := Default()
	var depth int
	var tail string
	switch {
	case strings.HasPrefix(n, "cifar-resnet"), strings.HasPrefix(n, "cifar-plain"):
		c.Plain = strings.HasPrefix(n, "cifar-plain")
		rest := strings.TrimPrefix(strings.TrimPrefix(n, "cifar-resnet"), "cifar-plain")
		if _, err := fmt.Sscanf(rest, "%d%s", &depth, &tail); err != nil && tail == "" {
			tail = ""
		}
		if (depth-2)%6 != 0 || depth < 8 || (tail != "" && tail != "-b") || (tail == "-b" && c.Plain) {
			return nil, unknownPreset(name)
		}
		k := (depth - 2) / 6
		c.Stem, c.EmbeddingSize = StemCIFAR, 16
		c.HiddenSizes, c.Depths, c.LayerType = []int{16, 32, 64}, []int{k, k, k}, Basic
		c.ShortcutType = ShortcutZeroPad
		if tail == "-b" {
			c.ShortcutType = ShortcutProjection
		}
		c.SetLabels(CIFAR10Labels)
		return &c, nil
	case strings.HasPrefix(n, "resnet"), strings.HasPrefix(n, "plain"):
		c.Plain = strings.HasPrefix(n, "plain")
		rest := strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(n, "resnet"), "plain"), "-")
		if _, err := fmt.Sscanf(rest, "%d%s", &depth, &tail); err != nil && tail == "" {
			tail = ""
		}
		shape, ok := imagenetShapes[depth]
		if !ok || (tail != "" && tail != "-v1") || (tail == "-v1" && shape.layer != Bottleneck) {
			return nil, unknownPreset(name)
		}
		c.Depths, c.HiddenSizes, c.LayerType = shape.depths, shape.widths, shape.layer
		c.DownsampleInBottleneck = tail == "-v1"
		c.NumLabels = 1000
		return &c, nil
	}
	return nil, unknownPreset(name)
}

func unknownPreset(name string) error {
	return fmt.Errorf("unknown architecture %q (known: %s)", name, strings.Join(Presets(), ", "))
}

// CIFAR10Labels are CIFAR-10's class names in label order.
var CIFAR10Labels = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
