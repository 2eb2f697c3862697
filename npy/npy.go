// Package npy writes NumPy .npy files, so that embeddings load with numpy.load.
package npy

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/resnet-go/resnet/internal/atomicfile"
)

// Header builds a version 1.0 header for a little-endian float32 C-order array; the total
// preamble length is padded with spaces to a multiple of 64 and ends in a newline.
func Header(shape []int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", tuple)
	pad := 64 - (10+len(dict)+1)%64
	if pad == 64 {
		pad = 0
	}
	dict += strings.Repeat(" ", pad) + "\n"
	h := []byte("\x93NUMPY\x01\x00")
	h = binary.LittleEndian.AppendUint16(h, uint16(len(dict)))
	return append(h, dict...)
}

// WriteMatrix writes rows (all of equal length) as a float32 [len(rows), len(rows[0])] array,
// atomically.
func WriteMatrix(path string, rows [][]float32) error {
	cols := 0
	if len(rows) > 0 {
		cols = len(rows[0])
	}
	buf := Header([]int{len(rows), cols})
	for i, r := range rows {
		if len(r) != cols {
			return fmt.Errorf("npy: row %d has %d values, row 0 has %d", i, len(r), cols)
		}
		for _, v := range r {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	return atomicfile.Write(path, buf)
}
