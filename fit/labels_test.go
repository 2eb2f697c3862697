package fit

import (
	"slices"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/weights"
)

// A test split is scored against the training classes by name, never by folder position.
func TestAlignTest(t *testing.T) {
	train := &datasets.Dataset{Classes: []string{"cat", "dog", "frog"}, Labels: []int{0, 1, 2}}
	cases := []struct {
		name       string
		classes    []string
		labels     []int
		wantLabels []int
		errHas     string
	}{
		{"same classes", []string{"cat", "dog", "frog"}, []int{2, 0}, []int{2, 0}, ""},
		{"another order", []string{"dog", "frog", "cat"}, []int{0, 1, 2, 2}, []int{1, 2, 0, 0}, ""},
		{"a subset", []string{"Frog"}, []int{0, 0}, []int{2, 2}, ""},
		{"an unknown class", []string{"cat", "zebra"}, []int{0, 1}, nil, `"zebra"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			test := &datasets.Dataset{Classes: c.classes, Labels: c.labels}
			cfg := Config{Train: train, Test: test}
			got, err := cfg.alignTest()
			if c.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), c.errHas) {
					t.Fatalf("error %v, want one naming %s", err, c.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Labels, c.wantLabels) || !slices.Equal(got.Classes, train.Classes) {
				t.Errorf("labels %v classes %v, want %v %v", got.Labels, got.Classes, c.wantLabels, train.Classes)
			}
			if !slices.Equal(test.Labels, c.labels) {
				t.Error("the caller's test split was changed")
			}
		})
	}
}

// --init's classifier is kept only for the dataset's own classes, its rows in their order.
func TestInitHead(t *testing.T) {
	// Three classes of two features: row r is (10r, 10r+1), bias r.
	w := &weights.Tensor{DType: "F32", Shape: []int{3, 2}, Data: []float32{0, 1, 10, 11, 20, 21}}
	b := &weights.Tensor{DType: "F32", Shape: []int{3}, Data: []float32{0, 1, 2}}
	classes := []string{"cat", "dog", "frog"}
	cases := []struct {
		name     string
		labels   []string
		keep     bool
		wantRows []int // nil: a fresh head
		noteHas  string
	}{
		{"same classes, same order", []string{"cat", "dog", "frog"}, true, []int{0, 1, 2}, ""},
		{"same classes, another order", []string{"frog", "cat", "dog"}, true, []int{1, 2, 0}, "class order"},
		{"other classes", []string{"car", "ship", "truck"}, true, nil, "fresh one"},
		{"generic names", []string{"LABEL_0", "LABEL_1", "LABEL_2"}, true, []int{0, 1, 2}, ""},
		{"names unknown", nil, true, []int{0, 1, 2}, ""},
		{"wrong width", []string{"cat", "dog", "frog"}, false, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			head, note := initHead(w, b, c.labels, classes, c.keep)
			if !strings.Contains(note, c.noteHas) || (c.noteHas == "" && note != "") {
				t.Errorf("note %q, want one containing %q", note, c.noteHas)
			}
			if c.wantRows == nil {
				if head != nil {
					t.Errorf("kept a head: %v", head[0].Data)
				}
				return
			}
			if head == nil {
				t.Fatal("head dropped")
			}
			for i, r := range c.wantRows {
				if head[0].Data[2*i] != float32(10*r) || head[0].Data[2*i+1] != float32(10*r+1) || head[1].Data[i] != float32(r) {
					t.Errorf("row %d = %v bias %v, want init row %d", i, head[0].Data[2*i:2*i+2], head[1].Data[i], r)
				}
			}
		})
	}
}
