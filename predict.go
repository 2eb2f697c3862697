package resnet

import (
	"math"
	"sort"

	"github.com/resnet-go/resnet/arch"
)

// Softmax returns exp(x_i − max) / Σ exp(x_j − max), computed in float64 for stability.
func Softmax(x []float32) []float32 {
	if len(x) == 0 {
		return nil
	}
	peak := math.Inf(-1)
	for _, v := range x {
		peak = math.Max(peak, float64(v))
	}
	out := make([]float32, len(x))
	var sum float64
	e := make([]float64, len(x))
	for i, v := range x {
		e[i] = math.Exp(float64(v) - peak)
		sum += e[i]
	}
	for i := range x {
		out[i] = float32(e[i] / sum)
	}
	return out
}

// Scores turns one row of logits into class scores as cfg says (Config.Sigmoid): each
// logit's sigmoid for multi-label classifiers and single-logit heads, else the softmax of
// the row. The CLI, the library's TopK, Grad-CAM and the server's default all score this way.
func Scores(row []float32, cfg *arch.Config) []float32 {
	if !cfg.Sigmoid() {
		return Softmax(row)
	}
	out := make([]float32, len(row))
	for i, v := range row {
		out[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
	return out
}

// topIndices returns the indices of the k largest values, largest first; ties keep the lower
// index first, so results are deterministic.
func topIndices(x []float32, k int) []int {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] > x[idx[b]] })
	return idx[:k]
}
