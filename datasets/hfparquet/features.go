package hfparquet

import (
	"encoding/json"
	"fmt"
)

// Feature is one column's entry of the datasets library's feature dict ("_type" plus the
// fields that type uses). Unknown keys are ignored, so current writers (which omit default
// values) and older ones (which wrote "decode", "id", "num_classes", ...) both parse.
type Feature struct {
	Type  string   // "_type": Image, ClassLabel, Value, ...
	Names []string // ClassLabel names; index = label
	Dtype string   // Value dtype ("int64", "string", ...)
}

// Features are the columns' features by column name.
type Features map[string]Feature

// ParseFeatures reads the value of the `huggingface` key-value metadata entry,
// {"info": {"features": {...}}}. A top-level "features" (without "info") is accepted too.
func ParseFeatures(meta string) (Features, error) {
	var doc struct {
		Info struct {
			Features map[string]json.RawMessage `json:"features"`
		} `json:"info"`
		Features map[string]json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal([]byte(meta), &doc); err != nil {
		return nil, fmt.Errorf("huggingface metadata is not JSON: %w", err)
	}
	raw := doc.Info.Features
	if raw == nil {
		raw = doc.Features
	}
	if raw == nil {
		return nil, fmt.Errorf("huggingface metadata has no info.features")
	}
	out := Features{}
	for name, r := range raw {
		out[name] = parseFeature(r)
	}
	return out, nil
}

// parseFeature reads one feature leniently: anything that is not an object with a string
// "_type" becomes a Feature with an empty Type (a list or a nested dict, which this reader
// does not use).
func parseFeature(r json.RawMessage) Feature {
	var f struct {
		Type  any `json:"_type"`
		Names any `json:"names"`
		Dtype any `json:"dtype"`
	}
	if json.Unmarshal(r, &f) != nil {
		return Feature{}
	}
	out := Feature{}
	out.Type, _ = f.Type.(string)
	out.Dtype, _ = f.Dtype.(string)
	if names, ok := f.Names.([]any); ok {
		for _, n := range names {
			s, ok := n.(string)
			if !ok {
				s = fmt.Sprint(n)
			}
			out.Names = append(out.Names, s)
		}
	}
	return out
}
