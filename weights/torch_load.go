package weights

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ReadPyTorch loads a torch.save checkpoint: the zip format (torch >= 1.6) or the
// legacy stream format, detected from the content. The tensors are taken from the
// top-level dict, or from its 'state_dict', 'model_state_dict' or 'model' entry when
// the top level holds no tensors; a leading "module." (DataParallel) is stripped from
// every name and non-tensor entries are ignored. Storages saved on CUDA load on CPU.
// Like torch.load(weights_only=True), the unpickler builds only an allow-list of types
// (tensors, storages, dicts, lists, tuples, numbers, strings): a checkpoint that also
// pickled other objects (an argparse.Namespace of the run's arguments, a numpy scalar) is
// refused, naming the type; save its state_dict alone to load it.
func ReadPyTorch(path string) (StateDict, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sd, err := parsePyTorch(buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sd, nil
}

// parsePyTorch dispatches on the first bytes of an in-memory checkpoint.
func parsePyTorch(buf []byte) (StateDict, error) {
	switch {
	case isZip(buf):
		return parseTorchZip(buf)
	case len(buf) > 0 && buf[0] == 0x80:
		return parseTorchLegacy(buf)
	case isTar(buf):
		return nil, fmt.Errorf("torch: the tar checkpoint format of torch < 0.4 is not supported")
	}
	return nil, fmt.Errorf("torch: not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save stream)")
}

func isZip(b []byte) bool {
	return bytes.HasPrefix(b, []byte("PK\x03\x04")) || bytes.HasPrefix(b, []byte("PK\x05\x06"))
}

func isTar(b []byte) bool { return len(b) >= 262 && string(b[257:262]) == "ustar" }

// torchStorages records every storage the pickle names, so the data section can be
// checked against it and shared storages are read once.
type torchStorages struct {
	byKey map[string]*storageRef // root refs
	order []string
}

// persistentLoad resolves ('storage', StorageClass, key, location, numel[, view]).
func (s *torchStorages) persistentLoad(pid any) (any, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) == 0 {
		return nil, fmt.Errorf("unsupported persistent id of type %s", pyTypeName(pid))
	}
	if kind, _ := asText(t[0]); kind != "storage" {
		return nil, fmt.Errorf("unsupported persistent id kind %v (want 'storage')", t[0])
	}
	if len(t) != 5 && len(t) != 6 {
		return nil, fmt.Errorf("storage id has %d fields, want 5 or 6", len(t))
	}
	cls, ok := t[1].(pyGlobal)
	if !ok || storageDTypes[cls.String()] == "" {
		return nil, fmt.Errorf("storage class is a %s, want torch.*Storage", pyTypeName(t[1]))
	}
	key, ok := asText(t[2])
	if n, isInt := t[2].(int64); isInt {
		key, ok = strconv.FormatInt(n, 10), true
	}
	if !ok {
		return nil, fmt.Errorf("storage key is a %s, want str", pyTypeName(t[2]))
	}
	if _, ok := asText(t[3]); !ok {
		return nil, fmt.Errorf("storage %q: location is a %s, want str", key, pyTypeName(t[3]))
	}
	numel, err := asNonNegInt(t[4], "storage size")
	if err != nil {
		return nil, fmt.Errorf("storage %q: %w", key, err)
	}
	root := &storageRef{key: key, dtype: storageDTypes[cls.String()], numel: numel, length: numel}
	if prev, seen := s.byKey[key]; seen {
		if prev.dtype != root.dtype || prev.numel != root.numel {
			return nil, fmt.Errorf("storage %q named as %s[%d] and as %s[%d]",
				key, prev.dtype, prev.numel, root.dtype, root.numel)
		}
		root = prev
	} else {
		s.byKey[key] = root
		s.order = append(s.order, key)
	}
	if len(t) == 5 || t[5] == nil {
		return root, nil
	}
	// legacy storage view: (view_key, offset, size) within the root storage
	view, ok := t[5].(pyTuple)
	if !ok || len(view) != 3 {
		return nil, fmt.Errorf("storage %q: view metadata must be (key, offset, size)", key)
	}
	off, err := asNonNegInt(view[1], "storage view offset")
	if err != nil {
		return nil, fmt.Errorf("storage %q: %w", key, err)
	}
	n, err := asNonNegInt(view[2], "storage view size")
	if err != nil {
		return nil, fmt.Errorf("storage %q: %w", key, err)
	}
	if off+n > numel {
		return nil, fmt.Errorf("storage %q: view [%d, %d) outside its %d elements", key, off, off+n, numel)
	}
	return &storageRef{key: key, dtype: root.dtype, numel: numel, offset: off, length: n}, nil
}

// namedRef is one tensor found in the checkpoint object, in pickle order.
type namedRef struct {
	name string
	ref  *tensorRef
}

// wrapperKeys are the entries training scripts nest a state dict under.
var wrapperKeys = []string{"state_dict", "model_state_dict", "model"}

// stateDictRefs finds the tensors of a checkpoint object (see ReadPyTorch).
func stateDictRefs(top any) ([]namedRef, error) {
	d, ok := top.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("checkpoint holds a %s, not a dict of tensors", pyTypeName(top))
	}
	refs := tensorsOf(d)
	if len(refs) == 0 {
		for _, k := range wrapperKeys {
			if inner, ok := d.get(k); ok {
				if id, ok := inner.(*pyDict); ok {
					refs = tensorsOf(id)
					break
				}
			}
		}
	}
	if len(refs) == 0 {
		var keys []string
		for _, k := range d.keys {
			keys = append(keys, fmt.Sprint(k))
		}
		return nil, fmt.Errorf("no tensors found (top-level keys: %s)", strings.Join(keys, ", "))
	}
	seen := map[string]bool{}
	for i := range refs {
		refs[i].name = strings.TrimPrefix(refs[i].name, "module.")
		if seen[refs[i].name] {
			return nil, fmt.Errorf("tensor %q appears twice once \"module.\" is stripped", refs[i].name)
		}
		seen[refs[i].name] = true
	}
	return refs, nil
}

