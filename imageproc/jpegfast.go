package imageproc

import (
	"encoding/binary"
	"image"
	"math/bits"
)

// A JPEG decoder that gives image/jpeg's output bit for bit, faster.
//
// It follows image/jpeg's reader.go and scan.go step by step (the same
// marker loop, block order, coefficient arithmetic, progressive bookkeeping,
// and its inverse DCT, copied in jpegidct.go), but reads the entropy-coded
// data through a 64-bit bit buffer with a 9-bit Huffman look-up table, keeps
// progressive coefficients in place instead of copying each block in and out
// for every scan, and skips the IDCT work of all-zero rows. It decodes only
// what it is sure to decode as image/jpeg does: any error, and anything
// unusual (4-component or RGB JPEGs, an over-subscribed Huffman table,
// entropy data that runs into a marker, a restart marker out of place)
// returns ok == false and the caller decodes with image/jpeg instead, so
// results and error messages are image/jpeg's whatever the input. One
// exception: restart intervals in non-interleaved scans of subsampled
// components, which image/jpeg miscounts (see scan), are read as the
// standard and libjpeg read them.
//
// On the 20 ImageNet validation JPEGs (progressive 4:2:0, mostly 512×512)
// image/jpeg takes 5.8 ms per image on one Zen 4 core, this decoder 3.8 ms in
// Go and 2.5 ms with the AVX2 inverse DCT (idctAVX2, on the avx2 and avx512
// paths); libjpeg-turbo (with its SIMD) takes 2.9 ms through Pillow,
// colour conversion included.

const (
	jSOF0  = 0xc0 // Start Of Frame (Baseline Sequential).
	jSOF1  = 0xc1 // Start Of Frame (Extended Sequential).
	jSOF2  = 0xc2 // Start Of Frame (Progressive).
	jDHT   = 0xc4 // Define Huffman Table.
	jRST0  = 0xd0 // ReSTart (0).
	jRST7  = 0xd7 // ReSTart (7).
	jSOI   = 0xd8 // Start Of Image.
	jEOI   = 0xd9 // End Of Image.
	jSOS   = 0xda // Start Of Scan.
	jDQT   = 0xdb // Define Quantization Table.
	jDRI   = 0xdd // Define Restart Interval.
	jCOM   = 0xfe // COMment.
	jAPP0  = 0xe0
	jAPP14 = 0xee
	jAPP15 = 0xef

	jLUTBits = 9 // Huffman codes up to this length decode with one look-up
)

// jUnzig maps zig-zag order to natural order.
var jUnzig = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

// jBlock is one 8×8 block of coefficients in natural order (image/jpeg's
// block type).
type jBlock [64]int32

type jComponent struct {
	h, v int   // sampling factors
	c    uint8 // component identifier
	tq   uint8 // quantization table
}

// jHuffman is one decoding table.
type jHuffman struct {
	n int32 // number of codes; 0 means undefined
	// lut is indexed by the next jLUTBits bits: value<<8 | code length, or 0
	// for a longer code (or none).
	lut [1 << jLUTBits]uint16
	// maxCode[l] is the largest code of length l (-1: none); a code of
	// length l decodes to vals[valPtr[l]+code].
	maxCode [17]int32
	valPtr  [17]int32
	vals    [256]uint8
	// fastAC decodes, for an AC table, a code and its extra bits together
	// when they fit in jLUTBits: int16(value)<<16 | run<<10 | code
	// length<<5 | total length, or 0.
	fastAC [1 << jLUTBits]uint32
}

type jpegDecoder struct {
	data []byte
	pos  int // next byte of data for the marker-level reader

	width, height int
	nComp         int
	baseline      bool
	progressive   bool
	jfif          bool
	adobeValid    bool
	adobeXform    uint8
	ri            int    // restart interval
	eobRun        uint16 // end-of-band run, carried across scans as image/jpeg does

	comp  [4]jComponent
	quant [4][64]int32 // natural order (image/jpeg keeps zig-zag order; the products are the same)
	huff  [2][4]jHuffman
	prog  [4][]jBlock // progressive coefficients
	// nonzero[c][i] has bit k set when AC coefficient k (zig-zag order) of
	// prog[c][i] is non-zero. Coefficients only ever go from zero to
	// non-zero, so refinement can visit the non-zero ones by their bits
	// instead of testing all of a band.
	nonzero [4][]uint64
	img1    *image.Gray
	img3    *image.YCbCr
	// pooled: img3's planes come from planePool, in planes, for the caller
	// to give back.
	pooled bool
	planes []byte

	// Entropy-coded data: acc holds nbits bits, most significant first;
	// epos is the next unread byte. Once the data runs into a marker, zero
	// bits are appended and counted in fake: a scan that consumed any of
	// them ran past its data, which image/jpeg reports as an error.
	acc      uint64
	nbits    int
	fake     int
	epos     int
	atMarker bool

	avx bool // idctAVX2 for blocks with AC coefficients

	// restartsPerBlock records that a non-interleaved scan of a subsampled
	// component had a restart interval, counted in blocks (see scan): data
	// image/jpeg rejects, for the tests.
	restartsPerBlock bool
}

