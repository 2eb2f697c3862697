package nn

// geom is the geometry of a square-kernel convolution (or of its transpose) over a batch in
// the channel-major layout.
type geom struct {
	c, h, w int // input channels and size
	k, s, p int // kernel, stride, zero padding
	oh, ow  int // output size
}

func newGeom(c, h, w, k, s, p int) geom {
	return geom{c: c, h: h, w: w, k: k, s: s, p: p, oh: (h+2*p-k)/s + 1, ow: (w+2*p-k)/s + 1}
}

// rows is the height of the im2col matrix, c·k·k.
func (g geom) rows() int { return g.c * g.k * g.k }

// pointwise reports whether the im2col matrix of the whole batch is the input itself.
func (g geom) pointwise() bool { return g.k == 1 && g.s == 1 && g.p == 0 }

// xRange is the range [lo, hi) of output columns ox whose input column ox·s−p+kx lies inside
// the image.
func (g geom) xRange(kx int) (lo, hi int) {
	off := kx - g.p
	lo = 0
	if off < 0 {
		lo = (-off + g.s - 1) / g.s
	}
	hi = 0
	if g.w-off > 0 {
		hi = (g.w - off + g.s - 1) / g.s
	}
	hi = min(hi, g.ow)
	return min(lo, hi), hi
}

// A chunk of images of a channel-major tensor is passed as a slice starting at its first
// image and the channel stride cs: channel ch of image i (counted from the chunk's first) is
// the plane at x[ch·cs + i·h·w]. For a chunk of a whole batch of n images cs is n·h·w; for a
// chunk held in scratch memory it is the chunk's own image count times h·w.

// im2col writes the im2col matrix of the nimg images of the chunk x (channel stride cs) to
// col: row (ch, ky, kx) holds x[ch, i, oy·s−p+ky, ox·s−p+kx] (zero outside the image) for every
// image i and output position (oy, ox), so col is [c·k·k, nimg·oh·ow] with row stride ld.
func im2col(g geom, x []float32, cs, nimg int, col []float32, ld int) {
	if g.s == 1 && g.oh == g.h && g.ow == g.w {
		im2colSame(g, x, cs, nimg, col, ld)
		return
	}
	if g.phaseOK() {
		im2colPhase(g, x, cs, nimg, col, ld)
		return
	}
	im2colGather(g, x, cs, nimg, col, ld)
}

// im2colGather is im2col value by value, for any geometry.
func im2colGather(g geom, x []float32, cs, nimg int, col []float32, ld int) {
	hw, ohw := g.h*g.w, g.oh*g.ow
	r := 0
	for ch := 0; ch < g.c; ch++ {
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				lo, hi := g.xRange(kx)
				off := kx - g.p
				row := col[r*ld : r*ld+nimg*ohw]
				for i := 0; i < nimg; i++ {
					plane := x[ch*cs+i*hw : ch*cs+(i+1)*hw]
					for oy := 0; oy < g.oh; oy++ {
						dst := row[i*ohw+oy*g.ow : i*ohw+(oy+1)*g.ow]
						iy := oy*g.s - g.p + ky
						if iy < 0 || iy >= g.h {
							clear(dst)
							continue
						}
						src := plane[iy*g.w : (iy+1)*g.w]
						clear(dst[:lo])
						if g.s == 1 {
							copy(dst[lo:hi], src[lo+off:hi+off])
						} else {
							for ox := lo; ox < hi; ox++ {
								dst[ox] = src[ox*g.s+off]
							}
						}
						clear(dst[hi:])
					}
				}
				r++
			}
		}
	}
}

