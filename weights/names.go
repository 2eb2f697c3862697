package weights

import (
	"fmt"
	"strconv"
	"strings"
)

// Family is a checkpoint naming scheme for the same ResNet modules.
type Family int

const (
	// HF is Hugging Face transformers: resnet.embedder..., resnet.encoder.stages...,
	// classifier.1.
	HF Family = iota
	// Torchvision is torchvision.models.resnet: conv1, bn1, layerN.M..., downsample, fc.
	Torchvision
	// CIFAR is akamaster/pytorch_resnet_cifar10: like torchvision but with linear and
	// (option B) layerN.M.shortcut.0/1.
	CIFAR
	// Unknown means no key pattern of the families above was found.
	Unknown
)

func (f Family) String() string {
	switch f {
	case HF:
		return "HF"
	case Torchvision:
		return "torchvision"
	case CIFAR:
		return "CIFAR"
	}
	return "unknown"
}

const (
	hfStem       = "resnet.embedder.embedder."
	hfStages     = "resnet.encoder.stages."
	hfClassifier = "classifier.1."
	hfBase       = "resnet." // base_model_prefix; absent when a bare ResNetModel was saved
)

// isBareHF reports names saved from a bare ResNetModel, which lack "resnet.".
func isBareHF(name string) bool {
	return strings.HasPrefix(name, hfStem[len(hfBase):]) || strings.HasPrefix(name, hfStages[len(hfBase):])
}

// DetectFamily guesses the naming scheme from key patterns: resnet.* and
// classifier.1 mean HF; fc, downsample or layer4 mean torchvision; linear or
// layerN.M.shortcut mean CIFAR. Without any of those (a headless net), a 3x3
// conv1 means CIFAR and a 7x7 one torchvision.
func DetectFamily(sd StateDict) Family {
	var hf, tv, cifar int
	for name := range sd {
		switch {
		case strings.HasPrefix(name, hfStem), strings.HasPrefix(name, hfStages), strings.HasPrefix(name, hfClassifier), isBareHF(name):
			hf++
		case strings.HasPrefix(name, "fc."), strings.HasPrefix(name, "layer4."), strings.Contains(name, ".downsample."):
			tv++
		case strings.HasPrefix(name, "linear."), isBlockShortcut(name):
			cifar++
		}
	}
	switch {
	case hf > 0 && hf >= tv+cifar:
		return HF
	case cifar > tv:
		return CIFAR
	case tv > 0:
		return Torchvision
	}
	if w, ok := sd["conv1.weight"]; ok && len(w.Shape) == 4 {
		if w.Shape[2] == 3 && w.Shape[3] == 3 {
			return CIFAR
		}
		return Torchvision
	}
	return Unknown
}

func isBlockShortcut(name string) bool {
	_, _, rest, ok := parseBlock(name)
	return ok && strings.HasPrefix(rest, "shortcut.")
}

// ToHF renames torchvision or CIFAR keys to HF transformers names (spec §8) and
// returns HF checkpoints unchanged, except that names saved from a bare ResNetModel
// (embedder.*, encoder.*) get the "resnet." prefix of the classification model. Keys that match no pattern, num_batches_tracked
// included, keep their names so the model loader can report or ignore them. The
// tensors are shared with sd, not copied.
func ToHF(sd StateDict) (StateDict, error) {
	fam := DetectFamily(sd)
	if fam == Unknown {
		return nil, fmt.Errorf("weights: cannot tell the checkpoint's naming scheme (no resnet.*, conv1, fc, linear or layerN keys among %d tensors)", len(sd))
	}
	out := make(StateDict, len(sd))
	from := map[string]string{}
	for _, name := range sd.Names() {
		hf := name
		if fam != HF {
			if n, ok := toHFName(name, fam); ok {
				hf = n
			}
		} else if isBareHF(name) {
			hf = hfBase + name
		}
		if prev, dup := from[hf]; dup {
			return nil, fmt.Errorf("weights: %q and %q both map to HF name %q", prev, name, hf)
		}
		from[hf] = name
		out[hf] = sd[name]
	}
	return out, nil
}

// FromHF renames HF keys to fam's scheme (the inverse of ToHF); unmatched keys keep
// their names. For HF or Unknown it returns a copy of the map. If a renamed key
// collides with an unmatched one, the renamed key wins.
func FromHF(sd StateDict, fam Family) StateDict {
	out := make(StateDict, len(sd))
	var renamed [][2]string
	for name, t := range sd {
		if fam == Torchvision || fam == CIFAR {
			if n, ok := fromHFName(name, fam); ok {
				renamed = append(renamed, [2]string{name, n})
				continue
			}
		}
		out[name] = t
	}
	for _, r := range renamed { // after the unmatched keys, so renamed ones win
		out[r[1]] = sd[r[0]]
	}
	return out
}