// fastJPEG decodes data as image/jpeg.Decode would, returning an
// *image.YCbCr or *image.Gray, or ok == false where image/jpeg must decode
// it (an error, or a case this decoder does not handle).
func fastJPEG(data []byte) (m image.Image, ok bool) {
	d := &jpegDecoder{data: data, avx: useAVX2()}
	defer d.releaseCoefficients()
	return d.decode()
}

// fastJPEGPooled is fastJPEG with a 3-component image's planes from planePool:
// once m is no longer used, give planes back with planePool.put (it is nil
// where they were not pooled).
func fastJPEGPooled(data []byte) (m image.Image, planes []byte, ok bool) {
	d := &jpegDecoder{data: data, avx: useAVX2(), pooled: true}
	defer d.releaseCoefficients()
	m, ok = d.decode()
	if !ok {
		planePool.put(d.planes)
		return nil, nil, false
	}
	return m, d.planes, true
}

// releaseCoefficients gives the progressive coefficients back to their pools
// (they never leave the decoder).
func (d *jpegDecoder) releaseCoefficients() {
	for i := range d.prog {
		blockPool.put(d.prog[i])
		nonzeroPool.put(d.nonzero[i])
		d.prog[i], d.nonzero[i] = nil, nil
	}
}

// read returns the next n bytes of a marker segment.
func (d *jpegDecoder) read(n int) ([]byte, bool) {
	if n < 0 || n > len(d.data)-d.pos {
		return nil, false
	}
	b := d.data[d.pos : d.pos+n]
	d.pos += n
	return b, true
}

func (d *jpegDecoder) readByte() (byte, bool) {
	if d.pos >= len(d.data) {
		return 0, false
	}
	d.pos++
	return d.data[d.pos-1], true
}

// decode is image/jpeg's decoder.decode.
func (d *jpegDecoder) decode() (image.Image, bool) {
	if len(d.data) < 2 || d.data[0] != 0xff || d.data[1] != jSOI {
		return nil, false
	}
	d.pos = 2
	for {
		t, ok := d.read(2)
		if !ok {
			return nil, false
		}
		t0, t1 := t[0], t[1]
		for t0 != 0xff {
			t0 = t1
			if t1, ok = d.readByte(); !ok {
				return nil, false
			}
		}
		marker := t1
		if marker == 0 {
			// Treat "\xff\x00" as extraneous data.
			continue
		}
		for marker == 0xff {
			if marker, ok = d.readByte(); !ok {
				return nil, false
			}
		}
		if marker == jEOI {
			break
		}
		if jRST0 <= marker && marker <= jRST7 {
			continue
		}
		t, ok = d.read(2)
		if !ok {
			return nil, false
		}
		n := int(t[0])<<8 + int(t[1]) - 2
		if n < 0 {
			return nil, false
		}
		switch marker {
		case jSOF0, jSOF1, jSOF2:
			d.baseline = marker == jSOF0
			d.progressive = marker == jSOF2
			ok = d.processSOF(n)
		case jDHT:
			ok = d.processDHT(n)
		case jDQT:
			ok = d.processDQT(n)
		case jSOS:
			ok = d.processSOS(n)
		case jDRI:
			ok = d.processDRI(n)
		case jAPP0:
			ok = d.processApp0(n)
		case jAPP14:
			ok = d.processApp14(n)
		default:
			if jAPP0 <= marker && marker <= jAPP15 || marker == jCOM {
				_, ok = d.read(n)
			} else {
				ok = false
			}
		}
		if !ok {
			return nil, false
		}
	}
	if d.progressive {
		d.reconstructProgressive()
	}
	if d.img1 != nil {
		return d.img1, true
	}
	if d.img3 != nil && !d.isRGB() {
		return d.img3, true
	}
	return nil, false
}

// isRGB is image/jpeg's test for a 3-component image stored as RGB, which it
// converts to RGBA; those go to image/jpeg.
func (d *jpegDecoder) isRGB() bool {
	if d.jfif {
		return false
	}
	if d.adobeValid && d.adobeXform == 0 {
		return true
	}
	return d.comp[0].c == 'R' && d.comp[1].c == 'G' && d.comp[2].c == 'B'
}