// im2colSame is im2col for a stride-1 convolution whose output has the input's size. Row
// (ch, ky, kx) is then the channel's planes shifted by (ky−p)·w + (kx−p) values, one copy for
// all images of the chunk, after which the positions that the shift took across an image's
// top or bottom edge or its left or right border are cleared.
func im2colSame(g geom, x []float32, cs, nimg int, col []float32, ld int) {
	hw := g.h * g.w
	cols := nimg * hw
	r := 0
	for ch := 0; ch < g.c; ch++ {
		src := x[ch*cs : ch*cs+cols]
		for ky := 0; ky < g.k; ky++ {
			dy := ky - g.p
			for kx := 0; kx < g.k; kx++ {
				dx := kx - g.p
				d := dy*g.w + dx
				row := col[r*ld : r*ld+cols]
				lo, hi := max(0, -d), min(cols, cols-d)
				copy(row[lo:hi], src[lo+d:hi+d])
				clear(row[:lo])
				clear(row[hi:])
				for i := 0; i < nimg; i++ {
					img := row[i*hw : (i+1)*hw]
					if dy < 0 {
						clear(img[:-dy*g.w])
					} else if dy > 0 {
						clear(img[(g.h-dy)*g.w:])
					}
					// The border columns: x < −dx or x ≥ w−dx.
					for c0 := 0; c0 < -dx; c0++ {
						for j := c0; j < hw; j += g.w {
							img[j] = 0
						}
					}
					for c0 := g.w - dx; c0 < g.w; c0++ {
						for j := c0; j < hw; j += g.w {
							img[j] = 0
						}
					}
				}
				r++
			}
		}
	}
}

// col2im is the adjoint of im2col: it adds every entry of col ([c·k·k, nimg·oh·ow], row
// stride ld) to the input position it was read from, in the chunk dx (channel stride cs).
// The entries im2col sets to zero (read from outside the image) are dropped, and col may be
// overwritten there. Without add, dx is overwritten instead (zero where nothing lands).
func col2im(g geom, col []float32, ld, nimg int, dx []float32, cs int, add bool) {
	if g.phaseOK() {
		col2imPhase(g, col, ld, nimg, dx, cs, add)
		return
	}
	if !add {
		for ch := 0; ch < g.c; ch++ {
			clear(dx[ch*cs : ch*cs+nimg*g.h*g.w])
		}
	}
	col2imScatter(g, col, ld, nimg, dx, cs)
}

// col2imScatter is col2im value by value, for any geometry.
func col2imScatter(g geom, col []float32, ld, nimg int, dx []float32, cs int) {
	hw, ohw := g.h*g.w, g.oh*g.ow
	r := 0
	for ch := 0; ch < g.c; ch++ {
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				lo, hi := g.xRange(kx)
				off := kx - g.p
				row := col[r*ld : r*ld+nimg*ohw]
				for i := 0; i < nimg; i++ {
					plane := dx[ch*cs+i*hw : ch*cs+(i+1)*hw]
					for oy := 0; oy < g.oh; oy++ {
						iy := oy*g.s - g.p + ky
						if iy < 0 || iy >= g.h {
							continue
						}
						src := row[i*ohw+oy*g.ow : i*ohw+(oy+1)*g.ow]
						dst := plane[iy*g.w : (iy+1)*g.w]
						if g.s == 1 {
							d := dst[lo+off : hi+off]
							for j, v := range src[lo:hi] {
								d[j] += v
							}
						} else {
							for ox := lo; ox < hi; ox++ {
								dst[ox*g.s+off] += src[ox]
							}
						}
					}
				}
				r++
			}
		}
	}
}

