package coord

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"sync"
	"sync/atomic"
)

// paramsDecoder decodes a handler's JSON parameters into P.
//
// A broadcast hands the same parameters to every agent, and a process that
// embeds many agents would decode the same bytes once per agent. For a P
// whose decoded values share no memory (no pointers, slices, maps or
// interfaces, no custom unmarshalling) the agents of a process share the last
// decoding of each P type: a copy of a value decoded from the same bytes is
// what decoding them again would give.
type paramsDecoder[P any] struct {
	shared *paramsCache[P] // nil when P values cannot be shared
}

type paramsCache[P any] struct {
	last atomic.Pointer[decodedParams[P]]
}

type decodedParams[P any] struct {
	payload []byte // a copy: the message's slice is not ours to keep
	v       P
}

// maxSharedParams bounds the payloads kept for sharing: parameters are
// small, and a large one is neither worth comparing nor worth keeping.
const maxSharedParams = 4 << 10

// paramsCaches holds one *paramsCache[P] per shareable P.
var paramsCaches sync.Map // reflect.Type -> *paramsCache[P]

func newParamsDecoder[P any]() paramsDecoder[P] {
	t := reflect.TypeFor[P]()
	if !shareable(t, map[reflect.Type]bool{}) {
		return paramsDecoder[P]{}
	}
	c, _ := paramsCaches.LoadOrStore(t, new(paramsCache[P]))
	return paramsDecoder[P]{shared: c.(*paramsCache[P])}
}

// decode unmarshals payload into p.
func (d paramsDecoder[P]) decode(payload []byte, p *P) error {
	if d.shared == nil || len(payload) > maxSharedParams {
		return json.Unmarshal(payload, p)
	}
	if last := d.shared.last.Load(); last != nil && bytes.Equal(last.payload, payload) {
		*p = last.v
		return nil
	}
	if err := json.Unmarshal(payload, p); err != nil {
		return err
	}
	d.shared.last.Store(&decodedParams[P]{payload: bytes.Clone(payload), v: *p})
	return nil
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// shareable reports whether copies of a decoded t can be handed to several
// handlers: t holds no references to mutable memory (strings are immutable)
// and decoding it runs no code but encoding/json's.
func shareable(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return true
	}
	seen[t] = true
	pt := reflect.PointerTo(t)
	if t.Implements(jsonUnmarshaler) || pt.Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || pt.Implements(textUnmarshaler) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Array:
		return shareable(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if !shareable(t.Field(i).Type, seen) {
				return false
			}
		}
		return true
	}
	return false
}
