package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"testing"
)

// pk assembles protocol-2 pickles opcode by opcode for hand-made test inputs.
type pk struct{ bytes.Buffer }

func newPk() *pk { p := &pk{}; p.Write([]byte{0x80, 2}); return p }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }

func (p *pk) str(s string) *pk {
	p.WriteByte('X')
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

func (p *pk) int(n int) *pk {
	p.WriteByte('J')
	binary.Write(p, binary.LittleEndian, int32(n))
	return p
}

func (p *pk) global(module, name string) *pk {
	p.WriteString("c" + module + "\n" + name + "\n")
	return p
}

func (p *pk) tuple(ns []int) *pk {
	p.op('(')
	for _, n := range ns {
		p.int(n)
	}
	return p.op('t')
}

// tt describes one tensor for tensorDict.
type tt struct {
	name, class, key string
	numel, offset    int
	size, stride     []int
	view             []int // legacy view (offset, size); nil for none
}

// tensorDict pickles {name: _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}.
func tensorDict(ts ...tt) []byte {
	p := newPk().op('}', '(')
	for _, t := range ts {
		p.str(t.name).global("torch._utils", "_rebuild_tensor_v2").op('(')
		p.op('(').str("storage").global("torch", t.class).str(t.key).str("cpu").int(t.numel)
		if t.view != nil {
			p.op('(').str(t.key + "_view").int(t.view[0]).int(t.view[1]).op('t')
		}
		p.op('t', 'Q').int(t.offset).tuple(t.size).tuple(t.stride)
		p.op(0x89).global("collections", "OrderedDict").op(')', 'R', 't', 'R')
	}
	return p.op('u', '.').Bytes()
}

// legacyMagicPickles are the three pickles a legacy file starts with.
var legacyMagicPickles = []byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19." +
	"\x80\x02M\xe9\x03." + "\x80\x02}(X\x0d\x00\x00\x00little_endian\x88u.")

// storageData is one storage in a legacy data section.
type storageData struct {
	key   string
	count int
	data  []byte
}

// legacyFile assembles a legacy torch.save stream around a main pickle.
func legacyFile(main []byte, storages ...storageData) []byte {
	var b bytes.Buffer
	b.Write(legacyMagicPickles)
	b.Write(main)
	keys := newPk().op(']', '(')
	for _, s := range storages {
		keys.str(s.key)
	}
	b.Write(keys.op('e', '.').Bytes())
	for _, s := range storages {
		binary.Write(&b, binary.LittleEndian, int64(s.count))
		b.Write(s.data)
	}
	return b.Bytes()
}

// f32Bytes packs float32 values 0, 1, ..., n-1.
func f32Range(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		binary.Write(&b, binary.LittleEndian, float32(i))
	}
	return b.Bytes()
}

// zipFile builds a torch-style zip from name -> content, in the given order.
func zipFile(t testing.TB, entries ...[2]string) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, e := range entries {
		f, err := w.CreateHeader(&zip.FileHeader{Name: e[0], Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(e[1]))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
