package weights

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"reflect"
	"strconv"
	"testing"
)

// jsonable converts unpickled plain data to the shape encoding/json (UseNumber)
// gives for the same object serialised by Python's json module.
func jsonable(t *testing.T, v any) any {
	switch x := v.(type) {
	case nil, bool, string:
		return x
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case *big.Int:
		return json.Number(x.String())
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	case pyTuple:
		out := []any{}
		for _, e := range x {
			out = append(out, jsonable(t, e))
		}
		return out
	case *pyList:
		return jsonable(t, pyTuple(x.items))
	case *pyDict:
		out := map[string]any{}
		for i, k := range x.keys {
			out[k.(string)] = jsonable(t, x.vals[i])
		}
		return out
	}
	t.Fatalf("unexpected %T", v)
	return nil
}

// TestPlainPicklesAllProtocols decodes one object pickled by Python with protocols
// 0 to 5 (text opcodes, memo GET/PUT, frames, MEMOIZE, big ints, ...).
func TestPlainPicklesAllProtocols(t *testing.T) {
	var fx struct {
		Pickles []struct {
			Protocol int
			Hex      string
		}
		JSON      json.RawMessage
		SetPickle string `json:"set_pickle"`
	}
	readJSON(t, "pickles.json", &fx)
	dec := json.NewDecoder(bytes.NewReader(fx.JSON))
	dec.UseNumber()
	var want any
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	if len(fx.Pickles) != 6 {
		t.Fatalf("%d pickles, want protocols 0-5", len(fx.Pickles))
	}
	for _, p := range fx.Pickles {
		b, _ := hex.DecodeString(p.Hex)
		v, end, err := unpickle(b, 0, nil)
		if err != nil {
			t.Fatalf("protocol %d: %v", p.Protocol, err)
		}
		if end != len(b) {
			t.Errorf("protocol %d: stopped at %d of %d", p.Protocol, end, len(b))
		}
		if got := jsonable(t, v); !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			t.Errorf("protocol %d:\n got %s\nwant %s", p.Protocol, g, fx.JSON)
		}
		shared, _ := v.(*pyDict).get("shared")
		if items := shared.(*pyList).items; items[0] != items[1] {
			t.Errorf("protocol %d: memoised list was copied, not shared", p.Protocol)
		}
	}
	b, _ := hex.DecodeString(fx.SetPickle)
	v, _, err := unpickle(b, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := v.(*pyDict).get("s")
	f, _ := v.(*pyDict).get("f")
	if len(s.(*pySet).items) != 2 || len(f.(*pySet).items) != 1 {
		t.Errorf("sets: %v %v", s, f)
	}
}

func TestUnpickleText(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{"S'a\\x41\\n\\'\\\\'\n.", "aA\n'\\"},
		{"S\"q\\101\"\n.", "qA"},
		{"V\\u00e9\\U0001F600x\n.", "é😀x"},
		{"I01\n.", true},
		{"I00\n.", false},
		{"I-12\n.", int64(-12)},
		{"L123456789012345678901234567890L\n.", "123456789012345678901234567890"},
		{"F-0.25\n.", -0.25},
		{"\x8a\x00.", int64(0)},
		{"\x8a\x02\xff\x7f.", int64(32767)},
		{"\x8a\x01\x80.", int64(-128)},
		{"\x8b\x01\x00\x00\x00\xff.", int64(-1)},
		{"K\x05\x32.", int64(5)},      // DUP
		{"K\x05N0.", int64(5)},        // POP
		{"K\x05(N1.", int64(5)},       // POP_MARK
		{"(K\x010.", nil},             // POP of a value then STOP with underflow below
		{"C\x02ab.", []byte("ab")},    // SHORT_BINBYTES
		{"U\x02ab.", "ab"},            // SHORT_BINSTRING (Python 2 str)
		{"\x8c\x02h\xc3.", "h\xc3"},   // invalid UTF-8 is kept, not a crash
		{"]K\x01a.", []any{int64(1)}}, // APPEND
		{"(K\x01K\x02l.", []any{int64(1), int64(2)}},
		{"(K\x01K\x02d.", map[string]any{"1": int64(2)}},
	}
	for _, c := range cases {
		v, _, err := unpickle([]byte(c.in), 0, nil)
		if c.in == "(K\x010." { // POP removes K, then STOP finds only the mark
			wantErr(t, err, "stack underflow")
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		got := v
		switch x := v.(type) {
		case *big.Int:
			got = x.String()
		case *pyList:
			got = x.items
		case *pyDict:
			m := map[string]any{}
			for i, k := range x.keys {
				m[strconv.FormatInt(k.(int64), 10)] = x.vals[i]
			}
			got = m
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q = %#v, want %#v", c.in, got, c.want)
		}
	}
}

func TestUnpickleErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "no STOP"},
		{"\x80\x06.", "unsupported protocol 6"},
		{"X\xff\xff\xff\x7f", "truncated"},
		{"\x8d\xff\xff\xff\xff\xff\xff\xff\xffab.", "truncated"},
		{"T\xff\xff\xff\xff.", "negative length"},
		{"\x8b\xff\xff\xff\xff.", "negative length"},
		{"S'abc\n.", "not quoted"},
		{"S'\\x4'\n.", "\\x escape"},
		{"V\\u12\n.", "short escape"},
		{"I12x\n.", "bad integer literal"},
		{"F1.2.3\n.", "bad float literal"},
		{"I" + string(bytes.Repeat([]byte("9"), 5000)) + "\n.", "longer than 4300 digits"},
		{"g7\n.", "memo index 7 missing"},
		{"j\x00\x00\x00\x01.", "memo index 16777216 missing"},
		{"p0\n.", "stack underflow"},
		{"N\x94h\x01.", "memo index 1 missing"}, // MEMOIZE counts entries, not pushes
		{"K\x01a.", "stack underflow"},
		{"NK\x01a.", "APPEND to a None"},
		{"}]]s.", "unhashable dict key of type list"},
		{"N(K\x01u.", "odd number of items"},
		{"1.", "no MARK"},
		{"\x8c\x01a\x8c\x01b\x93.", `refusing global "a.b"`},
		{"K\x01\x8c\x01b\x93.", "STACK_GLOBAL needs two str"},
		{"ccollections\nOrderedDict\nN\x81.", "arguments must be a tuple"},
		{"ccollections\nOrderedDict\n)}K\x01K\x02s\x92.", "keyword arguments"},
		{"(o.", "OBJ without a class"},
		{"\x97.", "out-of-band buffers"},
		{"ccollections\nOrderedDict\n(K\x01\x85t\x85R.", "(key, value) pair"},
		{"ccollections\nOrderedDict\n(K\x01\x85K\x02\x85tR.", "at most 1 argument"},
		{"ctorch._utils\n_rebuild_parameter\nK\x01N)\x87R.", "_rebuild_parameter of a int"},
		{"ccollections\nOrderedDict\nK\x01\x85R.", "OrderedDict from a int"},
	}
	for _, c := range cases {
		_, _, err := unpickle([]byte(c.in), 0, nil)
		if err == nil {
			t.Errorf("%q: no error, want %q", c.in, c.want)
			continue
		}
		if !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("%q: error %q, want %q", c.in, err, c.want)
		}
	}
	// OrderedDict built from a list of pairs, and INST/OBJ/NEWOBJ forms
	for _, in := range []string{
		"ccollections\nOrderedDict\n((X\x01\x00\x00\x00aK\x01tl\x85R.",
		"(icollections\nOrderedDict\n.",
		"(ccollections\nOrderedDict\no.",
		"ccollections\nOrderedDict\n)\x81.",
		"ccollections\nOrderedDict\n)}\x92.",
	} {
		v, _, err := unpickle([]byte(in), 0, nil)
		if _, ok := v.(*pyDict); err != nil || !ok {
			t.Errorf("%q: %v %v", in, v, err)
		}
	}
	// tensor arguments: rank and range limits
	for _, c := range []struct {
		args []any
		want string
	}{
		{[]any{&storageRef{}, int64(-1), pyTuple{}, pyTuple{}}, "storage_offset -1 out of range"},
		{[]any{&storageRef{}, new(big.Int).Lsh(big.NewInt(1), 70), pyTuple{}, pyTuple{}}, "storage_offset 1180591620717411303424 out of range"},
		{[]any{&storageRef{}, "0", pyTuple{}, pyTuple{}}, "storage_offset is a str"},
		{[]any{&storageRef{}, int64(0), make(pyTuple, 65), make(pyTuple, 65)}, "65 dimensions"},
		{[]any{&storageRef{}, int64(0), pyTuple{1.5}, pyTuple{int64(1)}}, "size is a float"},
		{[]any{nil, int64(0), pyTuple{}, pyTuple{}}, "storage is a None"},
		{[]any{&storageRef{}, int64(0), "x", pyTuple{}}, "size is a str"},
	} {
		_, err := newTensorRef(c.args)
		wantErr(t, err, c.want)
	}
}

func TestPyDictKeys(t *testing.T) {
	d := newPyDict()
	keys := []any{"a", []byte("a"), int64(1), true, nil, 1.5, big.NewInt(0).Lsh(big.NewInt(1), 80),
		pyTuple{"a", int64(1)}, pyTuple{"a", "1"}, pyGlobal{"collections", "OrderedDict"}}
	for i, k := range keys {
		if err := d.set(k, i); err != nil {
			t.Fatalf("%v: %v", k, err)
		}
	}
	if err := d.set("a", "again"); err != nil || len(d.keys) != len(keys) || d.vals[0] != "again" {
		t.Errorf("re-setting a key: %v, %d keys, first value %v", err, len(d.keys), d.vals[0])
	}
	for _, bad := range []any{&pyList{}, pyTuple{&pyDict{}}, &pySet{}} {
		if err := d.set(bad, 0); err == nil {
			t.Errorf("%s accepted as a key", pyTypeName(bad))
		}
	}
	deep := any(pyTuple{})
	for i := 0; i < 40; i++ {
		deep = pyTuple{deep}
	}
	if err := d.set(deep, 0); err == nil {
		t.Error("deeply nested tuple accepted as a key")
	}
}