func (d *jpegDecoder) processSOF(n int) bool {
	if d.nComp != 0 {
		return false // multiple SOF markers
	}
	switch n {
	case 6 + 3*1:
		d.nComp = 1
	case 6 + 3*3:
		d.nComp = 3
	default:
		return false // CMYK/YCCK (left to image/jpeg) or a bad length
	}
	t, ok := d.read(n)
	if !ok || t[0] != 8 {
		return false
	}
	d.height = int(t[1])<<8 + int(t[2])
	d.width = int(t[3])<<8 + int(t[4])
	if int(t[5]) != d.nComp || d.width == 0 || d.height == 0 {
		return false
	}
	for i := 0; i < d.nComp; i++ {
		d.comp[i].c = t[6+3*i]
		for j := 0; j < i; j++ {
			if d.comp[i].c == d.comp[j].c {
				return false
			}
		}
		d.comp[i].tq = t[8+3*i]
		if d.comp[i].tq > 3 {
			return false
		}
		hv := t[7+3*i]
		h, v := int(hv>>4), int(hv&0x0f)
		if h < 1 || 4 < h || v < 1 || 4 < v || h == 3 || v == 3 {
			return false
		}
		if d.nComp == 1 {
			h, v = 1, 1
		} else {
			switch i {
			case 0:
				if v == 4 {
					return false
				}
			case 1:
				if d.comp[0].h%h != 0 || d.comp[0].v%v != 0 {
					return false
				}
			case 2:
				if d.comp[1].h != h || d.comp[1].v != v {
					return false
				}
			}
		}
		d.comp[i].h, d.comp[i].v = h, v
	}
	return true
}

func (d *jpegDecoder) processDQT(n int) bool {
	for n > 0 {
		n--
		x, ok := d.readByte()
		if !ok {
			return false
		}
		tq := x & 0x0f
		if tq > 3 {
			return false
		}
		switch x >> 4 {
		case 0:
			t, ok := d.read(64)
			if n < 64 || !ok {
				return false
			}
			n -= 64
			for i, u := range jUnzig {
				d.quant[tq][u] = int32(t[i])
			}
		case 1:
			t, ok := d.read(128)
			if n < 128 || !ok {
				return false
			}
			n -= 128
			for i, u := range jUnzig {
				d.quant[tq][u] = int32(t[2*i])<<8 | int32(t[2*i+1])
			}
		default:
			return false
		}
	}
	return n == 0
}

func (d *jpegDecoder) processDRI(n int) bool {
	t, ok := d.read(2)
	if n != 2 || !ok {
		return false
	}
	d.ri = int(t[0])<<8 + int(t[1])
	return true
}

func (d *jpegDecoder) processApp0(n int) bool {
	if n < 5 {
		_, ok := d.read(n)
		return ok
	}
	t, ok := d.read(5)
	if !ok {
		return false
	}
	d.jfif = string(t) == "JFIF\x00"
	_, ok = d.read(n - 5)
	return ok
}

func (d *jpegDecoder) processApp14(n int) bool {
	if n < 12 {
		_, ok := d.read(n)
		return ok
	}
	t, ok := d.read(12)
	if !ok {
		return false
	}
	if string(t[:5]) == "Adobe" {
		d.adobeValid = true
		d.adobeXform = t[11]
	}
	_, ok = d.read(n - 12)
	return ok
}

// processDHT reads Huffman tables, refusing over-subscribed ones (more codes
// of some length than fit), for which image/jpeg's look-up table differs from
// a canonical decoder.
func (d *jpegDecoder) processDHT(n int) bool {
	for n > 0 {
		if n < 17 {
			return false
		}
		t, ok := d.read(17)
		if !ok {
			return false
		}
		tc, th := t[0]>>4, t[0]&0x0f
		if tc > 1 || th > 3 || (d.baseline && th > 1) {
			return false
		}
		h := &d.huff[tc][th]
		var counts [16]int32
		total := int32(0)
		for i := range counts {
			counts[i] = int32(t[i+1])
			total += counts[i]
		}
		if total == 0 || total > 256 {
			return false
		}
		n -= int(total) + 17
		if n < 0 {
			return false
		}
		vals, ok := d.read(int(total))
		if !ok {
			return false
		}
		h.n = total
		copy(h.vals[:], vals)
		clear(h.lut[:])
		code, k := int32(0), int32(0)
		for i, cnt := range counts {
			l := i + 1
			if cnt == 0 {
				h.maxCode[l] = -1
			} else {
				h.valPtr[l] = k - code
				h.maxCode[l] = code + cnt - 1
			}
			for range cnt {
				if code >= 1<<l {
					return false // over-subscribed
				}
				if l <= jLUTBits {
					s := jLUTBits - l
					e := uint16(h.vals[k])<<8 | uint16(l)
					for j := code << s; j < (code+1)<<s; j++ {
						h.lut[j] = e
					}
				}
				code++
				k++
			}
			code <<= 1
		}
		clear(h.fastAC[:])
		if tc == 1 {
			for j, e := range h.lut {
				l, rs := uint32(e&0xff), uint8(e>>8)
				run, size := uint32(rs>>4), uint32(rs&0x0f)
				if e == 0 || size == 0 || l+size > jLUTBits {
					continue
				}
				x := int32(j>>(jLUTBits-l-size)) & (1<<size - 1)
				if x < 1<<(size-1) {
					x += (-1 << size) + 1
				}
				h.fastAC[j] = uint32(uint16(int16(x)))<<16 | run<<10 | l<<5 | (l + size)
			}
		}
	}
	return true
}

