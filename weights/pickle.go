package weights

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// unpickler is a pickle machine for protocols 0-5 that never runs code: GLOBAL and
// friends only resolve names on the allow-list (see torch_globals.go), and calling
// one only builds the tensor or dict it stands for. Every read is bounds-checked, so
// malformed input yields an error rather than a panic.
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int // stack heights at each MARK
	memo  map[uint64]any
	// persistentLoad resolves BINPERSID/PERSID ids (torch storages).
	persistentLoad func(pid any) (any, error)
}

// maxDecimalDigits bounds protocol-0 integer literals, as CPython does for int().
const maxDecimalDigits = 4300

// unpickle runs one pickle starting at data[pos] and returns its value and the
// position just past its STOP opcode.
func unpickle(data []byte, pos int, persistentLoad func(any) (any, error)) (any, int, error) {
	u := &unpickler{data: data, pos: pos, memo: map[uint64]any{}, persistentLoad: persistentLoad}
	if u.persistentLoad == nil {
		u.persistentLoad = func(any) (any, error) { return nil, errors.New("pickle: unexpected persistent id") }
	}
	v, err := u.run()
	return v, u.pos, err
}

func (u *unpickler) errorf(format string, args ...any) error {
	return fmt.Errorf("pickle: "+format+" (at byte %d)", append(args, u.pos)...)
}

