package nn

// ZeroPadShortcut is option A of He et al. §3.3: x[:, ::s, ::s] with (out−in) zero channels,
// split before and after as in the reference CIFAR code (planes/4 on each side).
// in is [inC, h, w]; out is [outC, ceil(h/s), ceil(w/s)].
func ZeroPadShortcut(in []float32, inC, h, w, outC, stride int, out []float32) {
	oh, ow := (h+stride-1)/stride, (w+stride-1)/stride
	front := (outC - inC) / 2
	clear(out[:front*oh*ow])
	clear(out[(front+inC)*oh*ow : outC*oh*ow])
	for c := 0; c < inC; c++ {
		src := in[c*h*w:]
		dst := out[(front+c)*oh*ow:]
		for y := 0; y < oh; y++ {
			row := src[y*stride*w:]
			for x := 0; x < ow; x++ {
				dst[y*ow+x] = row[x*stride]
			}
		}
	}
}
