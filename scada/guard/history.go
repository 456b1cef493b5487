package guard

import "sync"

// History keeps the most recent audit records, for a status page that
// lists the latest writes and refusals. Set Config.OnAudit to its Add (or
// call Add from your own hook, beside storing the record for good). It is
// safe for concurrent use.
type History struct {
	mu   sync.Mutex
	ring []Record
	next int
	full bool
}

// NewHistory returns a History of the last n records (n < 1 means 100).
func NewHistory(n int) *History {
	if n < 1 {
		n = 100
	}
	return &History{ring: make([]Record, n)}
}

// Add records r, dropping the oldest record when full.
func (h *History) Add(r Record) {
	h.mu.Lock()
	h.ring[h.next] = r
	h.next++
	if h.next == len(h.ring) {
		h.next, h.full = 0, true
	}
	h.mu.Unlock()
}

// Records returns the kept records, newest first.
func (h *History) Records() []Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.next
	if h.full {
		n = len(h.ring)
	}
	out := make([]Record, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, h.ring[(h.next-i+len(h.ring))%len(h.ring)])
	}
	return out
}
