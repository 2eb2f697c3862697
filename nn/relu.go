package nn

// ReLU sets y = max(x, 0) (NaN stays NaN); y may be x. Inside networks it is fused into
// BatchNorm2d; this is the stand-alone layer.
func ReLU(x, y []float32) {
	parallelFor(chunkCount(len(x)), func(k int) {
		lo, hi := chunkBounds(k, len(x))
		for i, v := range x[lo:hi] {
			if v < 0 {
				v = 0
			}
			y[lo+i] = v
		}
	})
}

// ReLUBackward sets dx = dy where the output y > 0 and 0 elsewhere, PyTorch's
// threshold_backward; dx may be dy.
func ReLUBackward(y, dy, dx []float32) {
	parallelFor(chunkCount(len(y)), func(k int) {
		lo, hi := chunkBounds(k, len(y))
		copy(dx[lo:hi], dy[lo:hi])
		maskByOutput(dx[lo:hi], y[lo:hi])
	})
}

// elemChunk is how many values one task of an element-wise loop handles.
const elemChunk = 1 << 15

func chunkCount(n int) int { return (n + elemChunk - 1) / elemChunk }

func chunkBounds(k, n int) (int, int) { return k * elemChunk, min((k+1)*elemChunk, n) }