// Entropy-coded data.

// resetBits starts reading entropy-coded data at d.pos.
func (d *jpegDecoder) resetBits() {
	d.acc, d.nbits, d.fake, d.epos, d.atMarker = 0, 0, 0, d.pos, false
}

// fill tops the bit buffer up to at least 57 bits, unstuffing 0xff 0x00.
// Where the next 8 bytes hold no 0xff (almost always), it takes as many
// whole bytes as fit at once.
func (d *jpegDecoder) fill() {
	if d.nbits <= 56 && !d.atMarker && d.epos+8 <= len(d.data) {
		x := binary.BigEndian.Uint64(d.data[d.epos:])
		// A byte of x is 0xff exactly when that byte of ^x is zero.
		if y := ^x; (y-0x0101010101010101)&^y&0x8080808080808080 == 0 {
			k := (64 - d.nbits) / 8
			d.acc |= x &^ (1<<(64-8*k) - 1) >> d.nbits
			d.nbits += 8 * k
			d.epos += k
			return
		}
	}
	for d.nbits <= 56 {
		var c byte
		if !d.atMarker {
			if d.epos < len(d.data) {
				c = d.data[d.epos]
				if c != 0xff {
					d.epos++
				} else if d.epos+1 < len(d.data) && d.data[d.epos+1] == 0 {
					d.epos += 2
				} else {
					d.atMarker = true
				}
			} else {
				d.atMarker = true
			}
			if d.atMarker {
				c = 0
			}
		}
		if d.atMarker {
			d.fake += 8
		}
		d.acc |= uint64(c) << (56 - d.nbits)
		d.nbits += 8
	}
}

// overrun reports whether the data consumed so far ran past the
// entropy-coded segment.
func (d *jpegDecoder) overrun() bool { return d.nbits < d.fake }

// getBits returns the next n bits, 0 <= n <= 16.
func (d *jpegDecoder) getBits(n uint8) uint32 {
	if d.nbits < int(n) {
		d.fill()
	}
	v := uint32(d.acc >> 32 >> (32 - n))
	d.acc <<= n
	d.nbits -= int(n)
	return v
}

// decodeHuffman returns the next symbol coded with h; ok is false for an
// undefined table or a bit pattern that is no code.
func (d *jpegDecoder) decodeHuffman(h *jHuffman) (v uint8, ok bool) {
	if h.n == 0 {
		return 0, false
	}
	if d.nbits < 16 {
		d.fill()
	}
	if e := h.lut[d.acc>>(64-jLUTBits)]; e != 0 {
		l := e & 0xff
		d.acc <<= l
		d.nbits -= int(l)
		return uint8(e >> 8), true
	}
	for l := jLUTBits + 1; l <= 16; l++ {
		code := int32(d.acc >> (64 - l))
		if code <= h.maxCode[l] {
			d.acc <<= l
			d.nbits -= l
			return h.vals[h.valPtr[l]+code], true
		}
	}
	return 0, false
}

// receiveExtend is RECEIVE and EXTEND (section F.2.2.1), t <= 16.
func (d *jpegDecoder) receiveExtend(t uint8) int32 {
	if t == 0 {
		return 0
	}
	x := int32(d.getBits(t))
	if x < 1<<(t-1) {
		x += ((-1) << t) + 1
	}
	return x
}