// read returns the next n bytes, or an error if the pickle ends first.
func (u *unpickler) read(n uint64) ([]byte, error) {
	if n > uint64(len(u.data)-u.pos) {
		return nil, u.errorf("truncated: need %d more bytes, have %d", n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

func (u *unpickler) readLine() (string, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return "", u.errorf("truncated: missing end of line")
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func (u *unpickler) readUint(n int) (uint64, error) {
	b, err := u.read(uint64(n))
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

// floor is the lowest stack index visible above the innermost MARK; like CPython,
// an opcode cannot pop through a mark.
func (u *unpickler) floor() int {
	if len(u.marks) == 0 {
		return 0
	}
	return u.marks[len(u.marks)-1]
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) <= u.floor() {
		return nil, u.errorf("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) <= u.floor() {
		return nil, u.errorf("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark removes and returns everything pushed since the innermost MARK.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errorf("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

// run executes opcodes until STOP.
func (u *unpickler) run() (any, error) {
	for {
		if u.pos >= len(u.data) {
			return nil, u.errorf("truncated: no STOP opcode")
		}
		op := u.data[u.pos]
		u.pos++
		if op == '.' { // STOP
			return u.pop()
		}
		if err := u.step(op); err != nil {
			return nil, err
		}
	}
}

// step executes one opcode other than STOP.
func (u *unpickler) step(op byte) error {
	switch op {
	case 0x80: // PROTO
		b, err := u.read(1)
		if err != nil {
			return err
		}
		if b[0] > 5 {
			return u.errorf("unsupported protocol %d", b[0])
		}
	case 0x95: // FRAME: a length hint, the opcodes follow inline
		_, err := u.read(8)
		return err
	case '(': // MARK
		u.marks = append(u.marks, len(u.stack))
	case '0': // POP
		if len(u.stack) > u.floor() {
			u.stack = u.stack[:len(u.stack)-1]
		} else {
			_, err := u.popMark()
			return err
		}
	case '1': // POP_MARK
		_, err := u.popMark()
		return err
	case '2': // DUP
		v, err := u.top()
		if err != nil {
			return err
		}
		u.push(v)

	case 'N':
		u.push(nil)
	case 0x88:
		u.push(true)
	case 0x89:
		u.push(false)
	case 'I', 'L', 'F', 'S', 'V': // protocol 0 text literals
		return u.textLiteral(op)
	case 'J': // BININT
		v, err := u.readUint(4)
		if err != nil {
			return err
		}
		u.push(int64(int32(uint32(v))))
	case 'K': // BININT1
		v, err := u.readUint(1)
		if err != nil {
			return err
		}
		u.push(int64(v))
	case 'M': // BININT2
		v, err := u.readUint(2)
		if err != nil {
			return err
		}
		u.push(int64(v))
	case 0x8a, 0x8b: // LONG1, LONG4
		width := 1
		if op == 0x8b {
			width = 4
		}
		n, err := u.readUint(width)
		if err != nil {
			return err
		}
		if width == 4 && int32(uint32(n)) < 0 {
			return u.errorf("LONG4 with negative length")
		}
		b, err := u.read(n)
		if err != nil {
			return err
		}
		u.push(decodeLong(b))
	case 'G': // BINFLOAT, big-endian
		b, err := u.read(8)
		if err != nil {
			return err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))

	case 'T', 'U', 'X', 0x8c, 0x8d, 'B', 'C', 0x8e, 0x96: // counted strings and bytes
		return u.counted(op)

	case ')':
		u.push(pyTuple{})
	case 't':
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(pyTuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		if len(u.stack)-u.floor() < n {
			return u.errorf("stack underflow")
		}
		t := append(pyTuple(nil), u.stack[len(u.stack)-n:]...)
		u.stack = u.stack[:len(u.stack)-n]
		u.push(t)
	case ']':
		u.push(&pyList{})
	case 'l':
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&pyList{items: items})
	case 'a', 'e': // APPEND, APPENDS
		return u.appendItems(op == 'e')
	case '}':
		u.push(newPyDict())
	case 'd', 's', 'u': // DICT, SETITEM, SETITEMS
		return u.dictItems(op)
	case 0x8f: // EMPTY_SET
		u.push(&pySet{})
	case 0x90, 0x91: // ADDITEMS, FROZENSET
		items, err := u.popMark()
		if err != nil {
			return err
		}
		if op == 0x91 {
			u.push(&pySet{items: items})
			return nil
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		s, ok := v.(*pySet)
		if !ok {
			return u.errorf("ADDITEMS to a %s", pyTypeName(v))
		}
		s.items = append(s.items, items...)

	case 'g', 'h', 'j': // GET, BINGET, LONG_BINGET
		idx, err := u.memoIndex(op, 'g', 'h')
		if err != nil {
			return err
		}
		v, ok := u.memo[idx]
		if !ok {
			return u.errorf("memo index %d missing", idx)
		}
		u.push(v)
	case 'p', 'q', 'r': // PUT, BINPUT, LONG_BINPUT
		idx, err := u.memoIndex(op, 'p', 'q')
		if err != nil {
			return err
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		u.memo[idx] = v
	case 0x94: // MEMOIZE
		v, err := u.top()
		if err != nil {
			return err
		}
		u.memo[uint64(len(u.memo))] = v

	case 'c', 'i', 0x93: // GLOBAL, INST, STACK_GLOBAL
		return u.global(op)
	case 'R', 0x81, 0x92, 'o': // REDUCE, NEWOBJ, NEWOBJ_EX, OBJ
		return u.callOp(op)
	case 'b': // BUILD: the state only matters to real Python objects; drop it
		if _, err := u.pop(); err != nil {
			return err
		}
		_, err := u.top()
		return err
	case 'P': // PERSID
		s, err := u.readLine()
		if err != nil {
			return err
		}
		return u.persist(s)
	case 'Q': // BINPERSID
		pid, err := u.pop()
		if err != nil {
			return err
		}
		return u.persist(pid)
	case 0x82, 0x83, 0x84:
		return u.errorf("extension-registry opcodes (EXT1/2/4) are not supported")
	case 0x97, 0x98:
		return u.errorf("out-of-band buffers (NEXT_BUFFER/READONLY_BUFFER) are not supported")
	default:
		return u.errorf("unknown opcode 0x%02x", op)
	}
	return nil
}

func (u *unpickler) persist(pid any) error {
	v, err := u.persistentLoad(pid)
	if err != nil {
		return fmt.Errorf("%w (at byte %d)", err, u.pos)
	}
	u.push(v)
	return nil
}

// memoIndex reads a memo index in text, 1-byte or 4-byte form.
func (u *unpickler) memoIndex(op, text, short byte) (uint64, error) {
	switch op {
	case text:
		s, err := u.readLine()
		if err != nil {
			return 0, err
		}
		v, err := strconv.ParseUint(s, 10, 63)
		if err != nil {
			return 0, u.errorf("bad memo index %q", s)
		}
		return v, nil
	case short:
		return u.readUint(1)
	}
	return u.readUint(4)
}

// counted reads the length-prefixed string and bytes opcodes.
func (u *unpickler) counted(op byte) error {
	width := map[byte]int{'T': 4, 'U': 1, 'X': 4, 0x8c: 1, 0x8d: 8, 'B': 4, 'C': 1, 0x8e: 8, 0x96: 8}[op]
	n, err := u.readUint(width)
	if err != nil {
		return err
	}
	if op == 'T' && int32(uint32(n)) < 0 {
		return u.errorf("BINSTRING with negative length")
	}
	b, err := u.read(n)
	if err != nil {
		return err
	}
	switch op {
	case 'B', 'C', 0x8e, 0x96:
		u.push(append([]byte(nil), b...))
	default: // Python 2 str (T, U) is decoded as text, as torch.load does
		u.push(string(b))
	}
	return nil
}

// textLiteral handles protocol 0's INT, LONG, FLOAT, STRING and UNICODE.
func (u *unpickler) textLiteral(op byte) error {
	s, err := u.readLine()
	if err != nil {
		return err
	}
	switch op {
	case 'I', 'L':
		if op == 'I' && (s == "00" || s == "01") {
			u.push(s == "01")
			return nil
		}
		s = strings.TrimSuffix(s, "L")
		if len(s) > maxDecimalDigits {
			return u.errorf("integer literal longer than %d digits", maxDecimalDigits)
		}
		b, ok := new(big.Int).SetString(s, 0)
		if !ok {
			return u.errorf("bad integer literal %q", s)
		}
		u.push(normInt(b))
	case 'F':
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return u.errorf("bad float literal %q", s)
		}
		u.push(f)
	case 'S':
		str, err := unescapeRepr(s)
		if err != nil {
			return u.errorf("%v", err)
		}
		u.push(str)
	case 'V':
		str, err := rawUnicodeEscape(s)
		if err != nil {
			return u.errorf("%v", err)
		}
		u.push(str)
	}
	return nil
}

func (u *unpickler) appendItems(many bool) error {
	var items []any
	var err error
	if many {
		items, err = u.popMark()
	} else {
		var v any
		v, err = u.pop()
		items = []any{v}
	}
	if err != nil {
		return err
	}
	v, err := u.top()
	if err != nil {
		return err
	}
	l, ok := v.(*pyList)
	if !ok {
		return u.errorf("APPEND to a %s", pyTypeName(v))
	}
	l.items = append(l.items, items...)
	return nil
}

func (u *unpickler) dictItems(op byte) error {
	var items []any
	var err error
	switch op {
	case 'd', 'u':
		items, err = u.popMark()
	case 's':
		if len(u.stack)-u.floor() < 2 {
			return u.errorf("stack underflow")
		}
		items = append([]any(nil), u.stack[len(u.stack)-2:]...)
		u.stack = u.stack[:len(u.stack)-2]
	}
	if err != nil {
		return err
	}
	if len(items)%2 != 0 {
		return u.errorf("odd number of items for a dict")
	}
	var d *pyDict
	if op == 'd' {
		d = newPyDict()
		u.push(d)
	} else {
		v, err := u.top()
		if err != nil {
			return err
		}
		var ok bool
		if d, ok = v.(*pyDict); !ok {
			return u.errorf("SETITEM on a %s", pyTypeName(v))
		}
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return u.errorf("%v", err)
		}
	}
	return nil
}

// global resolves GLOBAL, STACK_GLOBAL and INST against the allow-list.
func (u *unpickler) global(op byte) error {
	var module, name string
	if op == 0x93 {
		n, err := u.pop()
		if err != nil {
			return err
		}
		m, err := u.pop()
		if err != nil {
			return err
		}
		var ok1, ok2 bool
		module, ok1 = m.(string)
		name, ok2 = n.(string)
		if !ok1 || !ok2 {
			return u.errorf("STACK_GLOBAL needs two str, got %s and %s", pyTypeName(m), pyTypeName(n))
		}
	} else {
		var err error
		if module, err = u.readLine(); err != nil {
			return err
		}
		if name, err = u.readLine(); err != nil {
			return err
		}
	}
	g, err := resolveGlobal(module, name)
	if err != nil {
		return fmt.Errorf("%w (at byte %d)", err, u.pos)
	}
	if op != 'i' {
		u.push(g)
		return nil
	}
	args, err := u.popMark()
	if err != nil {
		return err
	}
	return u.apply(g, args)
}

// callOp handles the opcodes that call a class or function with arguments.
func (u *unpickler) callOp(op byte) error {
	var fn any
	var args []any
	switch op {
	case 'o': // OBJ: MARK cls args...
		items, err := u.popMark()
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return u.errorf("OBJ without a class")
		}
		fn, args = items[0], items[1:]
	case 0x92: // NEWOBJ_EX cls args kwargs
		kw, err := u.pop()
		if err != nil {
			return err
		}
		if d, ok := kw.(*pyDict); !ok || len(d.keys) != 0 {
			return u.errorf("NEWOBJ_EX with keyword arguments is not supported")
		}
		fallthrough
	default: // REDUCE, NEWOBJ: callable, args tuple
		a, err := u.pop()
		if err != nil {
			return err
		}
		if fn, err = u.pop(); err != nil {
			return err
		}
		t, ok := a.(pyTuple)
		if !ok {
			return u.errorf("call arguments must be a tuple, got %s", pyTypeName(a))
		}
		args = t
	}
	return u.apply(fn, args)
}

func (u *unpickler) apply(fn any, args []any) error {
	g, ok := fn.(pyGlobal)
	if !ok {
		return u.errorf("cannot call a %s", pyTypeName(fn))
	}
	v, err := callGlobal(g, args)
	if err != nil {
		return fmt.Errorf("%w (at byte %d)", err, u.pos)
	}
	u.push(v)
	return nil
}

// decodeLong reads a little-endian two's-complement integer (LONG1/LONG4).
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return normInt(v)
}

// normInt returns an int64 when the value fits, so callers can type-switch simply.
func normInt(v *big.Int) any {
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

// unescapeRepr decodes a protocol-0 STRING argument: a quoted Python bytes repr.
func unescapeRepr(s string) (string, error) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return "", fmt.Errorf("STRING literal %q is not quoted", s)
	}
	s = s[1 : len(s)-1]
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return "", errors.New("STRING literal ends in a backslash")
		}
		switch c = s[i]; c {
		case '\\', '\'', '"':
			out = append(out, c)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+3 > len(s) {
				return "", errors.New("STRING literal has a short \\x escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", errors.New("STRING literal has a bad \\x escape")
			}
			out = append(out, byte(v))
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 16)
			out = append(out, byte(v))
			i = j - 1
		default:
			out = append(out, '\\', c)
		}
	}
	return string(out), nil
}

// rawUnicodeEscape decodes a protocol-0 UNICODE argument: bytes are Latin-1 code
// points except for \uXXXX and \UXXXXXXXX escapes.
func rawUnicodeEscape(s string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(s) {
				return "", errors.New("UNICODE literal has a short escape")
			}
			v, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32)
			if err != nil || v > 0x10ffff {
				return "", errors.New("UNICODE literal has a bad escape")
			}
			sb.WriteRune(rune(v))
			i += 1 + n
			continue
		}
		sb.WriteRune(rune(s[i]))
	}
	return sb.String(), nil
}
