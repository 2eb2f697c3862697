package weights

import (
	"fmt"
	"math/big"
)

// storageDTypes maps the legacy storage classes torch pickles name to the dtype of
// their elements. They only ever appear inside persistent ids.
var storageDTypes = map[string]string{
	"torch.FloatStorage":    "F32",
	"torch.DoubleStorage":   "F64",
	"torch.HalfStorage":     "F16",
	"torch.BFloat16Storage": "BF16",
	"torch.LongStorage":     "I64",
	"torch.IntStorage":      "I32",
	"torch.ShortStorage":    "I16",
	"torch.CharStorage":     "I8",
	"torch.ByteStorage":     "U8",
	"torch.BoolStorage":     "BOOL",
}

// callableGlobals are the only functions a pickle may call. Each one just builds a
// value here; nothing from the file is ever executed.
var callableGlobals = map[string]bool{
	"collections.OrderedDict":         true,
	"torch._utils._rebuild_tensor":    true,
	"torch._utils._rebuild_tensor_v2": true,
	"torch._utils._rebuild_parameter": true,
}

// resolveGlobal accepts a module attribute only if it is on the allow-list.
func resolveGlobal(module, name string) (pyGlobal, error) {
	g := pyGlobal{module, name}
	full := g.String()
	if callableGlobals[full] || storageDTypes[full] != "" {
		return g, nil
	}
	return g, fmt.Errorf("pickle: refusing global %q (only tensor-rebuilding globals are allowed)", full)
}

// storageRef is a torch storage named by a persistent id. The bytes are fetched
// later (zip record or legacy data section); a legacy view addresses part of a root.
type storageRef struct {
	key    string // root storage key
	dtype  string
	numel  int // elements in the root storage
	offset int // view start within the root, in elements
	length int // elements visible through this ref
}

// tensorRef is a tensor as the pickle describes it: a strided view of a storage.
type tensorRef struct {
	storage *storageRef
	offset  int
	size    []int
	stride  []int
}

// callGlobal "calls" an allowed global by building the value it would return.
func callGlobal(g pyGlobal, args []any) (any, error) {
	switch g.String() {
	case "collections.OrderedDict":
		return newOrderedDict(args)
	case "torch._utils._rebuild_tensor":
		if len(args) != 4 {
			return nil, fmt.Errorf("pickle: _rebuild_tensor takes 4 arguments, got %d", len(args))
		}
		return newTensorRef(args)
	case "torch._utils._rebuild_tensor_v2":
		if len(args) != 6 && len(args) != 7 {
			return nil, fmt.Errorf("pickle: _rebuild_tensor_v2 takes 6 or 7 arguments, got %d", len(args))
		}
		return newTensorRef(args[:4])
	case "torch._utils._rebuild_parameter":
		if len(args) != 3 {
			return nil, fmt.Errorf("pickle: _rebuild_parameter takes 3 arguments, got %d", len(args))
		}
		if _, ok := args[0].(*tensorRef); !ok {
			return nil, fmt.Errorf("pickle: _rebuild_parameter of a %s, want a tensor", pyTypeName(args[0]))
		}
		return args[0], nil
	}
	return nil, fmt.Errorf("pickle: %s cannot be called", g)
}

// newOrderedDict builds OrderedDict() or OrderedDict(iterable of pairs).
func newOrderedDict(args []any) (any, error) {
	d := newPyDict()
	if len(args) == 0 {
		return d, nil
	}
	if len(args) > 1 {
		return nil, fmt.Errorf("pickle: OrderedDict takes at most 1 argument, got %d", len(args))
	}
	var pairs []any
	switch a := args[0].(type) {
	case *pyList:
		pairs = a.items
	case pyTuple:
		pairs = a
	default:
		return nil, fmt.Errorf("pickle: OrderedDict from a %s is not supported", pyTypeName(a))
	}
	for _, p := range pairs {
		kv, ok := p.(pyTuple)
		if !ok {
			if l, isList := p.(*pyList); isList {
				kv, ok = l.items, true
			}
		}
		if !ok || len(kv) != 2 {
			return nil, fmt.Errorf("pickle: OrderedDict item must be a (key, value) pair")
		}
		if err := d.set(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// newTensorRef checks (storage, storage_offset, size, stride).
func newTensorRef(args []any) (*tensorRef, error) {
	st, ok := args[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("pickle: tensor storage is a %s, want a storage", pyTypeName(args[0]))
	}
	off, err := asNonNegInt(args[1], "storage_offset")
	if err != nil {
		return nil, err
	}
	size, err := asIntTuple(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := asIntTuple(args[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("pickle: tensor size %v and stride %v differ in length", size, stride)
	}
	return &tensorRef{storage: st, offset: off, size: size, stride: stride}, nil
}

// maxDims bounds tensor rank; torch itself allows 64 dimensions.
const maxDims = 64

func asIntTuple(v any, what string) ([]int, error) {
	var items []any
	switch t := v.(type) {
	case pyTuple:
		items = t
	case *pyList:
		items = t.items
	default:
		return nil, fmt.Errorf("pickle: tensor %s is a %s, want a tuple", what, pyTypeName(v))
	}
	if len(items) > maxDims {
		return nil, fmt.Errorf("pickle: tensor %s has %d dimensions (max %d)", what, len(items), maxDims)
	}
	out := make([]int, len(items))
	for i, it := range items {
		n, err := asNonNegInt(it, what)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// asNonNegInt accepts a Python int in [0, maxInt/4], small enough that the
// products and sums of tensor indexing stay checkable without overflow.
func asNonNegInt(v any, what string) (int, error) {
	switch n := v.(type) {
	case int64:
		if n >= 0 && n <= int64(maxInt/4) {
			return int(n), nil
		}
		return 0, fmt.Errorf("pickle: %s %d out of range", what, n)
	case *big.Int:
		return 0, fmt.Errorf("pickle: %s %s out of range", what, n)
	}
	return 0, fmt.Errorf("pickle: %s is a %s, want an int", what, pyTypeName(v))
}

// asText accepts str, or bytes from Python 2 pickles.
func asText(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}
