package datasets

import (
	"fmt"
	"strconv"
	"strings"
)

// LabelMapping says which model class each dataset class is, so that a prediction (a model
// class index) is scored against the right label whatever order either side keeps its
// classes in.
type LabelMapping struct {
	// ToModel[c] is the model class index of dataset class c.
	ToModel []int
	// Matched is the number of dataset classes mapped (always all of them: MapLabels refuses
	// otherwise); Total the number of dataset classes; ModelClasses the model's.
	Matched, Total, ModelClasses int
	// Positional is set when the model has only generic names (LABEL_0, LABEL_1, ...: what
	// transformers prints for a config without id2label) and as many classes as the
	// dataset, so dataset class i is taken to be model class i.
	Positional bool
}

// Method is how the classes were matched: "name" or "position".
func (m *LabelMapping) Method() string {
	if m.Positional {
		return "position"
	}
	return "name"
}

// String is a one-line summary for people, e.g. "2 of 2 classes matched by name (the model
// has 10 classes)".
func (m *LabelMapping) String() string {
	if m.Positional {
		return fmt.Sprintf("%d of %d classes matched by position: the model's labels are the generic LABEL_0…LABEL_%d, so dataset class i is taken as model class i",
			m.Matched, m.Total, m.ModelClasses-1)
	}
	return fmt.Sprintf("%d of %d classes matched by name (the model has %d classes)", m.Matched, m.Total, m.ModelClasses)
}

// MapLabels maps a dataset's class names (index = dataset label) onto a model's class names
// (index = model class, as in id2label) by name:
//
//   - names are compared normalised: trimmed, lower-cased, with '_', '-', '/' and spaces
//     (runs of them) equivalent, so "ankle_boot" is "Ankle boot" and "T-shirt_top" is
//     "T-shirt/top";
//   - a model label of comma-separated synonyms (ImageNet's "tabby, tabby cat") matches any
//     of them; a match of the whole label goes before a match of one synonym;
//   - every dataset class must match exactly one model class, and no two dataset classes the
//     same one; otherwise MapLabels refuses, naming the classes at fault. The dataset may
//     have fewer classes than the model (a cat/dog folder against a CIFAR-10 model):
//     predictions still range over all model classes, and one outside the dataset's is
//     simply wrong.
//
// When every model label is generic (LABEL_i, HF's default without id2label) there are no
// names to match: the mapping is positional (dataset class i = model class i) if the class
// counts are equal, and refused otherwise.
func MapLabels(datasetClasses, modelLabels []string) (*LabelMapping, error) {
	nd, nm := len(datasetClasses), len(modelLabels)
	switch {
	case nm == 0:
		return nil, fmt.Errorf("labels: the model has no classifier head (no classes) to score against")
	case nd == 0:
		return nil, fmt.Errorf("labels: the dataset has no classes")
	}
	m := &LabelMapping{Total: nd, ModelClasses: nm}
	if genericLabels(modelLabels) {
		if nd != nm {
			return nil, fmt.Errorf("labels: the model's %d classes have no names (only the generic LABEL_0…LABEL_%d) and the dataset has %d classes, so they cannot be matched by name or by position; give the model its class names",
				nm, nm-1, nd)
		}
		m.Positional = true
		m.ToModel = make([]int, nd)
		for i := range m.ToModel {
			m.ToModel[i] = i
		}
		m.Matched = nd
		return m, nil
	}

	// Index the model's labels: whole labels first, synonyms second.
	whole := map[string][]int{}
	synonym := map[string][]int{}
	for i, l := range modelLabels {
		k := NormalizeLabel(l)
		if k == "" {
			continue
		}
		whole[k] = append(whole[k], i)
		if strings.Contains(l, ",") {
			for _, s := range strings.Split(l, ",") {
				if ks := NormalizeLabel(s); ks != "" && ks != k {
					synonym[ks] = appendUnique(synonym[ks], i)
				}
			}
		}
	}

	m.ToModel = make([]int, nd)
	var unmatched, ambiguous, duplicate []string
	claimed := map[int]int{} // model class -> first dataset class mapped to it
	for c, name := range datasetClasses {
		k := NormalizeLabel(name)
		cands := whole[k]
		if len(cands) == 0 {
			cands = synonym[k]
		}
		switch {
		case k == "" || len(cands) == 0:
			unmatched = append(unmatched, strconv.Quote(name))
			m.ToModel[c] = -1
			continue
		case len(cands) > 1:
			ambiguous = append(ambiguous, fmt.Sprintf("%q (model classes %s)", name, classList(cands, modelLabels)))
			m.ToModel[c] = -1
			continue
		}
		mc := cands[0]
		if prev, ok := claimed[mc]; ok {
			duplicate = append(duplicate, fmt.Sprintf("%q and %q (both model class %d %q)", datasetClasses[prev], name, mc, modelLabels[mc]))
			m.ToModel[c] = -1
			continue
		}
		claimed[mc] = c
		m.ToModel[c] = mc
		m.Matched++
	}
	if len(unmatched)+len(ambiguous)+len(duplicate) == 0 {
		return m, nil
	}
	var why []string
	if len(unmatched) > 0 {
		why = append(why, fmt.Sprintf("no class in the model for %s", truncList(unmatched, 20)))
	}
	if len(ambiguous) > 0 {
		why = append(why, fmt.Sprintf("more than one model class for %s", truncList(ambiguous, 10)))
	}
	if len(duplicate) > 0 {
		why = append(why, fmt.Sprintf("two dataset classes for one model class: %s", truncList(duplicate, 10)))
	}
	return nil, fmt.Errorf("labels: only %d of %d dataset classes match the model's class names: %s (the model's %d classes are %s)",
		m.Matched, nd, strings.Join(why, "; "), nm, examples(modelLabels, 5))
}

// NormalizeLabel is the form class names are compared in (see MapLabels): trimmed,
// lower-cased, runs of '_', '-', '/' and white space turned into one space.
func NormalizeLabel(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		switch r {
		case '_', '-', '/', ' ', '\t', '\n', '\r':
			return true
		}
		return false
	}), " ")
}

// genericLabels reports whether every label is LABEL_i for its own index i (compared
// normalised), i.e. the model carries no class names.
func genericLabels(labels []string) bool {
	for i, l := range labels {
		if NormalizeLabel(l) != "label "+strconv.Itoa(i) {
			return false
		}
	}
	return true
}

func appendUnique(s []int, v int) []int {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func classList(idx []int, labels []string) string {
	parts := make([]string, len(idx))
	for i, j := range idx {
		parts[i] = fmt.Sprintf("%d %q", j, labels[j])
	}
	return strings.Join(parts, ", ")
}

// truncList joins up to n items and says how many more there are.
func truncList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// examples quotes the first n labels, e.g. for an error message.
func examples(labels []string, n int) string {
	q := make([]string, 0, min(n, len(labels)))
	for _, l := range labels[:min(n, len(labels))] {
		q = append(q, strconv.Quote(l))
	}
	s := strings.Join(q, ", ")
	if len(labels) > n {
		s += ", …"
	}
	return s
}