// toHFName maps one torchvision/CIFAR name; ok is false when nothing matches.
func toHFName(name string, fam Family) (string, bool) {
	head := "fc."
	if fam == CIFAR {
		head = "linear."
	}
	for _, p := range [][2]string{{"conv1.", hfStem + "convolution."}, {"bn1.", hfStem + "normalization."}, {head, hfClassifier}} {
		if rest, ok := strings.CutPrefix(name, p[0]); ok && rest != "" {
			return p[1] + rest, true
		}
	}
	n, m, rest, ok := parseBlock(name)
	if !ok || n < 1 {
		return "", false
	}
	block := fmt.Sprintf("%s%d.layers.%d.", hfStages, n-1, m)
	short := "downsample."
	if fam == CIFAR {
		short = "shortcut."
	}
	switch {
	case strings.HasPrefix(rest, short+"0.") && len(rest) > len(short)+2:
		return block + "shortcut.convolution." + rest[len(short)+2:], true
	case strings.HasPrefix(rest, short+"1.") && len(rest) > len(short)+2:
		return block + "shortcut.normalization." + rest[len(short)+2:], true
	}
	for _, kind := range [][2]string{{"conv", "convolution"}, {"bn", "normalization"}} {
		if r, ok := strings.CutPrefix(rest, kind[0]); ok {
			k, tail, ok := cutIndex(r)
			if ok && k >= 1 && tail != "" {
				return fmt.Sprintf("%slayer.%d.%s.%s", block, k-1, kind[1], tail), true
			}
		}
	}
	return "", false
}

// fromHFName maps one HF name back to fam's scheme.
func fromHFName(name string, fam Family) (string, bool) {
	head, short := "fc.", "downsample."
	if fam == CIFAR {
		head, short = "linear.", "shortcut."
	}
	for _, p := range [][2]string{{hfStem + "convolution.", "conv1."}, {hfStem + "normalization.", "bn1."}, {hfClassifier, head}} {
		if rest, ok := strings.CutPrefix(name, p[0]); ok && rest != "" {
			return p[1] + rest, true
		}
	}
	r, ok := strings.CutPrefix(name, hfStages)
	if !ok {
		return "", false
	}
	s, r, ok1 := cutIndex(r)
	r, ok2 := strings.CutPrefix(r, "layers.")
	l, r, ok3 := cutIndex(r)
	if !ok1 || !ok2 || !ok3 {
		return "", false
	}
	block := fmt.Sprintf("layer%d.%d.", s+1, l)
	for _, p := range [][2]string{{"shortcut.convolution.", short + "0."}, {"shortcut.normalization.", short + "1."}} {
		if rest, ok := strings.CutPrefix(r, p[0]); ok && rest != "" {
			return block + p[1] + rest, true
		}
	}
	r, ok = strings.CutPrefix(r, "layer.")
	if !ok {
		return "", false
	}
	k, r, ok := cutIndex(r)
	if !ok {
		return "", false
	}
	for _, p := range [][2]string{{"convolution.", "conv"}, {"normalization.", "bn"}} {
		if rest, ok := strings.CutPrefix(r, p[0]); ok && rest != "" {
			return fmt.Sprintf("%s%s%d.%s", block, p[1], k+1, rest), true
		}
	}
	return "", false
}

// parseBlock splits "layerN.M.rest" into N, M and rest.
func parseBlock(name string) (n, m int, rest string, ok bool) {
	r, ok := strings.CutPrefix(name, "layer")
	if !ok {
		return 0, 0, "", false
	}
	if n, r, ok = cutIndex(r); !ok {
		return 0, 0, "", false
	}
	if m, r, ok = cutIndex(r); !ok {
		return 0, 0, "", false
	}
	return n, m, r, true
}

// cutIndex reads a canonical decimal index ("0", "12"; not "01") followed by a dot.
func cutIndex(s string) (int, string, bool) {
	i := strings.IndexByte(s, '.')
	if i <= 0 || i > 9 || (s[0] == '0' && i > 1) {
		return 0, "", false
	}
	for _, c := range s[:i] {
		if c < '0' || c > '9' {
			return 0, "", false
		}
	}
	v, err := strconv.Atoi(s[:i])
	return v, s[i+1:], err == nil
}