// processSOS is image/jpeg's processSOS (section B.2.3).
func (d *jpegDecoder) processSOS(n int) bool {
	if d.nComp == 0 || n < 6 || 4+2*d.nComp < n || n%2 != 0 {
		return false
	}
	t, ok := d.read(n)
	if !ok {
		return false
	}
	nComp := int(t[0])
	if n != 4+2*nComp {
		return false
	}
	var scan [4]struct {
		compIndex uint8
		td, ta    uint8
	}
	totalHV := 0
	for i := 0; i < nComp; i++ {
		cs := t[1+2*i]
		compIndex := -1
		for j, comp := range d.comp[:d.nComp] {
			if cs == comp.c {
				compIndex = j
			}
		}
		if compIndex < 0 {
			return false
		}
		scan[i].compIndex = uint8(compIndex)
		for j := 0; j < i; j++ {
			if scan[i].compIndex == scan[j].compIndex {
				return false
			}
		}
		totalHV += d.comp[compIndex].h * d.comp[compIndex].v
		scan[i].td = t[2+2*i] >> 4
		scan[i].ta = t[2+2*i] & 0x0f
		if scan[i].td > 3 || scan[i].ta > 3 || (d.baseline && (scan[i].td > 1 || scan[i].ta > 1)) {
			return false
		}
	}
	if d.nComp > 1 && totalHV > 10 {
		return false
	}
	zigStart, zigEnd, ah, al := int32(0), int32(63), uint32(0), uint32(0)
	if d.progressive {
		zigStart = int32(t[1+2*nComp])
		zigEnd = int32(t[2+2*nComp])
		ah = uint32(t[3+2*nComp] >> 4)
		al = uint32(t[3+2*nComp] & 0x0f)
		if (zigStart == 0 && zigEnd != 0) || zigStart > zigEnd || 64 <= zigEnd {
			return false
		}
		if zigStart != 0 && nComp != 1 {
			return false
		}
		if ah != 0 && ah != al+1 {
			return false
		}
	}

	h0, v0 := d.comp[0].h, d.comp[0].v
	mxx := (d.width + 8*h0 - 1) / (8 * h0)
	myy := (d.height + 8*v0 - 1) / (8 * v0)
	if d.img1 == nil && d.img3 == nil {
		d.makeImg(mxx, myy)
	}
	if d.progressive {
		for i := 0; i < nComp; i++ {
			ci := scan[i].compIndex
			if d.prog[ci] == nil {
				d.prog[ci] = blockPool.get(mxx * myy * d.comp[ci].h * d.comp[ci].v)
				d.nonzero[ci] = nonzeroPool.get(len(d.prog[ci]))
			}
		}
	}

	// A non-interleaved scan has one block per MCU (ITU T.81 A.2.2), so its
	// restart interval counts blocks; image/jpeg counts MCUs of the
	// interleaved grid there too, hi·vi blocks for a subsampled component,
	// and so rejects progressive subsampled JPEGs with restart intervals
	// (libjpeg writes them: cjpeg -progressive -restart). Such scans count
	// blocks here, as libjpeg does; blocks counts them and units is how
	// many the scan has.
	perBlock := false
	blocks, units := 0, 0
	if nComp == 1 && d.ri > 0 {
		c := d.comp[scan[0].compIndex]
		if c.h*c.v > 1 {
			perBlock = true
			d.restartsPerBlock = true
			units = min(mxx*c.h, (d.width+7)/8) * min(myy*c.v, (d.height+7)/8)
		}
	}

	d.resetBits()
	mcu, expectedRST := 0, uint8(jRST0)
	var (
		b          jBlock
		nz         uint64 // non-zero mask of b (unused in sequential mode)
		dc         [4]int32
		bx, by     int
		blockCount int
	)
	for my := 0; my < myy; my++ {
		for mx := 0; mx < mxx; mx++ {
			for i := 0; i < nComp; i++ {
				ci := int(scan[i].compIndex)
				hi, vi := d.comp[ci].h, d.comp[ci].v
				dcTab, acTab := &d.huff[0][scan[i].td], &d.huff[1][scan[i].ta]
				for j := 0; j < hi*vi; j++ {
					if nComp != 1 {
						bx = hi*mx + j%hi
						by = vi*my + j/hi
					} else {
						q := mxx * hi
						bx = blockCount % q
						by = blockCount / q
						blockCount++
						if bx*8 >= d.width || by*8 >= d.height {
							continue
						}
					}
					bp, nzp := &b, &nz
					if d.progressive {
						k := by*mxx*hi + bx
						bp, nzp = &d.prog[ci][k], &d.nonzero[ci][k]
					} else {
						b, nz = jBlock{}, 0
					}
					if ah != 0 {
						if !d.refine(bp, nzp, acTab, zigStart, zigEnd, 1<<al) {
							return false
						}
					} else if !d.decodeBlock(bp, nzp, &dc[ci], dcTab, acTab, zigStart, zigEnd, al) {
						return false
					}
					if !d.progressive {
						d.reconstructBlock(bp, nz, bx, by, ci)
					}
					if perBlock {
						blocks++
						if blocks%d.ri == 0 && blocks < units && !d.nextInterval(&expectedRST, &dc) {
							return false
						}
					}
				}
			}
			mcu++
			if d.ri > 0 && !perBlock && mcu%d.ri == 0 && mcu < mxx*myy && !d.nextInterval(&expectedRST, &dc) {
				return false
			}
		}
	}
	if d.overrun() {
		return false
	}
	// The marker loop goes on from here: it skips any data left in the scan
	// up to the next marker, as image/jpeg's does from wherever its reader
	// stopped.
	d.pos = d.epos
	return true
}

// nextInterval reads the restart marker *expected that ends a restart
// interval, resets the DC predictions and the end-of-band run, and advances
// *expected to the next RSTn.
func (d *jpegDecoder) nextInterval(expected *uint8, dc *[4]int32) bool {
	if !d.restart(*expected) {
		return false
	}
	*expected++
	if *expected == jRST7+1 {
		*expected = jRST0
	}
	*dc = [4]int32{}
	d.eobRun = 0
	return true
}

