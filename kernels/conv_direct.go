package kernels

// Direct stride-2 convolutions on the AVX-512 path (convDirect64x1…6): no
// phase planes, no panels of B, the weights reordered once into blocks of 64
// output channels, [block][ic][kh][kw][64], and each output pixel's inputs
// broadcast where they lie in the NCHW input. As a GEMM, ResNet-50's 3×3/2
// layer into 28×28 spent ~15% of its time filling phase planes and gathering
// panels, and its kernel ran 10–15% below its rate alone; direct, in
// ResNet-50 passes on the 2-core Intel Xeon (session 23, 30–40 paired
// rounds), that layer took 0.48–0.51 ms less on one thread and 0.38–0.56
// less on two (−20…−27%), the layer into 14×14 0.10–0.15 and 0.07–0.12
// less; passes 0.987–0.991 of the time on one thread, 0.977–0.986 on two.
// Each output is one chain of fused multiply-adds over (ic, kh, kw), where
// the GEMM added K blocks of 256: the bits differ from the GEMM's, within the
// same error bound.

// directBlock is the output channels a direct kernel call computes.
const directBlock = 64

// directMinMap is the smallest output map computed direct. Below it (ResNet's
// 3×3/2 layer into 7×7) each weight serves 49 pixels and comes from memory in
// a pass; the GEMM streams and prefetches it better (+0.64 ms a one-thread
// ResNet-50 pass direct, session 23).
const directMinMap = 14 * 14

// directMaxPixels is the widest run of output pixels one call takes.
const directMaxPixels = 6

// directOff switches the direct route off, for alternations that measure it
// against the GEMM (DEVELOPERS.md, "Measuring speed").
var directOff bool

// directApplies reports whether the convolution p runs direct on the path
// cur: stride 2 both ways, whole blocks of 64 output channels, the
// AVX-512 kernels.
func directApplies(p ConvParams, cur *isaImpl) bool {
	return !directOff && cur.asm && cur.gemm == gemmAVX512 && p.StrideH == 2 && p.StrideW == 2 &&
		p.OutC%directBlock == 0 && p.KH == 3 && p.KW == 3 && p.OutH()*p.OutW() >= directMinMap
}

// directWeights reorders the OutC×InC×KH×KW weights w into the blocks the
// direct kernels read.
func directWeights(p ConvParams, w []float32) []float32 {
	taps := p.KH * p.KW
	d := make([]float32, len(w))
	for o := range p.OutC {
		blk, lane := o/directBlock, o%directBlock
		for c := range p.InC {
			for t := range taps {
				d[((blk*p.InC+c)*taps+t)*directBlock+lane] = w[(o*p.InC+c)*taps+t]
			}
		}
	}
	return d
}

var directKernels = [directMaxPixels + 1]func(x *float32, w *float32, ic int, nkh int, nkw int, plane int, row int, wic int, wkh int, out *float32, idx *int32, bias, tmp *float32, flags int){
	nil, convDirect64x1, convDirect64x2, convDirect64x3, convDirect64x4, convDirect64x5, convDirect64x6,
}

// directRun is one kernel call's pixels in an output row: np pixels from ox,
// each seeing kernel columns [kw0, kw1) (all of them where np > 1).
type directRun struct{ ox, np, kw0, kw1 int }

// directGeom is what a direct convolution's calls share for one geometry,
// worked out once per plan and input size (ConvPlan.directGeom): the runs of
// an output row and the scatter's lane offsets.
type directGeom struct {
	p    ConvParams
	runs []directRun
	idx  [16]int32 // lane l's output channel offset, l·OH·OW
}

func newDirectGeom(p ConvParams) *directGeom {
	g := &directGeom{p: p, runs: directRuns(p)}
	for l := range g.idx {
		g.idx[l] = int32(l * p.OutH() * p.OutW())
	}
	return g
}

// directZeroBias stands in for a missing bias: the kernels do not read it
// then (flags), but take a valid pointer.
var directZeroBias [directBlock]float32

// directRuns cuts an output row into kernel calls: the pixels whose taps
// all lie inside the input row in runs as even as directMaxPixels allows
// (a 7-pixel row as 4 and 3, not 6 and 1: a one-pixel call loads four
// weight vectors for four multiply-adds), the others one by one.
func directRuns(p ConvParams) []directRun {
	ow := p.OutW()
	var runs []directRun
	for ox := 0; ox < ow; {
		kw0, kw1 := max(0, p.PadW-2*ox), min(p.KW, p.InW+p.PadW-2*ox)
		if kw0 > 0 || kw1 < p.KW {
			runs = append(runs, directRun{ox, 1, kw0, kw1})
			ox++
			continue
		}
		end := ox + 1
		for end < ow && p.InW+p.PadW-2*end >= p.KW {
			end++
		}
		n := end - ox
		k := ceilDiv(n, directMaxPixels)
		for i := range k {
			a, b := ox+i*n/k, ox+(i+1)*n/k
			runs = append(runs, directRun{a, b - a, 0, p.KW})
		}
		ox = end
	}
	return runs
}

