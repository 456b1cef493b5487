package modbus

import (
	"cmp"
	"slices"
)

// Request is one read the planner makes each poll: it covers the tags listed.
type Request struct {
	UnitID   uint8
	Table    Table
	Address  uint16 // first register or bit
	Quantity uint16 // registers or bits
	Tags     []string
}

// request is a planned read with the indices of the tags it serves.
type request struct {
	table Table
	addr  int
	qty   int
	tags  []int // indices into device.tags
}

// plan merges the tags of one device into the fewest reads: tags of the same
// table, sorted by address, go into one read while it stays within maxRegs
// registers (maxBits bits) and the unconfigured run between two tags is at
// most maxGap. The greedy sweep is optimal for this interval problem: each read
// starts at the lowest address not yet covered and extends as far as allowed.
func plan(tags []Tag, maxGap, maxRegs, maxBits int) []request {
	idx := make([]int, len(tags))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ta, tb := &tags[a], &tags[b]
		return cmp.Or(cmp.Compare(ta.Table, tb.Table), cmp.Compare(ta.Address, tb.Address))
	})
	var reqs []request
	var cur *request
	for _, i := range idx {
		t := &tags[i]
		limit := maxRegs
		if t.Table.isBits() {
			limit = maxBits
		}
		lo, hi := t.Address, t.Address+t.width() // [lo, hi)
		if cur != nil && cur.table == t.Table && lo <= cur.addr+cur.qty+maxGap && max(hi, cur.addr+cur.qty)-cur.addr <= limit {
			cur.qty = max(hi, cur.addr+cur.qty) - cur.addr
			cur.tags = append(cur.tags, i)
			continue
		}
		reqs = append(reqs, request{table: t.Table, addr: lo, qty: hi - lo, tags: []int{i}})
		cur = &reqs[len(reqs)-1]
	}
	return reqs
}