// restart checks that the data up to the next marker holds only padding and
// that the marker is the expected RSTn (possibly after 0xff fill bytes), and
// resets the bit buffer after it. image/jpeg reaches the same marker through
// findRST; any other marker is an error there.
func (d *jpegDecoder) restart(expected uint8) bool {
	if d.overrun() {
		return false
	}
	p := d.epos
	for {
		if p+1 >= len(d.data) {
			return false
		}
		if d.data[p] != 0xff {
			p++
			continue
		}
		if d.data[p+1] == 0 {
			p += 2
			continue
		}
		break
	}
	for p < len(d.data) && d.data[p] == 0xff {
		p++
	}
	if p >= len(d.data) || d.data[p] != expected {
		return false
	}
	d.pos = p + 1
	d.resetBits()
	return true
}

// decodeBlock decodes a sequential block or a progressive first scan
// (sections F.2.2.1, F.2.2.2, G.1.2.1, G.1.2.2), as scan.go does.
func (d *jpegDecoder) decodeBlock(b *jBlock, nonzero *uint64, dc *int32, dcTab, acTab *jHuffman, zigStart, zigEnd int32, al uint32) bool {
	zig := zigStart
	if zig == 0 {
		zig++
		value, ok := d.decodeHuffman(dcTab)
		if !ok || value > 16 {
			return false
		}
		*dc += d.receiveExtend(value)
		b[0] = *dc << al
	}
	if zig > zigEnd {
		return true
	}
	if d.eobRun > 0 {
		d.eobRun--
		return true
	}
	if acTab.n == 0 {
		return false
	}
	// The bit buffer lives in locals for the loop; 32 bits cover a code
	// and its extra bits.
	acc, nbits := d.acc, d.nbits
	nz := *nonzero
	for ; zig <= zigEnd; zig++ {
		if nbits < 32 {
			d.acc, d.nbits = acc, nbits
			d.fill()
			acc, nbits = d.acc, d.nbits
		}
		if f := acTab.fastAC[acc>>(64-jLUTBits)]; f != 0 {
			zig += int32(f >> 10 & 0x0f)
			if zig > zigEnd {
				// image/jpeg stops before the extra bits.
				l := f >> 5 & 0x1f
				acc <<= l
				nbits -= int(l)
				break
			}
			l := f & 0x1f
			acc <<= l
			nbits -= int(l)
			b[jUnzig[zig]] = int32(int16(f>>16)) << al
			nz |= 1 << zig
			continue
		}
		var value uint8
		if e := acTab.lut[acc>>(64-jLUTBits)]; e != 0 {
			l := e & 0xff
			acc <<= l
			nbits -= int(l)
			value = uint8(e >> 8)
		} else {
			l := jLUTBits + 1
			for ; l <= 16; l++ {
				if code := int32(acc >> (64 - l)); code <= acTab.maxCode[l] {
					value = acTab.vals[acTab.valPtr[l]+code]
					break
				}
			}
			if l > 16 {
				return false
			}
			acc <<= l
			nbits -= l
		}
		val0, val1 := value>>4, value&0x0f
		if val1 != 0 {
			zig += int32(val0)
			if zig > zigEnd {
				break
			}
			x := int32(acc >> (64 - val1))
			acc <<= val1
			nbits -= int(val1)
			if x < 1<<(val1-1) {
				x += ((-1) << val1) + 1
			}
			b[jUnzig[zig]] = x << al
			nz |= 1 << zig
		} else {
			if val0 != 0x0f {
				d.eobRun = uint16(1 << val0)
				if val0 != 0 {
					d.eobRun |= uint16(acc >> (64 - val0))
					acc <<= val0
					nbits -= int(val0)
				}
				d.eobRun--
				break
			}
			zig += 0x0f
		}
	}
	d.acc, d.nbits = acc, nbits
	*nonzero = nz
	return true
}

