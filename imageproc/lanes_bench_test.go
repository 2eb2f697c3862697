package imageproc

import "testing"

func BenchmarkHorizontalLanesRow(b *testing.B) {
	kn, _ := kernelFor(Bicubic)
	c := precomputeCoeffs(512, 256, 16, 240, kn)
	ht, _, _ := newHTaps(c, 512)
	src := make([]pair, 512)
	img := randRGB(512, 1, 3)
	widen(src, img.Pix)
	dst := make([]pair, 224)
	for b.Loop() {
		horizontalLanes(dst, src, &ht)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/224, "ns/px")
}

func BenchmarkVerticalLanesRow(b *testing.B) {
	rows := make([][]pair, 8)
	for i := range rows {
		rows[i] = make([]pair, 224)
		widen(rows[i], randRGB(224, 1, uint32(i)).Pix)
	}
	k := []int32{-10771, -176013, 315813, 1951922, 2113353, 315813, -176013, -10771}
	dst := make([]pair, 224)
	for b.Loop() {
		verticalLanes(dst, rows, k)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/224, "ns/px")
}