// im2row writes the im2col matrix of nimg images transposed, one row per output position
// (i, oy, ox) holding its receptive field in (ky, kx, ch) order, from xt, the images in
// pixel-major layout ([nimg·h·w, c]). Within a kernel row the k·c values are contiguous in
// xt, so a row is k copies (zeros outside the image). rows is [nimg·oh·ow, k·k·c].
func im2row(g geom, xt []float32, nimg int, rows []float32) {
	kc := g.k * g.c
	r := kc * g.k
	for i := 0; i < nimg; i++ {
		img := xt[i*g.h*g.w*g.c : (i+1)*g.h*g.w*g.c]
		for oy := 0; oy < g.oh; oy++ {
			y0 := oy*g.s - g.p
			inside := y0 >= 0 && y0+g.k <= g.h
			for ox := 0; ox < g.ow; ox++ {
				row := rows[((i*g.oh+oy)*g.ow+ox)*r : ((i*g.oh+oy)*g.ow+ox+1)*r]
				x0 := ox*g.s - g.p
				if inside && x0 >= 0 && x0+g.k <= g.w {
					// The whole field is inside the image: k plain copies.
					for ky := 0; ky < g.k; ky++ {
						base := ((y0+ky)*g.w + x0) * g.c
						copy(row[ky*kc:(ky+1)*kc], img[base:base+kc])
					}
					continue
				}
				kx0, kx1 := max(0, -x0), min(g.k, g.w-x0)
				for ky := 0; ky < g.k; ky++ {
					dst := row[ky*kc : (ky+1)*kc]
					iy := y0 + ky
					if iy < 0 || iy >= g.h || kx0 >= kx1 {
						clear(dst)
						continue
					}
					base := (iy*g.w + x0) * g.c
					clear(dst[:kx0*g.c])
					copy(dst[kx0*g.c:kx1*g.c], img[base+kx0*g.c:base+kx1*g.c])
					clear(dst[kx1*g.c:])
				}
			}
		}
	}
}

// transpose writes the rows×cols matrix src (row stride lds) transposed into dst (cols×rows,
// row stride ldd). Eight source rows are read side by side so every destination row gets
// eight consecutive values at once, over column blocks whose destination stays in L1.
func transpose(rows, cols int, src []float32, lds int, dst []float32, ldd int) {
	const block = 128
	for j0 := 0; j0 < cols; j0 += block {
		j1 := min(j0+block, cols)
		i := 0
		for ; i+8 <= rows; i += 8 {
			s0 := src[i*lds+j0 : i*lds+j1]
			s1 := src[(i+1)*lds+j0 : (i+1)*lds+j1]
			s2 := src[(i+2)*lds+j0 : (i+2)*lds+j1]
			s3 := src[(i+3)*lds+j0 : (i+3)*lds+j1]
			s4 := src[(i+4)*lds+j0 : (i+4)*lds+j1]
			s5 := src[(i+5)*lds+j0 : (i+5)*lds+j1]
			s6 := src[(i+6)*lds+j0 : (i+6)*lds+j1]
			s7 := src[(i+7)*lds+j0 : (i+7)*lds+j1]
			for j := range s0 {
				d := (*[8]float32)(dst[(j0+j)*ldd+i:])
				d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = s0[j], s1[j], s2[j], s3[j], s4[j], s5[j], s6[j], s7[j]
			}
		}
		for ; i < rows; i++ {
			for j, v := range src[i*lds+j0 : i*lds+j1] {
				dst[(j0+j)*ldd+i] = v
			}
		}
	}
}

// Strided convolutions through phase planes. With stride s, input row iy = oy·s + t (t = ky−p)
// lies in phase t mod s, at phase row oy + ⌊t/s⌋. Splitting each channel's planes once into
// their s·s phase planes, each oh×ow (output-sized, zero where they leave the image), turns
// every im2col row into one phase plane shifted by whole phase rows and columns: a single
// copy for the chunk, as for stride 1 (im2colSame), instead of a strided gather per value.
// This holds when no kernel offset reaches past the output-sized phase plane (k−1−p < s), as
// in ResNet's 3×3/2 convolutions (padding 1). On CIFAR's 3×3/2 16→32 layer at batch
// 128 (Zen 4, one thread) the gather-based im2col took 73% of the forward pass.

// phaseOK reports whether im2col and col2im take the phase-plane route for g: a kernel at
// least as wide as the stride (a 1×1/2 kernel reads one phase of s·s, which a gather reads
// directly), none of whose offsets reaches past the output-sized phase planes.
func (g geom) phaseOK() bool { return g.s > 1 && g.k >= g.s && g.k-1-g.p < g.s }

