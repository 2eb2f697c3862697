package hfparquet

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseFeatures(t *testing.T) {
	tests := []struct {
		name, meta string
		want       Features
		err        string
	}{
		{"current", `{"info":{"features":{"img":{"_type":"Image"},"label":{"names":["a","b"],"_type":"ClassLabel"}}}}`,
			Features{"img": {Type: "Image"}, "label": {Type: "ClassLabel", Names: []string{"a", "b"}}}, ""},
		{"legacy defaults", `{"info":{"features":{"image":{"decode":true,"id":null,"_type":"Image"},"label":{"num_classes":2,"names":["a","b"],"names_file":null,"id":null,"_type":"ClassLabel"},"idx":{"dtype":"int64","id":null,"_type":"Value"}}},"fingerprint":"x"}`,
			Features{"image": {Type: "Image"}, "label": {Type: "ClassLabel", Names: []string{"a", "b"}}, "idx": {Type: "Value", Dtype: "int64"}}, ""},
		{"top-level features", `{"features":{"x":{"_type":"Image"}}}`, Features{"x": {Type: "Image"}}, ""},
		{"odd values", `{"info":{"features":{"l":{"_type":"ClassLabel","names":[1,"b"]},"s":[{"_type":"Value"}],"t":{"_type":7}}}}`,
			Features{"l": {Type: "ClassLabel", Names: []string{"1", "b"}}, "s": {}, "t": {}}, ""},
		{"not JSON", `{"info":`, nil, "not JSON"},
		{"no features", `{"info":{}}`, nil, "no info.features"},
	}
	for _, tc := range tests {
		got, err := ParseFeatures(tc.meta)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}
