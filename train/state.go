package train

import (
	"fmt"

	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/weights"
)

// StateDict returns a copy of every parameter and buffer under its HF name: the tensors
// arch.Spec.Params lists plus each BatchNorm's num_batches_tracked (an I64 scalar), as
// PyTorch's state_dict() holds them. model.New builds an inference model from it.
func (net *Network) StateDict() weights.StateDict {
	sd := weights.StateDict{}
	f32 := func(name string, shape []int, data []float32) {
		sd[name] = &weights.Tensor{DType: "F32", Shape: append([]int(nil), shape...), Data: append([]float32(nil), data...)}
	}
	for _, p := range net.params {
		f32(p.Name, p.Shape, p.Data)
	}
	for _, b := range net.bns {
		f32(b.name+".running_mean", []int{b.bn.C}, b.bn.RunningMean)
		f32(b.name+".running_var", []int{b.bn.C}, b.bn.RunningVar)
		sd[b.name+".num_batches_tracked"] = &weights.Tensor{DType: "I64", Shape: []int{}, Data: []float32{float32(b.bn.NumBatchesTracked)}}
	}
	return sd
}

// LoadStateDict copies sd into the network, checking names and shapes as PyTorch's strict
// load_state_dict does (a *model.LoadError lists every problem), and refuses a NaN or ±Inf
// (a *weights.NonFiniteError) before it changes anything. num_batches_tracked is optional;
// when absent the counter keeps its value.
func (net *Network) LoadStateDict(sd weights.StateDict) error {
	if err := model.Check(&net.Spec, sd); err != nil {
		return err
	}
	for _, b := range net.bns {
		if t, ok := sd[b.name+".num_batches_tracked"]; ok {
			if len(t.Data) != 1 || t.Data[0] < 0 || t.Data[0] != float32(int64(t.Data[0])) {
				return fmt.Errorf("train: %s.num_batches_tracked must be one non-negative integer, got %v", b.name, t.Data)
			}
		}
	}
	for _, p := range net.params {
		if err := weights.CheckFinite("", p.Name, sd[p.Name].Data); err != nil {
			return err
		}
	}
	for _, b := range net.bns {
		for _, s := range []string{".running_mean", ".running_var"} {
			if err := weights.CheckFinite("", b.name+s, sd[b.name+s].Data); err != nil {
				return err
			}
		}
	}
	for _, p := range net.params {
		copy(p.Data, sd[p.Name].Data)
	}
	for _, b := range net.bns {
		copy(b.bn.RunningMean, sd[b.name+".running_mean"].Data)
		copy(b.bn.RunningVar, sd[b.name+".running_var"].Data)
		if t, ok := sd[b.name+".num_batches_tracked"]; ok {
			b.bn.NumBatchesTracked = int64(t.Data[0])
		}
	}
	return nil
}

// CheckFinite returns a *weights.NonFiniteError for the first NaN or ±Inf among the
// parameters and the BatchNorm running statistics, or nil when all are finite. It is one
// cheap pass over the weights, meant to run after every step of a training run.
func (net *Network) CheckFinite() error {
	for _, p := range net.params {
		if err := weights.CheckFinite("parameter", p.Name, p.Data); err != nil {
			return err
		}
	}
	for _, b := range net.bns {
		if err := weights.CheckFinite("BatchNorm statistic", b.name+".running_mean", b.bn.RunningMean); err != nil {
			return err
		}
		if err := weights.CheckFinite("BatchNorm statistic", b.name+".running_var", b.bn.RunningVar); err != nil {
			return err
		}
	}
	return nil
}
