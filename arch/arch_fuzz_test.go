package arch

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/resnet-go/resnet/internal/memcheck"
)

// configBound: ParseConfig and Spec allocate at most 64 bytes per input byte (JSON values,
// id2label entries) plus 2 MiB: Spec's layer list, at most maxBlocks blocks, takes 0.77 MB
// for 1024 bottleneck blocks.
var configBound = memcheck.Bound{PerByte: 64, Cap: 2 << 20}

// roundTripLabels caps num_labels for the round trip: MarshalJSON writes every label, so a
// 20-byte {"num_labels": 1e9} would write gigabytes.
const roundTripLabels = 1 << 12

// FuzzParseConfig: config.json within the memory bound; a config that parses has a Spec,
// and MarshalJSON writes it back to the same config.
func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob("../model/testdata/*/config.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, p := range []string{"resnet-50", "cifar-resnet20", "plain-18", "resnet-101-v1"} {
		c, err := Preset(p)
		if err != nil {
			f.Fatal(err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id2label":{"0":"a","7":"b"},"num_labels":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c *Config
		var err error
		n := memcheck.Bytes(func() {
			if c, err = ParseConfig(data); err == nil {
				_, err = c.Spec()
			}
		})
		if e := configBound.Check("ParseConfig+Spec", len(data), n); e != nil {
			t.Fatal(e)
		}
		if err != nil || c.NumLabels > roundTripLabels {
			return
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("MarshalJSON of a parsed config: %v", err)
		}
		c2, err := ParseConfig(b)
		if err != nil {
			t.Fatalf("reading back %s: %v", b, err)
		}
		if !reflect.DeepEqual(c.Labels(), c2.Labels()) {
			t.Fatalf("labels %q read back as %q", c.Labels(), c2.Labels())
		}
		a, z := *c, *c2
		a.ID2Label, z.ID2Label = nil, nil
		if !reflect.DeepEqual(a, z) {
			t.Fatalf("config %+v read back as %+v", a, z)
		}
	})
}
