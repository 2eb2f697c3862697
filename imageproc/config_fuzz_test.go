package imageproc

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/resnet-go/resnet/internal/memcheck"
)

// processorConfigBound: ParseProcessorConfig allocates at most 64 bytes per input byte plus
// 64 KiB.
var processorConfigBound = memcheck.Bound{PerByte: 64, Cap: 64 << 10}

// FuzzParseProcessorConfig: preprocessor_config.json within the memory bound; a config that
// parses is valid, and Config() writes it back to the same processor.
func FuzzParseProcessorConfig(f *testing.F) {
	for _, pat := range []string{"testdata/configs/*.json", "testdata/processor.json", "../defaultmodel/model/preprocessor_config.json"} {
		files, _ := filepath.Glob(pat)
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"size":{"height":7,"width":9},"do_resize":true,"resample":3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p *Processor
		var err error
		n := memcheck.Bytes(func() { p, err = ParseProcessorConfig(data) })
		if e := processorConfigBound.Check("ParseProcessorConfig", len(data), n); e != nil {
			t.Fatal(e)
		}
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed an invalid processor: %v", err)
		}
		b := p.Config()
		p2, err := ParseProcessorConfig(b)
		if err != nil {
			t.Fatalf("reading back %s: %v", b, err)
		}
		// crop_pct means nothing for a warp (height/width) or a shortest_edge of 384 or more,
		// and Config() leaves it out there.
		for _, q := range []*Processor{p, p2} {
			if q.ShortestEdge == 0 || q.ShortestEdge >= convnextWarpEdge {
				q.CropPct = 0
			}
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("processor %+v read back as %+v from %s", *p, *p2, b)
		}
	})
}
