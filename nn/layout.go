package nn

// Training layers.
//
// The layers with forward and backward passes (Conv2d, BatchNorm2d, ConvBNTrain, MaxPool2d,
// GlobalAvgPool, Linear, ZeroPad, ReLU, SoftmaxCrossEntropy) work on whole batches held
// channel-major, [C, N, H, W] ("CNHW"): channel c of image i is the H×W plane at
// ((c·N)+i)·H·W. With that layout a convolution over the batch is one product
// W[Out × In·K·K] · col[In·K·K × N·OH·OW] whose result is again channel-major, batch
// normalisation reduces contiguous channel rows, and a chunk of images is contiguous within
// every channel, which the direct kernels rely on. Inputs are converted from PyTorch's NCHW
// once (ToCNHW); gradients of the input image are never needed.

// ToCNHW copies an NCHW batch x ([n, c, hw]) into dst as [c, n, hw].
func ToCNHW(n, c, hw int, x, dst []float32) {
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			copy(dst[(ch*n+i)*hw:(ch*n+i+1)*hw], x[(i*c+ch)*hw:(i*c+ch+1)*hw])
		}
	}
}

// FromCNHW copies a [c, n, hw] batch x into dst as NCHW ([n, c, hw]).
func FromCNHW(n, c, hw int, x, dst []float32) {
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			copy(dst[(i*c+ch)*hw:(i*c+ch+1)*hw], x[(ch*n+i)*hw:(ch*n+i+1)*hw])
		}
	}
}