// phaseOf returns the phase of kernel offset k and its shift in phase rows (≤ 0 when phaseOK).
func (g geom) phaseOf(k int) (ph, q int) {
	t := k - g.p
	ph = (t%g.s + g.s) % g.s
	return ph, (t - ph) / g.s
}

// splitPhases writes the phase planes of one channel of the chunk's nimg images (plane of
// image i at x[i·h·w]) to q: phase (py, px) of image i at q[(py·s+px)·nimg·oh·ow + i·oh·ow],
// q[…+a·ow+b] = x[i, a·s+py, b·s+px], zero outside the image.
func splitPhases(g geom, x []float32, nimg int, q []float32) {
	hw, ohw := g.h*g.w, g.oh*g.ow
	blk := nimg * ohw
	for i := 0; i < nimg; i++ {
		plane := x[i*hw : (i+1)*hw]
		for py := 0; py < g.s; py++ {
			for a := 0; a < g.oh; a++ {
				iy := a*g.s + py
				off := i*ohw + a*g.ow
				if iy >= g.h {
					for px := 0; px < g.s; px++ {
						clear(q[(py*g.s+px)*blk+off:][:g.ow])
					}
					continue
				}
				src := plane[iy*g.w : (iy+1)*g.w]
				if g.s == 2 {
					d0 := q[(py*2)*blk+off:][:g.ow]
					d1 := q[(py*2+1)*blk+off:][:g.ow]
					n1 := min(g.ow, g.w/2) // columns with both phases inside
					pairs := src[:2*n1]
					for b := 0; b < n1; b++ {
						d0[b], d1[b] = pairs[2*b], pairs[2*b+1]
					}
					if n1 < g.ow && 2*n1 < g.w {
						d0[n1], d1[n1] = src[2*n1], 0
						n1++
					}
					clear(d0[n1:])
					clear(d1[n1:])
					continue
				}
				for px := 0; px < g.s; px++ {
					d := q[(py*g.s+px)*blk+off:][:g.ow]
					for b := range d {
						if ix := b*g.s + px; ix < g.w {
							d[b] = src[ix]
						} else {
							d[b] = 0
						}
					}
				}
			}
		}
	}
}

// mergePhases adds the phase planes q (as splitPhases writes them) back into one channel of
// the chunk's images dx (plane of image i at dx[i·h·w]), or with add false writes them there;
// input positions beyond the phase planes (never read when phaseOK) get nothing (zero).
func mergePhases(g geom, q []float32, nimg int, dx []float32, add bool) {
	hw, ohw := g.h*g.w, g.oh*g.ow
	blk := nimg * ohw
	for i := 0; i < nimg; i++ {
		plane := dx[i*hw : (i+1)*hw]
		rows := min(g.h, g.oh*g.s)
		if !add {
			clear(plane[rows*g.w:])
		}
		for iy := 0; iy < rows; iy++ {
			a, py := iy/g.s, iy%g.s
			off := i*ohw + a*g.ow
			dst := plane[iy*g.w : (iy+1)*g.w]
			if g.s == 2 {
				s0 := q[(py*2)*blk+off:][:g.ow]
				s1 := q[(py*2+1)*blk+off:][:g.ow]
				n1 := min(g.ow, g.w/2)
				pairs := dst[:2*n1]
				tail := 2 * n1
				if add {
					for b := 0; b < n1; b++ {
						pairs[2*b] += s0[b]
						pairs[2*b+1] += s1[b]
					}
					if n1 < g.ow && tail < g.w {
						dst[tail] += s0[n1]
					}
					continue
				}
				for b := 0; b < n1; b++ {
					pairs[2*b], pairs[2*b+1] = s0[b], s1[b]
				}
				if n1 < g.ow && tail < g.w {
					dst[tail] = s0[n1]
					tail++
				}
				clear(dst[tail:])
				continue
			}
			cols := min(g.w, g.ow*g.s)
			for ix := 0; ix < cols; ix++ {
				v := q[(py*g.s+ix%g.s)*blk+off+ix/g.s]
				if add {
					dst[ix] += v
				} else {
					dst[ix] = v
				}
			}
			if !add {
				clear(dst[cols:])
			}
		}
	}
}

