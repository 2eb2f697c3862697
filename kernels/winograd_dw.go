package kernels

import "fmt"

// The weight gradient of a 3×3 stride-1 convolution on Winograd F(4×4, 3×3), for training.
// The forward tile is Y = Aᵀ[(G g Gᵀ) ⊙ V]A with V = Bᵀ d B, which is linear in the filter g,
// so its adjoint gives the gradient exactly (in real arithmetic):
//
//	∂L/∂g = Gᵀ [ Σ_tiles (A dY Aᵀ) ⊙ V ] G.
//
// Summed over the tiles of every image, the bracket is 36 independent products
// ∂U_ξ[o][i] = Σ_t D_ξ[o][t]·V_ξ[i][t] with D = A dY Aᵀ: 36·16 multiplications per tile pair
// instead of 9·16 per pixel for the direct sum, a quarter. The transforms put 8 channels in
// each vector (lanesIn takes 8 planes, whatever they hold): V_ξ and D_ξ are stored as
// [channel/8][tile][channel%8], so the GEMM's 16 columns (input channels) are two vector loads
// and its rows (output channels) broadcasts, as in the packed GEMM kernel. The sums stay in
// the Winograd domain until WinoWeightGradFinish, once per layer.

// WinoWeightGradApplies reports whether WinoWeightGradAdd handles p: a 3×3 stride-1
// convolution with padding below 3, input channels in sixteens and output channels in eights,
// on a CPU with the assembly kernels.
func WinoWeightGradApplies(p ConvParams) bool {
	return curISA().asm && p.KH == 3 && p.KW == 3 && p.StrideH == 1 && p.StrideW == 1 &&
		p.PadH <= 2 && p.PadW <= 2 && p.InC%16 == 0 && p.OutC%8 == 0 && p.InC > 0 && p.OutC > 0
}

// WinoWeightGradSize is the length of the accumulator of WinoWeightGradAdd: 36 planes of
// OutC×InC.
func WinoWeightGradSize(p ConvParams) int { return 36 * p.OutC * p.InC }

// WinoWeightGradAdd adds the Winograd-domain weight gradient of n images to acc
// ([36][OutC][InC], see WinoWeightGradFinish): x holds the input of the convolution and dy the
// gradient of its output, in layouts xl and dyl. It runs on the calling goroutine.
func WinoWeightGradAdd(p ConvParams, n int, x []float32, xl Layout, dy []float32, dyl Layout, acc []float32) {
	if !WinoWeightGradApplies(p) {
		panic(fmt.Errorf("kernels: WinoWeightGradAdd: %+v is not a 3×3 stride-1 convolution with channels in 16s and 8s", p))
	}
	oh, ow := p.OutH(), p.OutW()
	if err := xl.check("input", n, p.InC, p.InH*p.InW, len(x)); err != nil {
		panic(err)
	}
	if err := dyl.check("output gradient", n, p.OutC, oh*ow, len(dy)); err != nil {
		panic(err)
	}
	if len(acc) < WinoWeightGradSize(p) {
		panic(fmt.Errorf("kernels: WinoWeightGradAdd: accumulator of %d values, want %d", len(acc), WinoWeightGradSize(p)))
	}
	winoDWAdd(p, n, x, xl, dy, dyl, acc, true)
}

