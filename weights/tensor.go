package weights

import (
	"fmt"
	"sort"
)

// Tensor is one named array from a checkpoint, converted to float32 for use.
// DType keeps the stored type so integer buffers (num_batches_tracked) can be told
// apart and written back as integers.
type Tensor struct {
	DType string    // dtype as stored, in safetensors spelling: "F32", "F16", "BF16", "I64", ...
	Shape []int     // row-major shape; [] for a scalar
	Data  []float32 // values converted to float32, len == product of Shape
}

// StateDict maps parameter names to tensors, like a PyTorch state_dict.
type StateDict map[string]*Tensor

// Names returns the tensor names in sorted order, so iteration is deterministic.
func (s StateDict) Names() []string {
	names := make([]string, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// shapeString formats a shape like PyTorch does ([2, 3]) for error messages.
func shapeString(shape []int) string {
	s := "["
	for i, d := range shape {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(d)
	}
	return s + "]"
}
