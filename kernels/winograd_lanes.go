package kernels

import "unsafe"

// Lane-major Winograd F(4×4, 3×3) for batches of images. The row-major
// transforms (winograd.go) vectorise over 8 tiles of one tile row, so a map
// narrower than 32 columns leaves lanes idle: a 16×16 map fills half of
// them, an 8×8 map a quarter, and the transforms then cost more than the
// GEMMs (measured on CIFAR shapes at batch 128). Here each vector holds the
// same pixel of 8 images instead: a channel's 8 image planes are first
// interleaved into a zero-bordered lane-major buffer (lanesIn8), every tile
// is then transformed with plain vector arithmetic (winoInL6), and the
// output side mirrors it (winoOutL6, then lanesOut8 with the epilogue).
// Tile t of lane block b, lane l, is column (b·th·tw + t)·8 + l of V and M.
// The arithmetic is that of the row-major F4 kernels, so results agree with
// them up to rounding of the same operations in the same order.

// lanesApply reports whether the lane-major transforms handle p with
// algorithm k on path cur: F4 with the assembly kernels, rows a multiple of 8
// wide in and out (lanesIn8 and lanesOut8 move 8 pixels at a time), padding
// below 3.
func lanesApply(cur *isaImpl, k *winoKind, p ConvParams) bool {
	return k == winoF4 && cur.asm && p.InW%8 == 0 && p.OutW()%8 == 0 && p.PadH <= 2 && p.PadW <= 2
}

// lanesIn interleaves rows×cols pixels of the 8 planes src (rows w values
// apart) into dst[y·ds + 8x + l], with lanesIn8 where the rows allow.
func lanesIn(src *[8]*float32, w, rows, cols int, dst []float32, ds int) {
	_ = dst[(rows-1)*ds+8*cols-1]
	if cols == w && w%8 == 0 {
		lanesIn8(&src[0], w, rows, &dst[0], ds)
		return
	}
	lanesIn8Go(src, w, rows, cols, dst, ds)
}

// lanesIn8Go is lanesIn8 (cols = w) and the general case: pixels (y, x),
// y < rows, x < cols, of planes of rows w wide.
func lanesIn8Go(src *[8]*float32, w, rows, cols int, dst []float32, ds int) {
	for l, s := range src {
		plane := unsafe.Slice(s, (rows-1)*w+cols)
		for y := range rows {
			for x := range cols {
				dst[y*ds+8*x+l] = plane[y*w+x]
			}
		}
	}
}

// lanesOut8Go is lanesOut8: dst[l][y·w + x] = act(src[y·ss + 8x + l] + bias
// (+ res[l][y·w + x])) for y < h, x < w.
func lanesOut8Go(src []float32, w, h, ss int, dst, res *[8]*float32, flags int, bias float32) {
	for l := range dst {
		d := unsafe.Slice(dst[l], h*w)
		var r []float32
		if flags&1 != 0 {
			r = unsafe.Slice(res[l], h*w)
		}
		for y := range h {
			row := make([]float32, w)
			for x := range w {
				row[x] = src[y*ss+8*x+l]
			}
			var rr []float32
			if r != nil {
				rr = r[y*w : (y+1)*w]
			}
			storeTile(d[y*w:(y+1)*w], rr, 0, row, bias, flags&2 != 0)
		}
	}
}

// winoInL6Go is winoInL6: the F4 input transform of th×tw tiles of 8 images
// from the lane-major buffer p (rows rs values apart) to v (planes vs apart).
func winoInL6Go(p []float32, rs, th, tw int, v []float32, vs int) {
	var t [6][6]float32
	for ty := range th {
		for tx := range tw {
			for l := range 8 {
				for j := range 6 {
					at := (4*ty)*rs + 8*(4*tx+j) + l
					c := winoBTCol(p[at], p[at+rs], p[at+2*rs], p[at+3*rs], p[at+4*rs], p[at+5*rs])
					for i := range 6 {
						t[i][j] = c[i]
					}
				}
				for i := range 6 {
					r := winoBTCol(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5])
					for k, x := range r {
						v[(6*i+k)*vs+8*(ty*tw+tx)+l] = x
					}
				}
			}
		}
	}
}