// tensorsOf lists the str-keyed tensor entries of a dict.
func tensorsOf(d *pyDict) []namedRef {
	var refs []namedRef
	for i, k := range d.keys {
		name, ok := k.(string)
		t, isTensor := d.vals[i].(*tensorRef)
		if ok && isTensor {
			refs = append(refs, namedRef{name, t})
		}
	}
	return refs
}

// maxBroadcastElems bounds tensors with more elements than their storage (stride 0),
// so a tiny hostile file cannot demand gigabytes.
const maxBroadcastElems = 1 << 24

// materialize copies a strided view out of its root storage's raw bytes into a
// packed float32 tensor, checking that every index lies inside the storage.
func materialize(name string, t *tensorRef, raw []byte) (*Tensor, error) {
	st := t.storage
	es := dtypeSizes[st.dtype]
	if err := checkConvertible(name, st.dtype); err != nil {
		return nil, err
	}
	if len(raw) < st.numel*es {
		return nil, fmt.Errorf("tensor %q: storage %q holds %d bytes, needs %d", name, st.key, len(raw), st.numel*es)
	}
	numel, last := 1, t.offset
	for i, d := range t.size {
		var ok bool
		if numel, ok = mulCheck(numel, d); !ok {
			return nil, fmt.Errorf("tensor %q: size %s has too many elements", name, shapeString(t.size))
		}
		if d > 0 {
			step, ok1 := mulCheck(d-1, t.stride[i])
			if last, ok = addCheck(last, step); !ok1 || !ok {
				return nil, fmt.Errorf("tensor %q: stride %v overflows", name, t.stride)
			}
		}
	}
	out := &Tensor{DType: st.dtype, Shape: append([]int{}, t.size...), Data: []float32{}}
	if numel == 0 {
		return out, nil
	}
	if last >= st.length {
		return nil, fmt.Errorf("tensor %q: size %s, stride %v and offset %d reach element %d, but storage %q has %d",
			name, shapeString(t.size), t.stride, t.offset, last, st.key, st.length)
	}
	if numel > st.length && numel > maxBroadcastElems {
		return nil, fmt.Errorf("tensor %q: %d elements from a %d-element storage exceeds the limit of %d",
			name, numel, st.length, maxBroadcastElems)
	}
	out.Data = make([]float32, numel)
	base := st.offset + t.offset
	if isContiguous(t.size, t.stride) {
		decodeContiguous(st.dtype, raw[base*es:(base+numel)*es], out.Data)
		return out, nil
	}
	dec := elemDecoders[st.dtype]
	idx := make([]int, len(t.size))
	pos := base
	for k := range out.Data {
		out.Data[k] = dec(raw[pos*es:])
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			pos += t.stride[d]
			if idx[d] < t.size[d] {
				break
			}
			pos -= t.stride[d] * t.size[d]
			idx[d] = 0
		}
	}
	return out, nil
}

// isContiguous reports whether stride is the row-major stride of size (dims of
// size 1 may have any stride).
func isContiguous(size, stride []int) bool {
	want := 1
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// maxViewsPerStorage bounds the elements all tensors together copy out of the storages, as a
// multiple of the elements the storages hold (plus maxBroadcastElems): real checkpoints view
// each stored element once, or twice with tied weights, while a hostile one could name one
// storage in thousands of tensors (a 15 KB zip naming one storage 2000 times asked for
// 128 MiB; FuzzParsePyTorch replays it from testdata/fuzz against its memory bound).
const maxViewsPerStorage = 4

// buildStateDict materializes refs, fetching each root storage's bytes once.
func buildStateDict(refs []namedRef, fetch func(st *storageRef) ([]byte, error)) (StateDict, error) {
	raw := map[string][]byte{}
	sd := make(StateDict, len(refs))
	stored, copied := 0, 0 // elements in the storages fetched so far, in the tensors made
	for _, r := range refs {
		b, ok := raw[r.ref.storage.key]
		if !ok {
			var err error
			if b, err = fetch(r.ref.storage); err != nil {
				return nil, fmt.Errorf("tensor %q: %w", r.name, err)
			}
			raw[r.ref.storage.key] = b
			stored += r.ref.storage.numel
		}
		// (A single tensor over the broadcast limit gets materialize's own error.)
		if n, ok := numelOf(r.ref.size); ok && (n <= r.ref.storage.length || n <= maxBroadcastElems) {
			copied += n
			if limit := maxViewsPerStorage*stored + maxBroadcastElems; copied > limit {
				return nil, fmt.Errorf("tensor %q: the tensors so far hold %d elements, more than %d× the %d their storages hold (+%d); a checkpoint naming the same storage this often is refused",
					r.name, copied, maxViewsPerStorage, stored, maxBroadcastElems)
			}
		}
		t, err := materialize(r.name, r.ref, b)
		if err != nil {
			return nil, err
		}
		sd[r.name] = t
	}
	return sd, nil
}

// numelOf is the element count of a tensor size, or false on overflow (materialize then
// reports it).
func numelOf(size []int) (int, bool) {
	n := 1
	for _, d := range size {
		var ok bool
		if n, ok = mulCheck(n, d); !ok {
			return 0, false
		}
	}
	return n, true
}
