// Package tensor holds the dense float32 array that flows between every stage of
// the data path: preprocessed images, activations, weights and logits.
//
// Data is row-major (C order). Image batches are NCHW unless a kernel says otherwise.
package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a dense float32 array with a shape. The zero value is an empty tensor.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero-filled tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// FromData wraps data (not copied) as a tensor, checking that the sizes agree.
func FromData(data []float32, shape ...int) (*Tensor, error) {
	if n := Numel(shape); n != len(data) {
		return nil, fmt.Errorf("tensor: shape %s needs %d values, got %d", Format(shape), n, len(data))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Numel is the number of elements a shape holds (1 for a scalar shape []).
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len is the number of elements in t.
func (t *Tensor) Len() int { return len(t.Data) }

// Dims is the number of dimensions.
func (t *Tensor) Dims() int { return len(t.Shape) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Reshape returns a view of the same data with another shape of equal size.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	return FromData(t.Data, shape...)
}

// Slice returns a view of item i along the first dimension (for example one image of a batch).
func (t *Tensor) Slice(i int) *Tensor {
	inner := Numel(t.Shape[1:])
	return &Tensor{Shape: append([]int(nil), t.Shape[1:]...), Data: t.Data[i*inner : (i+1)*inner]}
}

// SameShape reports whether two shapes are identical.
func SameShape(a, b []int) bool {
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

// Format writes a shape the way PyTorch prints it: [64, 3, 7, 7].
func Format(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
