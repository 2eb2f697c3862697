package weights

import (
	"fmt"
	"math/big"
	"strings"
)

// Python values as the pickle machine builds them. Scalars use Go types directly:
// nil (None), bool, int64, *big.Int (ints beyond 64 bits), float64, string, []byte.

// pyTuple is an immutable Python tuple.
type pyTuple []any

// pyList is a Python list; a pointer so APPEND mutates the memoised object too.
type pyList struct{ items []any }

// pySet is a Python set or frozenset; kept only so such pickles still parse.
type pySet struct{ items []any }

// pyDict is an insertion-ordered Python dict (or OrderedDict).
type pyDict struct {
	keys  []any
	vals  []any
	index map[any]int
}

// pyGlobal names a module attribute that passed the allow-list.
type pyGlobal struct{ module, name string }

func (g pyGlobal) String() string { return g.module + "." + g.name }

func newPyDict() *pyDict { return &pyDict{index: map[any]int{}} }

// set stores d[k] = v, replacing an existing key in place like Python does.
func (d *pyDict) set(k, v any) error {
	h, err := hashKey(k, 0)
	if err != nil {
		return err
	}
	if i, ok := d.index[h]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[h] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

// get returns d[k] for a string key.
func (d *pyDict) get(k string) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// Distinct key types so that equal-looking values of different Python types
// (b"a" and "a") do not collide in the index.
type (
	bytesKey string
	bigKey   string
	tupleKey string
)

// hashKey turns a hashable Python value into a comparable Go map key.
func hashKey(k any, depth int) (any, error) {
	switch v := k.(type) {
	case nil, bool, int64, float64, string, pyGlobal:
		return v, nil
	case []byte:
		return bytesKey(v), nil
	case *big.Int:
		return bigKey(v.String()), nil
	case pyTuple:
		if depth > 32 {
			return nil, fmt.Errorf("pickle: dict key tuple nested too deeply")
		}
		var sb strings.Builder
		for _, e := range v {
			h, err := hashKey(e, depth+1)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&sb, "%T:%v;", h, h)
		}
		return tupleKey(sb.String()), nil
	}
	return nil, fmt.Errorf("pickle: unhashable dict key of type %s", pyTypeName(k))
}

// pyTypeName names a value's Python type for error messages.
func pyTypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pySet:
		return "set"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return "global " + x.String()
	case *storageRef:
		return "storage"
	case *tensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}
