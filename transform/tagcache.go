package transform

import (
	"math/bits"
	"unsafe"
)

// tagCache is a small direct-mapped cache in front of a stage's per-tag map,
// keyed by the address and length of the tag string's bytes rather than by
// its contents. Sources reuse their tag strings (they come from the
// configuration), so in a steady stream the cache answers without hashing the
// tag; a miss costs one comparison and falls back to the map.
//
// Identity implies equality: Go strings are immutable, and the cache holds a
// pointer to the bytes, which keeps them alive, so an address cannot be reused
// for other contents while it is cached. Entries are never removed from the
// maps the caches front, so a cached value never goes stale.
type tagCache[V any] struct {
	slots [tagCacheSize]tagSlot[V]
}

const (
	tagCacheBits = 10
	tagCacheSize = 1 << tagCacheBits
)

type tagSlot[V any] struct {
	data *byte
	n    int
	v    V
}

func tagSlotOf(data *byte) uintptr {
	// Fibonacci hashing of the address: allocation addresses share low bits.
	return (uintptr(unsafe.Pointer(data)) * uintptr(0x9E3779B97F4A7C15&(1<<bits.UintSize-1))) >> (bits.UintSize - tagCacheBits)
}

// get returns the value cached for tag, if tag is the very string cached.
func (c *tagCache[V]) get(tag string) (v V, ok bool) {
	if len(tag) == 0 {
		return v, false
	}
	d := unsafe.StringData(tag)
	s := &c.slots[tagSlotOf(d)]
	if s.data != d || s.n != len(tag) {
		return v, false
	}
	return s.v, true
}

// put caches v for tag.
func (c *tagCache[V]) put(tag string, v V) {
	if len(tag) == 0 {
		return
	}
	d := unsafe.StringData(tag)
	s := &c.slots[tagSlotOf(d)]
	s.data, s.n, s.v = d, len(tag), v
}