// refine decodes a successive approximation refinement (section G.1.2.3),
// as scan.go's refine does; nonzero is the block's non-zero mask. The bit
// buffer lives in locals, as in decodeBlock.
func (d *jpegDecoder) refine(b *jBlock, nonzero *uint64, h *jHuffman, zigStart, zigEnd, delta int32) bool {
	if zigStart == 0 {
		if d.getBits(1) != 0 {
			b[0] |= delta
		}
		return true
	}
	zig := zigStart
	if d.eobRun == 0 {
		if h.n == 0 {
			return false
		}
		acc, nbits, nz := d.acc, d.nbits, *nonzero
	loop:
		for ; zig <= zigEnd; zig++ {
			// 32 bits cover a code and its extra bits.
			if nbits < 32 {
				d.acc, d.nbits = acc, nbits
				d.fill()
				acc, nbits = d.acc, d.nbits
			}
			var value uint8
			if e := h.lut[acc>>(64-jLUTBits)]; e != 0 {
				l := e & 0xff
				acc <<= l
				nbits -= int(l)
				value = uint8(e >> 8)
			} else {
				l := jLUTBits + 1
				for ; l <= 16; l++ {
					if code := int32(acc >> (64 - l)); code <= h.maxCode[l] {
						value = h.vals[h.valPtr[l]+code]
						break
					}
				}
				if l > 16 {
					return false
				}
				acc <<= l
				nbits -= l
			}
			z := int32(0)
			val0 := value >> 4
			switch value & 0x0f {
			case 0:
				if val0 != 0x0f {
					d.eobRun = uint16(1 << val0)
					if val0 != 0 {
						d.eobRun |= uint16(acc >> (64 - val0))
						acc <<= val0
						nbits -= int(val0)
					}
					break loop
				}
			case 1:
				z = delta
				if acc>>63 == 0 {
					z = -z
				}
				acc <<= 1
				nbits--
			default:
				return false
			}
			zig, acc, nbits = d.refineNonZeroes(b, nz, zig, zigEnd, int32(val0), delta, acc, nbits)
			if zig > zigEnd {
				return false
			}
			if z != 0 {
				b[jUnzig[zig]] = z
				nz |= 1 << zig
			}
		}
		d.acc, d.nbits, *nonzero = acc, nbits, nz
	}
	if d.eobRun > 0 {
		d.eobRun--
		_, d.acc, d.nbits = d.refineNonZeroes(b, *nonzero, zig, zigEnd, -1, delta, d.acc, d.nbits)
	}
	return true
}

// refineNonZeroes is scan.go's refineNonZeroes: from zig on it gives every
// non-zero coefficient a correction bit (adding delta away from zero) and,
// with nz >= 0, stops at the (nz+1)th zero coefficient, returning its
// position (zigEnd+1 when there is none). The coefficients are found from
// the non-zero mask, and the bit is applied without branching on it: both
// would otherwise be mispredicted branches on random data. acc and nbits are
// the caller's bit buffer, passed in registers.
func (d *jpegDecoder) refineNonZeroes(b *jBlock, nonzero uint64, zig, zigEnd, nz, delta int32, acc uint64, nbits int) (int32, uint64, int) {
	band := ^uint64(0) << zig & (^uint64(0) >> (63 - zigEnd))
	end := zigEnd + 1
	if nz >= 0 {
		zeros := ^nonzero & band
		for ; nz > 0 && zeros != 0; nz-- {
			zeros &= zeros - 1
		}
		if zeros != 0 {
			end = int32(bits.TrailingZeros64(zeros))
		}
	}
	for todo := nonzero & band & (1<<end - 1); todo != 0; todo &= todo - 1 {
		if nbits == 0 {
			d.acc, d.nbits = acc, nbits
			d.fill()
			acc, nbits = d.acc, d.nbits
		}
		s := int32(acc>>63) * delta
		acc <<= 1
		nbits--
		u := jUnzig[bits.TrailingZeros64(todo)&63]
		c := b[u]
		m := c >> 31 // -1 for a negative coefficient
		b[u] = c + (s ^ m) - m
	}
	return end, acc, nbits
}

// makeImg allocates the image as image/jpeg does: planes padded to whole
// MCUs, cut to the image size.
func (d *jpegDecoder) makeImg(mxx, myy int) {
	if d.nComp == 1 {
		m := image.NewGray(image.Rect(0, 0, 8*mxx, 8*myy))
		d.img1 = m.SubImage(image.Rect(0, 0, d.width, d.height)).(*image.Gray)
		return
	}
	h0, v0 := d.comp[0].h, d.comp[0].v
	var ratio image.YCbCrSubsampleRatio
	switch (h0/d.comp[1].h)<<4 | v0/d.comp[1].v {
	case 0x11:
		ratio = image.YCbCrSubsampleRatio444
	case 0x12:
		ratio = image.YCbCrSubsampleRatio440
	case 0x21:
		ratio = image.YCbCrSubsampleRatio422
	case 0x22:
		ratio = image.YCbCrSubsampleRatio420
	case 0x41:
		ratio = image.YCbCrSubsampleRatio411
	case 0x42:
		ratio = image.YCbCrSubsampleRatio410
	}
	var m *image.YCbCr
	if d.pooled {
		m, d.planes = pooledYCbCr(8*h0*mxx, 8*v0*myy, ratio)
	} else {
		m = image.NewYCbCr(image.Rect(0, 0, 8*h0*mxx, 8*v0*myy), ratio)
	}
	d.img3 = m.SubImage(image.Rect(0, 0, d.width, d.height)).(*image.YCbCr)
}

// reconstructProgressive turns the coefficients into pixels once every scan
// is in, with the quantization tables then in force (as image/jpeg does).
func (d *jpegDecoder) reconstructProgressive() {
	h0 := d.comp[0].h
	mxx := (d.width + 8*h0 - 1) / (8 * h0)
	for i := 0; i < d.nComp; i++ {
		if d.prog[i] == nil {
			continue
		}
		v := 8 * d.comp[0].v / d.comp[i].v
		h := 8 * d.comp[0].h / d.comp[i].h
		stride := mxx * d.comp[i].h
		for by := 0; by*v < d.height; by++ {
			for bx := 0; bx*h < d.width; bx++ {
				k := by*stride + bx
				d.reconstructBlock(&d.prog[i][k], d.nonzero[i][k], bx, by, i)
			}
		}
	}
}

