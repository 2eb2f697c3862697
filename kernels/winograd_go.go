package kernels

// The portable Winograd transforms. The F4 ones specify the assembly
// (winoIn6, winoOut6), which uses the same factorisation vectorised over 8
// tiles; F2 has only these.

// winoInputGo transforms one F4 tile row: tile tx reads rows[i][4tx-padW+j]
// (zero outside the row) and writes element ξ of Bᵀ d B to v[ξ·stride+tx].
func winoInputGo(rows *[6][]float32, padW, tw int, v []float32, stride int) {
	var d, t [6][6]float32
	for tx := range tw {
		x0 := 4*tx - padW
		for i := range 6 {
			r := rows[i]
			for j := range 6 {
				if x := x0 + j; x >= 0 && x < len(r) {
					d[i][j] = r[x]
				} else {
					d[i][j] = 0
				}
			}
		}
		// Bᵀ d (columns), then (Bᵀ d) B (rows).
		for j := range 6 {
			c := winoBTCol(d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j])
			for i := range 6 {
				t[i][j] = c[i]
			}
		}
		for i := range 6 {
			r := winoBTCol(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5])
			for j, x := range r {
				v[(i*6+j)*stride+tx] = x
			}
		}
	}
}

// winoBTCol is the F4 Bᵀx for one 6-vector, factored as the assembly does.
func winoBTCol(x0, x1, x2, x3, x4, x5 float32) [6]float32 {
	p := x4 - 4*x2
	q := x3 - 4*x1
	r := x4 - x2
	s := 2 * (x3 - x1)
	return [6]float32{
		4*x0 - 5*x2 + x4,
		p + q,
		p - q,
		r + s,
		r - s,
		4*x1 - 5*x3 + x5,
	}
}

// winoATCol is the F4 Aᵀm for one 6-vector.
func winoATCol(m0, m1, m2, m3, m4, m5 float32) [4]float32 {
	a, b := m1+m2, m1-m2
	c, d := m3+m4, m3-m4
	return [4]float32{m0 + a + c, b + 2*d, a + 4*c, b + 8*d + m5}
}

// winoOutputGo inverts one F4 tile row: tile tx gathers m[ξ·stride+tx] and
// writes Aᵀ M A + bias (+ res) (then ReLU) to out[i][4tx+j] where that
// column exists. res rows are nil when there is no residual.
func winoOutputGo(m []float32, stride, tw int, out, res *[4][]float32, bias float32, relu bool) {
	var t [4][6]float32
	for tx := range tw {
		for j := range 6 {
			c := winoATCol(m[(0*6+j)*stride+tx], m[(1*6+j)*stride+tx], m[(2*6+j)*stride+tx],
				m[(3*6+j)*stride+tx], m[(4*6+j)*stride+tx], m[(5*6+j)*stride+tx])
			for i := range 4 {
				t[i][j] = c[i]
			}
		}
		for i := range 4 {
			y := winoATCol(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5])
			storeTile(out[i], res[i], 4*tx, y[:], bias, relu)
		}
	}
}

// storeTile writes the columns col… of one output row of a tile that exist,
// adding bias and the residual row res (if not nil), then ReLU.
func storeTile(out, res []float32, col int, y []float32, bias float32, relu bool) {
	for j, x := range y {
		if col+j >= len(out) {
			return
		}
		x += bias
		if res != nil {
			x += res[col+j]
		}
		if relu && x < 0 {
			x = 0
		}
		out[col+j] = x
	}
}

// winoInput2Go is winoInputGo for F2: 4×4 patches at stride 2.
func winoInput2Go(rows *[4][]float32, padW, tw int, v []float32, stride int) {
	var d [4][4]float32
	for tx := range tw {
		x0 := 2*tx - padW
		for i := range 4 {
			r := rows[i]
			if x0 >= 0 && x0+4 <= len(r) {
				d[i] = [4]float32(r[x0 : x0+4])
				continue
			}
			for j := range 4 {
				if x := x0 + j; x >= 0 && x < len(r) {
					d[i][j] = r[x]
				} else {
					d[i][j] = 0
				}
			}
		}
		// Bᵀ d: rows r0-r2, r1+r2, r2-r1, r1-r3; then the same on columns.
		var t [4][4]float32
		for j := range 4 {
			t[0][j] = d[0][j] - d[2][j]
			t[1][j] = d[1][j] + d[2][j]
			t[2][j] = d[2][j] - d[1][j]
			t[3][j] = d[1][j] - d[3][j]
		}
		for i := range 4 {
			r := &t[i]
			o := v[i*4*stride+tx:]
			o[0] = r[0] - r[2]
			o[stride] = r[1] + r[2]
			o[2*stride] = r[2] - r[1]
			o[3*stride] = r[1] - r[3]
		}
	}
}

// winoOutput2Go is winoOutputGo for F2: Aᵀ M A with Aᵀ = [1 1 1 0; 0 1 -1 -1].
func winoOutput2Go(m []float32, stride, tw int, out, res *[2][]float32, bias float32, relu bool) {
	for tx := range tw {
		var q [4][4]float32
		for x := range 16 {
			q[x/4][x%4] = m[x*stride+tx]
		}
		var t [2][4]float32
		for j := range 4 {
			t[0][j] = q[0][j] + q[1][j] + q[2][j]
			t[1][j] = q[1][j] - q[2][j] - q[3][j]
		}
		for i := range 2 {
			r := &t[i]
			y := [2]float32{r[0] + r[1] + r[2], r[1] - r[2] - r[3]}
			storeTile(out[i], res[i], 2*tx, y[:], bias, relu)
		}
	}
}