// winoDWAdd is WinoWeightGradAdd after the checks, on the assembly kernels or (asm false,
// for tests) on their Go specifications.
func winoDWAdd(p ConvParams, n int, x []float32, xl Layout, dy []float32, dyl Layout, acc []float32, asm bool) {
	oh, ow := p.OutH(), p.OutW()
	th, tw := ceilDiv(oh, 4), ceilDiv(ow, 4)
	T := th * tw
	K := n * T // tiles: the GEMMs' inner dimension
	vs, ds := planeStride(p.InC*K), planeStride(p.OutC*K)
	pw := 4*tw + 2 // the zero-bordered lane-major input window is (4th+2)×pw
	qs := 4 * tw * 8
	nPad, nQ, nE := (4*th+2)*pw*8, 4*th*qs, 6*8*pw
	buf := getScratch(36*(vs+ds) + nPad + nQ + nE)
	defer putScratch(buf)
	v, d := (*buf)[:36*vs], (*buf)[36*vs:36*(vs+ds)]
	rest := (*buf)[36*(vs+ds):]
	pad, q, e := rest[:nPad], rest[nPad:nPad+nQ], rest[nPad+nQ:]
	// Only the interiors are written below: the borders (and, for maps not a multiple of
	// 4, the rows and columns past them) stay zero.
	clear(pad)
	clear(q)
	var src [8]*float32
	for j := range n {
		for g := range p.InC / 8 {
			for l := range src {
				at := j*xl.Image + (8*g+l)*xl.Channel
				src[l] = &x[at : at+p.InH*p.InW][0]
			}
			lanesInAny(&src, p.InW, p.InH, pad[(p.PadH*pw+p.PadW)*8:], pw*8, asm)
			dst := v[(g*K+j*T)*8:]
			if asm {
				winoInL6(&pad[0], pw*8, th, tw, &e[0], &dst[0], vs)
			} else {
				winoInL6Go(pad, pw*8, th, tw, dst, vs)
			}
		}
		for g := range p.OutC / 8 {
			for l := range src {
				at := j*dyl.Image + (8*g+l)*dyl.Channel
				src[l] = &dy[at : at+oh*ow][0]
			}
			lanesInAny(&src, ow, oh, q, qs, asm)
			dst := d[(g*K+j*T)*8:]
			if asm {
				_ = dst[35*ds+8*T-1]
				winoDyL6(&q[0], qs, th, tw, &dst[0], ds)
			} else {
				winoDyL6Go(q, qs, th, tw, dst, ds)
			}
		}
	}
	oi := p.OutC * p.InC
	for x := range 36 {
		u := acc[x*oi : (x+1)*oi]
		if asm {
			_ = d[x*ds+(p.OutC/8-1)*K*8+K*8-1]
			_ = v[x*vs+(p.InC/8-1)*K*8+K*8-1]
			winoDW16(K, &d[x*ds], K*8, p.OutC, &v[x*vs], K*8, p.InC, &u[0])
		} else {
			winoDW16Go(K, d[x*ds:], K*8, p.OutC, v[x*vs:], K*8, p.InC, u)
		}
	}
}

// lanesInAny is lanesIn, or with asm false always the Go version.
func lanesInAny(src *[8]*float32, w, rows int, dst []float32, ds int, asm bool) {
	if asm {
		lanesIn(src, w, rows, w, dst, ds)
		return
	}
	_ = dst[(rows-1)*ds+8*w-1]
	lanesIn8Go(src, w, rows, w, dst, ds)
}

// WinoWeightGradFinish writes the weight gradient grad ([OutC][InC][3][3], PyTorch's order)
// from the Winograd-domain sums of WinoWeightGradAdd in accs: their values added in float32
// in the order given (so partial sums kept apart for determinism are combined here, in one
// pass), then grad = Gᵀ·acc·G per filter, in float64.
func WinoWeightGradFinish(p ConvParams, grad []float32, accs ...[]float32) {
	oi := p.OutC * p.InC
	if len(accs) == 0 {
		panic(fmt.Errorf("kernels: WinoWeightGradFinish: no accumulator"))
	}
	for _, acc := range accs {
		if len(acc) < 36*oi || len(grad) < 9*oi {
			panic(fmt.Errorf("kernels: WinoWeightGradFinish: accumulator of %d and gradient of %d values, want %d and %d", len(acc), len(grad), 36*oi, 9*oi))
		}
	}
	// Filters in parallel: run after the last chunk of a layer, this is serial time of
	// the training step otherwise.
	chunks := chunksFor(oi/64+1, 162*oi*len(accs))
	parallel(chunks, func(c int) { winoWeightGradFinish(oi, accs, grad, c*oi/chunks, (c+1)*oi/chunks) })
}

// winoWeightGradFinish is WinoWeightGradFinish for filters [f0, f1) of oi, in blocks of
// filters that read each accumulator's 36 planes along their rows: a filter at a time read
// 36 values oi apart from every accumulator (36·8 streams for ResNet-20's layers), which
// measured 1 ms for 64×64 filters (one Zen 4 core).
func winoWeightGradFinish(oi int, accs [][]float32, grad []float32, f0, f1 int) {
	const blk = 64
	var v [6][blk]float32
	var t [6][3][blk]float64 // acc·G
	for b0 := f0; b0 < f1; b0 += blk {
		nb := min(blk, f1-b0)
		for a := range 6 {
			for b := range 6 {
				sumRows(v[b][:nb], accs, (6*a+b)*oi+b0)
			}
			t0, t1, t2 := t[a][0][:nb], t[a][1][:nb], t[a][2][:nb]
			for i := range t0 {
				t0[i], t1[i], t2[i] = winoGCols(float64(v[0][i]), float64(v[1][i]), float64(v[2][i]), float64(v[3][i]), float64(v[4][i]), float64(v[5][i]))
			}
		}
		for i := range nb {
			out := grad[(b0+i)*9 : (b0+i)*9+9]
			for kx := range 3 {
				y0, y1, y2 := winoGCols(t[0][kx][i], t[1][kx][i], t[2][kx][i], t[3][kx][i], t[4][kx][i], t[5][kx][i])
				out[kx], out[3+kx], out[6+kx] = float32(y0), float32(y1), float32(y2)
			}
		}
	}
}