// reconstructBlock dequantizes b in place, applies the inverse DCT and
// stores the level-shifted, clipped samples. nonzero has a bit set (in
// zig-zag order) for at least every non-zero AC coefficient.
func (d *jpegDecoder) reconstructBlock(b *jBlock, nonzero uint64, bx, by, ci int) {
	m := nonzero | 1
	qt := &d.quant[d.comp[ci].tq]
	var dst []byte
	var stride int
	if d.nComp == 1 {
		dst, stride = d.img1.Pix[8*(by*d.img1.Stride+bx):], d.img1.Stride
	} else {
		switch ci {
		case 0:
			dst, stride = d.img3.Y[8*(by*d.img3.YStride+bx):], d.img3.YStride
		case 1:
			dst, stride = d.img3.Cb[8*(by*d.img3.CStride+bx):], d.img3.CStride
		default:
			dst, stride = d.img3.Cr[8*(by*d.img3.CStride+bx):], d.img3.CStride
		}
	}
	if m != 1 && d.avx {
		// All of the arithmetic in AVX2, eight rows or columns at once
		// (0.2 µs a block instead of about 1 in Go); the bounds check
		// stands in for the Go loop's.
		_ = dst[7*stride+7]
		idctAVX2(&b[0], &qt[0], &dst[0], stride)
		return
	}
	for t := m; t != 0; t &= t - 1 {
		u := jUnzig[bits.TrailingZeros64(t)&63]
		b[u] *= qt[u]
	}
	if idctBlock(b, m) {
		v := levelShift(b[0])
		for y := range 8 {
			row := (*[8]byte)(dst[y*stride : y*stride+8])
			*row = [8]byte{v, v, v, v, v, v, v, v}
		}
		return
	}
	for y := range 8 {
		row := (*[8]byte)(dst[y*stride : y*stride+8])
		src := (*[8]int32)(b[8*y : 8*y+8])
		for x, c := range src {
			row[x] = levelShift(c)
		}
	}
}

// levelShift is image/jpeg's store of an IDCT output: +128, clipped to
// 0..255 (clamped first, so that no value overflows).
func levelShift(c int32) uint8 {
	return uint8(min(max(c, -128), 127) + 128)
}

// Zig-zag positions by where they land: zzRow[r] holds those in row r,
// zzCols4 those in columns 4..7, zzCol0 those in column 0.
var zzRow [8]uint64
var zzCols4, zzCol0 uint64

func init() {
	for z, u := range jUnzig {
		zzRow[u/8] |= 1 << z
		if u%8 >= 4 {
			zzCols4 |= 1 << z
		}
		if u%8 == 0 {
			zzCol0 |= 1 << z
		}
	}
}

// idctBlock is image/jpeg's idct (idctRow on every row, then idctCol on
// every column), skipping the work whose result is known: m has a bit (in
// zig-zag order) for at least every non-zero coefficient, and the 1D
// transforms simplify when inputs are zero (most of a photo block's are):
//   - a row with no non-zero input stays zero;
//   - a row with only x[0] becomes x[0]<<17 throughout;
//   - a row or column whose inputs 4..7 are zero takes idctRow4/idctCol4,
//     the same code with those inputs constant zero;
//   - after the row pass, a column whose rows 1..7 are zero becomes
//     ((x0+1<<19)>>2)>>18 throughout.
//
// flat reports a block whose 64 outputs all equal b[0] (only a DC
// coefficient); then only b[0] is written.
func idctBlock(b *jBlock, m uint64) (flat bool) {
	if m&^1 == 0 {
		b[0] = ((b[0]<<17 + 1<<19) >> 2) >> 18
		return true
	}
	var live uint8 // rows that may be non-zero after the row pass
	for r := range 8 {
		rm := m & zzRow[r]
		if rm == 0 {
			continue
		}
		live |= 1 << r
		x := (*[8]int32)(b[8*r : 8*r+8])
		switch {
		case rm&^zzCol0 == 0:
			v := x[0] << 17
			*x = [8]int32{v, v, v, v, v, v, v, v}
		case rm&zzCols4 == 0:
			idctRow4(x)
		default:
			idctRow(x)
		}
	}
	switch {
	case live&^1 == 0:
		for i := range 8 {
			v := ((b[i] + 1<<19) >> 2) >> 18
			for r := range 8 {
				b[8*r+i] = v
			}
		}
	case live&0xf0 == 0:
		for i := range 8 {
			idctCol4(b, i)
		}
	default:
		for i := range 8 {
			idctCol(b, i)
		}
	}
	return false
}
