package weights

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"unsafe"
)

// Source gives a checkpoint's tensors one at a time. A model builder reading from a Source
// never holds the whole checkpoint in memory next to the model it builds, which keeps peak
// memory near the size of the weights.
type Source interface {
	// Names lists the tensor names, sorted.
	Names() []string
	// Shape reports a tensor's shape, or false when there is no such tensor.
	Shape(name string) ([]int, bool)
	// Read converts a tensor to float32 into dst, which must hold exactly its elements.
	Read(name string, dst []float32) error
}

// Shape implements Source.
func (s StateDict) Shape(name string) ([]int, bool) {
	t, ok := s[name]
	if !ok {
		return nil, false
	}
	return t.Shape, true
}

// Read implements Source by copying.
func (s StateDict) Read(name string, dst []float32) error {
	t, ok := s[name]
	if !ok {
		return fmt.Errorf("no tensor %q", name)
	}
	if len(dst) != len(t.Data) {
		return fmt.Errorf("tensor %q has %d values, destination %d", name, len(t.Data), len(dst))
	}
	copy(dst, t.Data)
	return nil
}

// SafetensorsFile is an open .safetensors file whose header has been validated; tensors are
// read from disk only when asked for.
type SafetensorsFile struct {
	f       *os.File
	path    string
	dataOff int64
	entries map[string]stEntry
	mu      sync.Mutex
	raw     []byte // reused read buffer, so loading makes no garbage per tensor
	// Metadata is the header's __metadata__ map (nil when absent).
	Metadata map[string]string
}

// OpenSafetensors reads and checks the header (size limit, JSON, dtypes, offsets tiling the
// data exactly) without reading any tensor data.
func OpenSafetensors(path string) (*SafetensorsFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s, err := openSafetensors(f, path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func openSafetensors(f *os.File, path string) (*SafetensorsFile, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(f, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("safetensors: file is %d bytes, too short for the 8-byte header length", st.Size())
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxSafetensorsHeader {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the limit of %d bytes", n, maxSafetensorsHeader)
	}
	if n > uint64(st.Size()-8) {
		return nil, fmt.Errorf("safetensors: header length %d runs past the end of the %d-byte file", n, st.Size())
	}
	header := make([]byte, n)
	if _, err := io.ReadFull(f, header); err != nil {
		return nil, fmt.Errorf("safetensors: reading header: %w", err)
	}
	entries, meta, err := parseSafetensorsHeader(header)
	if err != nil {
		return nil, err
	}
	dataLen := st.Size() - 8 - int64(n)
	if err := checkTiling(entries, int(dataLen)); err != nil {
		return nil, err
	}
	s := &SafetensorsFile{f: f, path: path, dataOff: 8 + int64(n), entries: make(map[string]stEntry, len(entries)), Metadata: meta}
	for _, e := range entries {
		if err := checkConvertible(e.name, e.dtype); err != nil {
			return nil, fmt.Errorf("safetensors: %w", err)
		}
		s.entries[e.name] = e
	}
	return s, nil
}

// Close releases the file and the read buffer.
func (s *SafetensorsFile) Close() error {
	s.raw = nil
	return s.f.Close()
}

// Names implements Source.
func (s *SafetensorsFile) Names() []string {
	names := make([]string, 0, len(s.entries))
	for k := range s.entries {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Shape implements Source.
func (s *SafetensorsFile) Shape(name string) ([]int, bool) {
	e, ok := s.entries[name]
	return e.shape, ok
}

// DType reports a tensor's stored dtype.
func (s *SafetensorsFile) DType(name string) string { return s.entries[name].dtype }

// DType reports a tensor's stored dtype.
func (s StateDict) DType(name string) string {
	if t, ok := s[name]; ok {
		return t.DType
	}
	return ""
}

// Read implements Source: one positioned read, then conversion to float32.
func (s *SafetensorsFile) Read(name string, dst []float32) error {
	e, ok := s.entries[name]
	if !ok {
		return fmt.Errorf("%s: no tensor %q", s.path, name)
	}
	n := (e.end - e.begin) / dtypeSizes[e.dtype]
	if len(dst) != n {
		return fmt.Errorf("%s: tensor %q has %d values, destination %d", s.path, name, n, len(dst))
	}
	if e.dtype == "F32" && nativeLittleEndian && n > 0 {
		// The file's bytes are the values: read them straight into dst, with no buffer.
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*n)
		if _, err := s.f.ReadAt(raw, s.dataOff+int64(e.begin)); err != nil {
			return fmt.Errorf("%s: reading tensor %q: %w", s.path, name, err)
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cap(s.raw) < e.end-e.begin {
		s.raw = make([]byte, e.end-e.begin)
	}
	raw := s.raw[:e.end-e.begin]
	if _, err := s.f.ReadAt(raw, s.dataOff+int64(e.begin)); err != nil {
		return fmt.Errorf("%s: reading tensor %q: %w", s.path, name, err)
	}
	decodeContiguous(e.dtype, raw, dst)
	return nil
}

// Materialize reads every tensor of a source into memory.
func Materialize(src Source) (StateDict, error) {
	if sd, ok := src.(StateDict); ok {
		return sd, nil
	}
	sd := StateDict{}
	for _, name := range src.Names() {
		shape, _ := src.Shape(name)
		t := &Tensor{DType: "F32", Shape: shape, Data: make([]float32, elementCount(shape))}
		if d, ok := src.(interface{ DType(string) string }); ok {
			t.DType = d.DType(name)
		}
		if err := src.Read(name, t.Data); err != nil {
			return nil, err
		}
		sd[name] = t
	}
	return sd, nil
}

func elementCount(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// ToHFSource is ToHF for a Source: the returned Source answers to HF names and reads from src
// lazily.
func ToHFSource(src Source) (Source, error) {
	if sd, ok := src.(StateDict); ok {
		return ToHF(sd)
	}
	shapes := StateDict{}
	origin := map[*Tensor]string{}
	for _, name := range src.Names() {
		shape, _ := src.Shape(name)
		t := &Tensor{Shape: shape}
		shapes[name] = t
		origin[t] = name
	}
	hf, err := ToHF(shapes)
	if err != nil {
		return nil, err
	}
	r := renamed{src: src, to: map[string]string{}}
	for name, t := range hf {
		r.to[name] = origin[t]
	}
	return r, nil
}

// renamed serves src's tensors under other names.
type renamed struct {
	src Source
	to  map[string]string // new name → name in src
}

func (r renamed) Names() []string {
	names := make([]string, 0, len(r.to))
	for k := range r.to {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (r renamed) Shape(name string) ([]int, bool) {
	orig, ok := r.to[name]
	if !ok {
		return nil, false
	}
	return r.src.Shape(orig)
}

// DType forwards to src when it knows stored dtypes.
func (r renamed) DType(name string) string {
	if d, ok := r.src.(interface{ DType(string) string }); ok {
		return d.DType(r.to[name])
	}
	return "F32"
}

// Without serves src minus the named tensors (for example a classifier head being replaced).
func Without(src Source, drop ...string) Source {
	r := renamed{src: src, to: map[string]string{}}
	for _, n := range src.Names() {
		r.to[n] = n
	}
	for _, n := range drop {
		delete(r.to, n)
	}
	return r
}

func (r renamed) Read(name string, dst []float32) error {
	orig, ok := r.to[name]
	if !ok {
		return fmt.Errorf("no tensor %q", name)
	}
	return r.src.Read(orig, dst)
}