// phaseRows calls f for the im2col rows (ch, ky, kx) of channel ch: the row's index r, the
// phase plane it reads, and how many phase rows (top) and columns (left) back it reads.
func (g geom) phaseRows(ch int, f func(r, plane, top, left int)) {
	r := ch * g.k * g.k
	for ky := 0; ky < g.k; ky++ {
		py, qy := g.phaseOf(ky)
		for kx := 0; kx < g.k; kx++ {
			px, qx := g.phaseOf(kx)
			f(r, py*g.s+px, min(-qy, g.oh), min(-qx, g.ow))
			r++
		}
	}
}

// clearShifted zeroes, in every image of an im2col row, the positions that a shift of top
// phase rows and left phase columns back reads from outside the image.
func (g geom) clearShifted(row []float32, nimg, top, left int) {
	ohw := g.oh * g.ow
	for i := 0; i < nimg; i++ {
		img := row[i*ohw : (i+1)*ohw]
		clear(img[:top*g.ow])
		for oy := top; oy < g.oh && left > 0; oy++ {
			clear(img[oy*g.ow : oy*g.ow+left])
		}
	}
}

// im2colPhase is im2col through phase planes (phaseOK).
func im2colPhase(g geom, x []float32, cs, nimg int, col []float32, ld int) {
	cols := nimg * g.oh * g.ow
	qb := getScratch(g.s * g.s * cols)
	defer putScratch(qb)
	q := *qb
	for ch := 0; ch < g.c; ch++ {
		splitPhases(g, x[ch*cs:], nimg, q)
		g.phaseRows(ch, func(r, plane, top, left int) {
			// row[j] = src[j−d], d = top·ow + left, then what the shift took from before
			// each image's first phase row or column is cleared.
			src, row := q[plane*cols:(plane+1)*cols], col[r*ld:r*ld+cols]
			d := min(top*g.ow+left, cols)
			copy(row[d:], src)
			clear(row[:d])
			g.clearShifted(row, nimg, top, left)
		})
	}
}

// col2imPhase is col2im through phase planes (phaseOK): each row of col is added, shifted,
// into its phase plane, and the phase planes into dx. The entries the forward shift read from
// outside an image (its first −qy phase rows and −qx phase columns) are zeroed in col first,
// which may therefore be overwritten, so that a whole row goes in with one contiguous add: the
// zeros land on neighbouring positions, which they leave as they were.
func col2imPhase(g geom, col []float32, ld, nimg int, dx []float32, cs int, add bool) {
	cols := nimg * g.oh * g.ow
	qb := getScratch(g.s * g.s * cols)
	defer putScratch(qb)
	q := *qb
	for ch := 0; ch < g.c; ch++ {
		clear(q)
		g.phaseRows(ch, func(r, plane, top, left int) {
			dst, row := q[plane*cols:(plane+1)*cols], col[r*ld:r*ld+cols]
			g.clearShifted(row, nimg, top, left)
			// dst[j − d] += row[j]; j < d would read before the chunk.
			if d := top*g.ow + left; d < cols {
				addTo(dst[:cols-d], row[d:])
			}
		})
		mergePhases(g, q, nimg, dx[ch*cs:], add)
	}
}

// addTo sets dst[i] += src[i] for i < len(dst).
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	if n := vecLen(len(dst)); n > 0 {
		addVec(&dst[0], &src[0], n)
		dst, src = dst[n:], src[n:]
	}
	for i, v := range src {
		dst[i] += v
	}
}