// convDirect computes the stride-2 convolution p of n images with the
// direct weights wd and the geometry g (of p): out = act(conv(in) + bias),
// NCHW. Tasks are (image,
// band of output rows, block of 64 output channels). Each task runs the
// input channels in groups whose weights fit in L1 (directICGroup), keeping
// its pixels' sums between groups in a pixel-major scratch and continuing
// their chains, so each output element is one chain of fused multiply-adds
// in (ic, kh, kw) order whatever the grouping and the thread count.
func convDirect(p ConvParams, n int, in, wd []float32, g *directGeom, bias []float32, relu bool, out []float32) {
	oh, ow := p.OutH(), p.OutW()
	ohw := oh * ow
	blocks := p.OutC / directBlock
	flags := 0
	if bias != nil {
		flags |= 1
	}
	if relu {
		flags |= 2
	}
	taps := p.KH * p.KW
	wBlock := p.InC * taps * directBlock
	plane, row := p.InH*p.InW*4, p.InW*4
	wic, wkh := taps*directBlock*4, p.KW*directBlock*4
	icg := max(1, directICGroup/(taps*directBlock*4))
	t := Threads()
	bands := max(1, min(oh, ceilDiv(2*t, n*blocks)))
	parallel(n*blocks*bands, func(task int) {
		// Band-major: a thread's contiguous tasks share rows of the input.
		img, rest := task/(blocks*bands), task%(blocks*bands)
		band, blk := rest/blocks, rest%blocks
		r0, r1 := band*oh/bands, (band+1)*oh/bands
		src := in[img*p.InC*p.InH*p.InW:]
		dst := out[(img*p.OutC+blk*directBlock)*ohw:]
		w := wd[blk*wBlock:]
		b, bs := &directZeroBias[0], []float32(nil)
		if bias != nil {
			bs = bias[blk*directBlock : (blk+1)*directBlock]
			b = &bs[0]
		}
		tmp := getScratch((r1 - r0) * ow * directBlock)
		defer putScratch(tmp)
		for c0 := 0; c0 < p.InC; c0 += icg {
			c1 := min(p.InC, c0+icg)
			fl := flags
			if c0 > 0 {
				fl |= 4
			}
			if c1 == p.InC {
				fl |= 8
			}
			for oy := r0; oy < r1; oy++ {
				kh0, kh1 := max(0, p.PadH-2*oy), min(p.KH, p.InH+p.PadH-2*oy)
				if kh1 <= kh0 {
					if c1 == p.InC {
						directEpilogueOnly(dst[oy*ow:], ow, ohw, bs, relu)
					}
					continue
				}
				iy := 2*oy - p.PadH + kh0
				for _, r := range g.runs {
					if r.kw1 <= r.kw0 {
						if c1 == p.InC {
							directEpilogueOnly(dst[oy*ow+r.ox:], 1, ohw, bs, relu)
						}
						continue
					}
					ix := 2*r.ox - p.PadW + r.kw0
					directKernels[r.np](&src[(c0*p.InH+iy)*p.InW+ix], &w[(c0*taps+kh0*p.KW+r.kw0)*directBlock], c1-c0, kh1-kh0, r.kw1-r.kw0,
						plane, row, wic, wkh, &dst[oy*ow+r.ox], &g.idx[0], b, &(*tmp)[((oy-r0)*ow+r.ox)*directBlock], fl)
				}
			}
		}
	})
}

// directICGroup is the bytes of weights one group of input channels may
// take: with the group's input rows, it stays in the 48 KiB L1 of the
// AVX-512 machines measured.
const directICGroup = 24 << 10

// directEpilogueOnly writes act(bias) to np pixels of 64 output channels
// that see no input (a convolution wholly in the padding): ReLU as the
// kernels' VMAXPS, which keeps a NaN and -0.
func directEpilogueOnly(dst []float32, np, ohw int, bias []float32, relu bool) {
	for o := range directBlock {
		v := float32(0)
		if bias != nil {
			v = bias[o]
		}
		if relu && v < 0 {
			v = 0
		}
		for q := range np {
			dst[o*ohw+q] = v
		}
	}
}
