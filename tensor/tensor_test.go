package tensor

import "testing"

func TestFromDataAndReshape(t *testing.T) {
	cases := []struct {
		n     int
		shape []int
		ok    bool
	}{
		{6, []int{2, 3}, true},
		{6, []int{6}, true},
		{1, []int{}, true}, // a scalar
		{6, []int{4, 2}, false},
		{0, []int{0, 3}, true},
	}
	for _, c := range cases {
		x, err := FromData(make([]float32, c.n), c.shape...)
		if (err == nil) != c.ok {
			t.Errorf("FromData(%d, %v): err %v", c.n, c.shape, err)
			continue
		}
		if c.ok && Numel(x.Shape) != c.n {
			t.Errorf("shape %v holds %d, not %d", x.Shape, Numel(x.Shape), c.n)
		}
	}
	x := New(2, 3, 4)
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	if s := x.Slice(1); s.Data[0] != 12 || !SameShape(s.Shape, []int{3, 4}) {
		t.Errorf("Slice(1) = %v %v", s.Shape, s.Data[:2])
	}
	if _, err := x.Reshape(4, 6); err != nil {
		t.Error(err)
	}
	if _, err := x.Reshape(5, 5); err == nil {
		t.Error("reshape to a different size accepted")
	}
	c := x.Clone()
	c.Data[0] = 99
	if x.Data[0] == 99 {
		t.Error("Clone shares data")
	}
	if Format([]int{64, 3, 7, 7}) != "[64, 3, 7, 7]" {
		t.Error(Format([]int{64, 3, 7, 7}))
	}
}
