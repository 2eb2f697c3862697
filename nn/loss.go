package nn

import (
	"fmt"
	"math"
)

// SoftmaxCrossEntropy is PyTorch's CrossEntropyLoss (mean reduction) on logits [N, classes]
// with integer labels. It returns the loss, how many rows have their label as the first
// largest logit, and, if dlogits is not nil, writes ∂loss/∂logits = (softmax − onehot)/N
// into it. Work is in float64, so loss and gradient are the correctly rounded values of a
// stable log-sum-exp.
func SoftmaxCrossEntropy(n, classes int, logits []float32, labels []int, dlogits []float32) (loss float64, correct int, err error) {
	if n < 1 || classes < 1 || len(logits) < n*classes || len(labels) != n || (dlogits != nil && len(dlogits) < n*classes) {
		return 0, 0, fmt.Errorf("nn: cross entropy of %d rows × %d classes: %d logits, %d labels, %d gradients", n, classes, len(logits), len(labels), len(dlogits))
	}
	for i, y := range labels {
		if y < 0 || y >= classes {
			return 0, 0, fmt.Errorf("nn: cross entropy: label %d of row %d is outside [0, %d)", y, i, classes)
		}
	}
	var total float64
	for i := 0; i < n; i++ {
		row := logits[i*classes : (i+1)*classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == labels[i] {
			correct++
		}
		m := float64(row[best])
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		total += lse - float64(row[labels[i]])
		if dlogits != nil {
			d := dlogits[i*classes : (i+1)*classes]
			for j, v := range row {
				p := math.Exp(float64(v)-lse) / float64(n)
				if j == labels[i] {
					p -= 1 / float64(n)
				}
				d[j] = float32(p)
			}
		}
	}
	return total / float64(n), correct, nil
}
