package datasets

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/resnet-go/resnet/internal/testenv"
)

func TestNormalizeLabel(t *testing.T) {
	for in, want := range map[string]string{
		"Ankle boot":       "ankle boot",
		"ankle_boot":       "ankle boot",
		" ankle--BOOT ":    "ankle boot",
		"T-shirt/top":      "t shirt top",
		"t_shirt_top":      "t shirt top",
		"tabby, tabby cat": "tabby, tabby cat",
		"":                 "",
		" _ ":              "",
	} {
		if got := NormalizeLabel(in); got != want {
			t.Errorf("NormalizeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMapLabels(t *testing.T) {
	generic := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "LABEL_" + strconv.Itoa(i)
		}
		return out
	}
	imagenetLike := []string{"tench, Tinca tinca", "tabby, tabby cat", "tiger cat", "Egyptian cat", "crane", "crane", "maillot", "maillot, tank suit"}
	cases := []struct {
		name       string
		data       []string
		model      []string
		want       []int    // nil: refused
		positional bool     // want a positional mapping
		errHas     []string // substrings of the refusal
	}{
		{name: "same names, same order", data: CIFAR10Classes, model: CIFAR10Classes, want: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{name: "subset of the model's classes", data: []string{"cat", "dog"}, model: CIFAR10Classes, want: []int{3, 5}},
		{name: "other order, other spelling", data: []string{"Truck", "AIRPLANE", " ship "}, model: CIFAR10Classes, want: []int{9, 0, 8}},
		{name: "separators equivalent", data: []string{"ankle_boot", "T-shirt_top", "sandal"}, model: FashionMNISTClasses, want: []int{9, 0, 5}},
		{name: "fashion-mnist onto itself", data: FashionMNISTClasses, model: FashionMNISTClasses, want: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{name: "mnist digits", data: MNISTClasses, model: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, want: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{name: "imagenet synonym", data: []string{"tabby_cat", "tinca tinca", "Egyptian-cat"}, model: imagenetLike, want: []int{1, 0, 3}},
		{name: "imagenet whole label before synonym", data: []string{"maillot"}, model: imagenetLike, want: []int{6}},
		{name: "imagenet whole label with commas", data: []string{"tabby, tabby cat"}, model: imagenetLike, want: []int{1}},
		{name: "generic labels, counts equal: positional", data: []string{"b", "a", "c"}, model: generic(3), want: []int{0, 1, 2}, positional: true},
		{name: "generic labels in other spelling", data: []string{"x", "y"}, model: []string{"label_0", "Label-1"}, want: []int{0, 1}, positional: true},

		{name: "unknown folder", data: []string{"cat", "zebra", "dog"}, model: CIFAR10Classes, errHas: []string{"2 of 3", `no class in the model for "zebra"`}},
		{name: "cifar10 on an imagenet model", data: CIFAR10Classes, model: imagenetLike, errHas: []string{"0 of 10", `"airplane"`, `"truck"`, `"tench, Tinca tinca"`}},
		{name: "two folders, one class", data: []string{"cat", "Cat"}, model: CIFAR10Classes, errHas: []string{"1 of 2", `"cat" and "Cat"`, "model class 3"}},
		{name: "synonym and label, one class", data: []string{"tabby", "tabby cat"}, model: imagenetLike, errHas: []string{"two dataset classes for one model class"}},
		{name: "ambiguous label", data: []string{"crane"}, model: imagenetLike, errHas: []string{"more than one model class", `4 "crane", 5 "crane"`}},
		{name: "generic labels, counts differ", data: []string{"cat", "dog"}, model: generic(10), errHas: []string{"no names", "LABEL_9", "2 classes"}},
		{name: "generic labels, names partly real", data: []string{"cat", "dog"}, model: []string{"LABEL_0", "dog"}, errHas: []string{`"cat"`}},
		{name: "more dataset classes than the model", data: []string{"cat", "dog", "frog"}, model: []string{"cat", "dog"}, errHas: []string{"2 of 3", `"frog"`}},
		{name: "empty dataset class name", data: []string{""}, model: []string{"cat"}, errHas: []string{`""`}},
		{name: "model without a head", data: []string{"cat"}, model: nil, errHas: []string{"no classifier head"}},
		{name: "dataset without classes", data: nil, model: []string{"cat"}, errHas: []string{"no classes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := MapLabels(c.data, c.model)
			if c.want == nil {
				if err == nil {
					t.Fatalf("MapLabels accepted: %v (%s)", m.ToModel, m)
				}
				for _, s := range c.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.ToModel, c.want) || m.Positional != c.positional || m.Matched != len(c.data) || m.Total != len(c.data) || m.ModelClasses != len(c.model) {
				t.Errorf("got %+v, want ToModel %v positional %v", m, c.want, c.positional)
			}
			s := m.String()
			if !strings.Contains(s, strconv.Itoa(len(c.data))+" of "+strconv.Itoa(len(c.data))+" classes matched by "+m.Method()) {
				t.Errorf("summary %q", s)
			}
		})
	}
}

// The real ImageNet names (HF id2label strings) on CIFAR-10: nothing matches, and the error
// says which classes did not; a few ImageNet folder names do match.
func TestMapLabelsImageNet(t *testing.T) {
	f, err := os.Open(filepath.Join(testenv.SharedDir(t), "data", "imagenet", "synset_words.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, name, _ := strings.Cut(sc.Text(), " ")
		names = append(names, name)
	}
	if len(names) != 1000 {
		t.Fatalf("%d ImageNet names", len(names))
	}
	_, err = MapLabels(CIFAR10Classes, names)
	if err == nil || !strings.Contains(err.Error(), "0 of 10") || !strings.Contains(err.Error(), `"airplane", "automobile", "bird", "cat"`) {
		t.Errorf("CIFAR-10 on ImageNet labels: %v", err)
	}
	m, err := MapLabels([]string{"tiger_cat", "tabby", "Siamese", "fire truck"}, names)
	if err != nil || !slices.Equal(m.ToModel, []int{282, 281, 284, 555}) {
		t.Errorf("ImageNet folders: %+v, %v", m, err)
	}
}