// winoGCols is x·G for a 6-vector x, G the F4 weight transform (6×3), through the sums its
// columns share: 16 operations instead of 18 multiply-adds (the finish took 1.6% of a CIFAR
// training step and a tenth of a ResNet-18 one at small batches).
func winoGCols(x0, x1, x2, x3, x4, x5 float64) (y0, y1, y2 float64) {
	p, q := x1+x2, x2-x1
	r, s := x3+x4, x3-x4
	return x0*gQuarter - p*gSixth + r*g24th, q*gSixth + s*gTwelfth, r*gSixth - p*gSixth + x5
}

// sumRows sets v[i] = Σ_k accs[k][row+i], added in the order of k, in one pass over the
// accumulators (eight of them, the partial sums of a training layer, unrolled): summing
// them one accumulator at a time through v took 60% of the finish.
func sumRows(v []float32, accs [][]float32, row int) {
	n := len(v)
	if len(accs) == 8 {
		a0, a1, a2, a3 := accs[0][row:row+n], accs[1][row:row+n], accs[2][row:row+n], accs[3][row:row+n]
		a4, a5, a6, a7 := accs[4][row:row+n], accs[5][row:row+n], accs[6][row:row+n], accs[7][row:row+n]
		for i := range v {
			v[i] = a0[i] + a1[i] + a2[i] + a3[i] + a4[i] + a5[i] + a6[i] + a7[i]
		}
		return
	}
	copy(v, accs[0][row:row+n])
	for _, acc := range accs[1:] {
		for i, x := range acc[row : row+n] {
			v[i] += x
		}
	}
}

// winoACol is A·d for one 4-vector, A the 6×4 transpose of the F4 output transform Aᵀ: the
// adjoint of winoATCol.
func winoACol(d0, d1, d2, d3 float32) [6]float32 {
	a, b := d0+d2, d1+d3
	c, e := d0+4*d2, 2*d1+8*d3
	return [6]float32{d0, a + b, a - b, c + e, c - e, d3}
}

// winoDyL6Go is winoDyL6: tile (ty, tx) of 8 lanes reads the 4×4 pixels
// q[(4ty+i)·qs + 8(4tx+j) + l] of dY and writes element ξ = 6a+b of A·dY·Aᵀ to
// d[ξ·ds + 8(ty·tw+tx) + l].
func winoDyL6Go(q []float32, qs, th, tw int, d []float32, ds int) {
	var t [6][4]float32
	for ty := range th {
		for tx := range tw {
			for l := range 8 {
				for j := range 4 {
					at := (4*ty)*qs + 8*(4*tx+j) + l
					c := winoACol(q[at], q[at+qs], q[at+2*qs], q[at+3*qs])
					for i := range 6 {
						t[i][j] = c[i]
					}
				}
				for i := range 6 {
					r := winoACol(t[i][0], t[i][1], t[i][2], t[i][3])
					for k, x := range r {
						d[(6*i+k)*ds+8*(ty*tw+tx)+l] = x
					}
				}
			}
		}
	}
}

// winoDW16Go is winoDW16: u[o·ni + i] += Σ_t a(o, t)·b(i, t) for o < no, i < ni, t < k, where
// a(o, t) = d[(o/8)·dgs + 8t + o%8] and b(i, t) = v[(i/8)·vgs + 8t + i%8]. The sum over t is
// formed first, in order, then added.
func winoDW16Go(k int, d []float32, dgs, no int, v []float32, vgs, ni int, u []float32) {
	for o := range no {
		for i := range ni {
			var s float32
			for t := range k {
				s += d[(o/8)*dgs+8*t+o%8] * v[(i/8)*vgs+8*t+i%8]
			}
			u[o*ni+i] += s
		}
	}
}
