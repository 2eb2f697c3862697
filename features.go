package resnet

import (
	"fmt"
	"strings"

	"github.com/resnet-go/resnet/tensor"
)

// StageNames are HF's ResNetBackbone stage names for this model: "stem", "stage1", ….
func (m *Model) StageNames() []string {
	names := []string{"stem"}
	for i := range m.Config.Depths {
		names = append(names, fmt.Sprintf("stage%d", i+1))
	}
	return names
}

// FeatureMaps runs x and returns the [N, C, H, W] feature maps of the named stages, like HF's
// ResNetBackbone with out_features. With no names it uses the config's out_features, and
// failing that the last stage.
func (m *Model) FeatureMaps(x *tensor.Tensor, names ...string) (map[string]*tensor.Tensor, error) {
	if len(names) == 0 {
		names = m.Config.OutFeatures
	}
	all := m.StageNames()
	if len(names) == 0 {
		names = all[len(all)-1:]
	}
	index := map[string]int{}
	for i, n := range all {
		index[n] = i
	}
	for _, n := range names {
		if _, ok := index[n]; !ok {
			return nil, fmt.Errorf("unknown stage %q (this model has %s)", n, strings.Join(all, ", "))
		}
	}
	out, err := m.Run(x, true)
	if err != nil {
		return nil, err
	}
	maps := make(map[string]*tensor.Tensor, len(names))
	for _, n := range names {
		maps[n] = out.Hidden[index[n]]
	}
	return maps, nil
}

// Embed returns the pooled embedding [N, features] (HF's pooler_output, flattened).
func (m *Model) Embed(x *tensor.Tensor) (*tensor.Tensor, error) {
	out, err := m.Run(x, false)
	if err != nil {
		return nil, err
	}
	return out.Pooled, nil
}
