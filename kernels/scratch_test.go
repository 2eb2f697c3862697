package kernels

import "testing"

// A slot gives back the buffer last put into it while it is large enough, and a fresh
// one (returning the old to the free list) when it is not; slots past the table fall back
// to the free list.
func TestSlotScratch(t *testing.T) {
	const slot = 5
	for _, b := range []*[]float32{slotBufs[slot].Swap(nil)} {
		if b != nil {
			putScratch(b)
		}
	}
	a := getSlotScratch(slot, 100)
	if len(*a) != 100 {
		t.Fatalf("len %d, want 100", len(*a))
	}
	(*a)[0] = 42
	putSlotScratch(slot, a)
	b := getSlotScratch(slot, 60)
	if &(*b)[0] != &(*a)[0] || len(*b) != 60 {
		t.Fatalf("slot %d did not give its buffer back (len %d)", slot, len(*b))
	}
	putSlotScratch(slot, b)
	c := getSlotScratch(slot, 1000) // larger than the slot's buffer
	if len(*c) != 1000 || cap(*c) < 1000 {
		t.Fatalf("len %d cap %d, want 1000", len(*c), cap(*c))
	}
	if slotBufs[slot].Load() != nil {
		t.Fatalf("the slot still holds its old buffer while its task has a new one")
	}
	putSlotScratch(slot, c)
	if got := slotBufs[slot].Load(); got != c {
		t.Fatalf("the slot keeps %p, want the last buffer put %p", got, c)
	}
	far := getSlotScratch(len(slotBufs)+3, 10)
	if len(*far) != 10 {
		t.Fatalf("len %d, want 10", len(*far))
	}
	putSlotScratch(len(slotBufs)+3, far) // to the free list, no panic
}