// winoOutL6Go is winoOutL6: the F4 output transform of th×tw tiles of 8
// images from m (planes ms apart) to the lane-major q (rows qs apart).
func winoOutL6Go(m []float32, ms, th, tw int, q []float32, qs int) {
	var t [4][6]float32
	for ty := range th {
		for tx := range tw {
			for l := range 8 {
				at := 8*(ty*tw+tx) + l
				for nu := range 6 {
					c := winoATCol(m[(0+nu)*ms+at], m[(6+nu)*ms+at], m[(12+nu)*ms+at],
						m[(18+nu)*ms+at], m[(24+nu)*ms+at], m[(30+nu)*ms+at])
					for i := range 4 {
						t[i][nu] = c[i]
					}
				}
				for i := range 4 {
					y := winoATCol(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5])
					for j, x := range y {
						q[(4*ty+i)*qs+8*(4*tx+j)+l] = x
					}
				}
			}
		}
	}
}

// winoGroupFused is winoConvLayout for one group of n images with the lane-major transforms;
// in, residual and out start at the group's first image; cur has the assembly kernels. The three phases are fused per task:
// a task (a lane block of 8 images and enough tile rows for fusedCols columns of V and M)
// transforms its input for every channel, runs the 36 GEMMs on its columns and transforms its
// output, so that its V and M (36·C·32 values) stay in L2 rather than going through L3 or
// memory, and the pool is handed work once instead of three times: 1.2–1.25× faster than
// running the phases over the whole group on CIFAR layers. The last lane block of a group of
// n not a multiple of 8 computes zero images in its spare lanes and drops them.
func winoGroupFused(cur *isaImpl, p ConvParams, n int, in []float32, inL Layout, ww *winoWeights, bias, residual []float32, relu bool, out []float32, outL Layout) {
	blocks := ceilDiv(n, 8)
	g := newWinoGeom(ww.kind, p, 8)
	tr := min(g.th, max(1, ceilDiv(fusedCols(p), 8*g.tw))) // tile rows per task
	rowTasks := ceilDiv(g.th, tr)
	cols := 8 * tr * g.tw // V and M columns of a task (the last one may use fewer)
	vs, ms := planeStride(p.InC*cols), planeStride(p.OutC*cols)
	ph, pw := 4*tr+2, 4*g.tw+2 // lane-major input window of a task
	qs := 4 * g.tw * 8
	flags := 0
	if residual != nil {
		flags |= 1
	}
	if relu {
		flags |= 2
	}
	parallel(blocks*rowTasks, func(t int) {
		b, ty0 := t/rowTasks, t%rowTasks*tr
		nt := min(tr, g.th-ty0) // tile rows of this task
		nc := 8 * nt * g.tw
		buf := getScratch(36*(vs+ms) + ph*pw*8 + 6*pw*8 + 4*tr*qs + max(ph*p.InW, 4*tr*g.ow))
		v, m := (*buf)[:36*vs], (*buf)[36*vs:36*(vs+ms)]
		rest := (*buf)[36*(vs+ms):]
		pad, rest := rest[:ph*pw*8], rest[ph*pw*8:]
		e, rest := rest[:6*pw*8], rest[6*pw*8:]
		// zero is the source of spare lanes (ph rows at most), then their
		// output's destination.
		q, zero := rest[:4*tr*qs], rest[4*tr*qs:]
		clear(pad)
		clear(zero)
		// Input rows y0…y1-1 land in window rows y0+PadH-4·ty0….
		y0 := max(0, 4*ty0-p.PadH)
		y1 := min(p.InH, 4*(ty0+nt)+2-p.PadH)
		var src [8]*float32
		for c := range p.InC {
			for l := range src {
				src[l] = &zero[0]
				if img := 8*b + l; img < n {
					at := img*inL.Image + c*inL.Channel + y0*p.InW
					src[l] = &in[at : at+(y1-y0)*p.InW][0]
				}
			}
			if y1 > y0 {
				lanesIn(&src, p.InW, y1-y0, p.InW, pad[((y0+p.PadH-4*ty0)*pw+p.PadW)*8:], pw*8)
			}
			winoInL6(&pad[0], pw*8, nt, g.tw, &e[0], &v[c*cols], vs)
		}
		for x := range 36 {
			gemmPlane(cur, ww.u[x], p.InC, v[x*vs:], cols, m[x*ms:], cols, nc)
		}
		var dst, res [8]*float32
		oy := 4 * ty0
		rows := min(4*nt, g.oh-oy)
		for o := range p.OutC {
			var b0 float32
			if bias != nil {
				b0 = bias[o]
			}
			winoOutL6(&m[o*cols], ms, nt, g.tw, &q[0], qs)
			for l := range dst {
				dst[l], res[l] = &zero[0], &zero[0]
				if img := 8*b + l; img < n {
					at := img*outL.Image + o*outL.Channel + oy*g.ow
					dst[l] = &out[at : at+rows*g.ow][0]
					if residual != nil {
						res[l] = &residual[at : at+rows*g.ow][0]
					}
				}
			}
			lanesOut8(&q[0], g.ow, rows, qs, &dst[0], &res[0], flags, b0)
		}
		putScratch(buf)
	})
}

