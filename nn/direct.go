package nn

// Direct 3×3 convolutions. For the stride-1, padding-1 convolutions that make up most of a
// ResNet, the im2col matrix is nine shifted copies of the input; building it and letting the
// GEMM pack it again costs as much memory traffic as the multiply-adds for 16 or 32 channels.
// The direct kernels instead read the shifted input vectors straight from a zero-padded copy
// of an image chunk ([C, n, H+2, W+2], one extra pass over the input), for the forward pass,
// for the input gradient (a convolution of dy with flipped weights) and for the weight
// gradient (a sum over pixels of dy times shifted inputs). They need rows a multiple of 8
// pixels wide and output channels in multiples of 4; other shapes use the GEMM path.

// useDirect switches the direct kernels off for tests of the GEMM path.
var useDirect = true

// directOK reports whether the direct kernels handle geometry g with out output channels.
func directOK(g geom, out int) bool {
	return useDirect && useAVX2() && g.k == 3 && g.s == 1 && g.p == 1 && g.w%8 == 0 && out%4 == 0
}

// padChunk copies nimg images of c channels of the chunk x (channel stride cs, see im2col)
// into xp ([c, nimg, h+2, w+2]) inside a border of zeros.
func padChunk(c, nimg, h, w int, x []float32, cs int, xp []float32) {
	ph, pw := h+2, w+2
	vec := useAVX2() && w%8 == 0
	for ch := 0; ch < c; ch++ {
		for i := 0; i < nimg; i++ {
			dst := xp[(ch*nimg+i)*ph*pw : (ch*nimg+i+1)*ph*pw]
			src := x[ch*cs+i*h*w : ch*cs+(i+1)*h*w]
			clear(dst[:pw])
			clear(dst[(h+1)*pw:])
			if vec {
				padRows(&src[0], &dst[pw], h, w, pw)
				continue
			}
			for y := 0; y < h; y++ {
				row := dst[(y+1)*pw : (y+2)*pw]
				row[0], row[w+1] = 0, 0
				if w > 16 {
					copy(row[1:w+1], src[y*w:(y+1)*w])
					continue
				}
				// Short rows: a loop beats a call to memmove.
				for j, v := range src[y*w : (y+1)*w] {
					row[1+j] = v
				}
			}
		}
	}
}

// packDirect lays out 3×3 weights w ([out, in, 3, 3]) for convTile4x3: for each block of four
// outputs, each input channel and each tap, the four outputs' weights ([out/4, in, 9, 4]).
func packDirect(out, in int, w, dst []float32) {
	for ob := 0; ob < out/4; ob++ {
		for ci := 0; ci < in; ci++ {
			for t := 0; t < 9; t++ {
				for r := 0; r < 4; r++ {
					dst[((ob*in+ci)*9+t)*4+r] = w[((ob*4+r)*in+ci)*9+t]
				}
			}
		}
	}
}

// directConv writes (or, with acc, adds) the convolution of the padded chunk xp ([in, nimg,
// h+2, w+2]) with the packed weights wp into y, whose output channel o starts at y[o·ys] with
// the chunk's images contiguous. Tiles of three pixel vectors run over every output block
// while their input is in L1; a short last tile repeats its last vector (harmless even when
// adding, as the kernel loads all three before storing).
func directConv(in, out, nimg, h, w int, xp, wp, y []float32, ys int, acc bool) {
	ph, pw := h+2, w+2
	rowVecs := w / 8
	imgVecs := h * rowVecs
	nv := nimg * imgVecs
	xAt := func(v int) *float32 {
		img, r := v/imgVecs, v%imgVecs
		return &xp[img*ph*pw+(r/rowVecs)*pw+(r%rowVecs)*8]
	}
	xcs := nimg * ph * pw
	for v := 0; v < nv; v += 3 {
		v1, v2 := min(v+1, nv-1), min(v+2, nv-1)
		x0, x1, x2 := xAt(v), xAt(v1), xAt(v2)
		for ob := 0; ob < out/4; ob++ {
			yo := ob * 4 * ys
			convTile4x3(in, x0, x1, x2, xcs, pw, &wp[ob*in*36], &y[yo+v*8], &y[yo+v1*8], &y[yo+v2*8], ys, acc)
		}
	}
}

// directGrad adds the weight gradient of the chunk to part ([out, in, 3, 3]): dy holds the
// output gradient, channel o at dy[o·ds], plain (images contiguous) or, if padded, in the
// layout of padChunk; xp is the padded input.
func directGrad(in, out, nimg, h, w int, dy []float32, ds int, padded bool, xp, part []float32) {
	ph, pw := h+2, w+2
	d0, drow, dimg := 0, 0, 0
	if padded {
		d0, drow, dimg = pw+1, 2, 2*pw
	}
	for ob := 0; ob < out/4; ob++ {
		for ci := 0; ci < in; ci++ {
			for ky := 0; ky < 3; ky++ {
				dwTile4x3(nimg, h, w/8, &dy[ob*4*ds+d0], ds, drow, dimg, &xp[ci*nimg*ph*pw+ky*pw], 2*pw, &part[(ob*4*in+ci)*9+ky*3], in*9)
			}
		}
	}
}