// fusedBytes is the V and M a task of winoGroupFused aims at (36 planes of its columns for
// the input and the output channels): 2.5 MiB, so that narrow layers get wide tasks.
// Measured on CIFAR's layers at batch 128 (medians of 11 interleaved rounds, Zen 4), against
// the former fixed 32 columns: 16 channels at 32×32 (512 columns a task: one lane block's
// whole map, each input row interleaved once instead of 1.5 times) 11% faster on one thread
// and 20% on two, 32 channels at 16×16 (256) 3–5%, 64 at 8×8 (128) alike; above 2.5 MiB
// nothing more was gained. A whole ResNet-20 training step (BenchmarkTrainStep, one thread,
// six alternating rounds of two binaries) was 0–8% faster, median 2%. A variable so
// benchmarks can compare (0: 32 columns).
var fusedBytes = 5 << 19

// fusedCols is the V and M columns a winoGroupFused task aims at for p: fusedBytes of them,
// at least 32.
func fusedCols(p ConvParams) int {
	if fusedBytes == 0 {
		return 32
	}
	return max(32, fusedBytes/(36*4*(p.InC+p.OutC)))
}

// gemmPlane sets M = U·V for one Winograd plane: U packed (M×K), V K×n (row stride ldv), M
// (row stride ldm), on path cur, which has the assembly kernels: when K is one K block,
// winoGemm16 (avx2) or winoGemm8x48 (avx512) for the columns in multiples of 16, reading V in
// place (packing it would cost as much as the product at CIFAR's 16 to 64 channels), the GEMM
// driver for the rest.
func gemmPlane(cur *isaImpl, u *PackedA, k int, v []float32, ldv int, m []float32, ldm, n int) {
	u = u.forKernel(cur.gemm)
	n0 := 0
	if k <= u.kc && n >= 16 && (cur.gemm.kind == kindAVX2 || cur.gemm.kind == kindAVX512) {
		n0 = n / 16 * 16
		_ = u.data[ceilDiv(u.m, u.mr)*u.mr*k-1]
		_ = v[(k-1)*ldv+n0-1]
		_ = m[(u.m-1)*ldm+n0-1]
		if cur.gemm.kind == kindAVX512 {
			winoGemm8x48(k, &u.data[0], u.m, &v[0], ldv, &m[0], ldm, n0)
		} else {
			winoGemm16(k, &u.data[0], u.m, &v[0], ldv, &m[0], ldm, n0)
		}
	}
	if n0 < n {
		ga := gemmArgs{m: u.m, n: n, k: k, pa: u, b: denseB{v, ldv}, c: m, ldc: ldm, isa: cur}
		b := cur.gemm.buf()
		ga.rect(0, u.m, n0, n, *b)
		cur.gemm.putBuf(b)
	}
}
