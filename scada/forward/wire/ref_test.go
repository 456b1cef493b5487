package wire

import (
	"encoding/binary"
	"math"

	"github.com/greenlang/gl001/scada"
)

// refEncoder is the first, straightforward encoder of version 1, kept to
// check that Encoder writes the same bytes.
type refEncoder struct {
	tags, units   map[string]uint32
	tagList       []string
	unitList      []string
	scratch       []byte
	tagIdx, unitI []uint32
}

// Append appends to dst the message holding the points pts[i] for each i in
// sel (all of pts, in order, when sel is nil), whose Buffer offsets are
// h.First+i. The points must all have the Source h.Source (Append does not
// check); h.Count is ignored and set from sel. Times outside the years 1678
// to 2262 are clamped to those bounds.
func (e *refEncoder) Append(dst []byte, h Header, pts []scada.Point, sel []int32) []byte {
	n := len(sel)
	if sel == nil {
		n = len(pts)
	}
	at := func(j int) int {
		if sel == nil {
			return j
		}
		return int(sel[j])
	}
	if e.tags == nil {
		e.tags = make(map[string]uint32)
		e.units = make(map[string]uint32)
	}
	clear(e.tags)
	clear(e.units)
	e.tagList, e.unitList = e.tagList[:0], e.unitList[:0]
	e.tagIdx, e.unitI = e.tagIdx[:0], e.unitI[:0]
	var anyUnit, anyQuality, anyScore, anyReason bool
	lastTag, lastUnit := "", ""
	var lastTagI, lastUnitI uint32
	haveTag, haveUnit := false, false
	for j := range n {
		p := &pts[at(j)]
		if !haveTag || p.Tag != lastTag {
			ti, ok := e.tags[p.Tag]
			if !ok {
				ti = uint32(len(e.tagList))
				e.tags[p.Tag] = ti
				e.tagList = append(e.tagList, p.Tag)
			}
			lastTag, lastTagI, haveTag = p.Tag, ti, true
		}
		e.tagIdx = append(e.tagIdx, lastTagI)
		if p.Unit != "" {
			anyUnit = true
		}
		if !haveUnit || p.Unit != lastUnit {
			ui, ok := e.units[p.Unit]
			if !ok {
				ui = uint32(len(e.unitList))
				e.units[p.Unit] = ui
				e.unitList = append(e.unitList, p.Unit)
			}
			lastUnit, lastUnitI, haveUnit = p.Unit, ui, true
		}
		e.unitI = append(e.unitI, lastUnitI)
		anyQuality = anyQuality || p.Quality != 0
		anyScore = anyScore || p.Scored
		anyReason = anyReason || p.Reasons != 0
	}

	msgStart := len(dst)
	dst = appendVarintField(dst, fVersion, Version)
	dst = appendStringField(dst, fEdge, h.Edge)
	dst = appendStringField(dst, fBuffer, h.Buffer)
	dst = appendStringField(dst, fSource, h.Source)
	dst = appendVarintField(dst, fFirst, uint64(h.First))
	dst = appendVarintField(dst, fLast, uint64(h.Last))
	dst = appendVarintField(dst, fCount, uint64(n))
	for _, s := range e.tagList {
		dst = appendKey(dst, fTags, wtLen)
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	if anyUnit {
		for _, s := range e.unitList {
			dst = appendKey(dst, fUnits, wtLen)
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		}
	}
	if n == 0 {
		return appendCRC(dst, msgStart)
	}

	// Each packed column is written into scratch, then framed.
	col := func(dst []byte, field int, fill func(b []byte) []byte) []byte {
		e.scratch = fill(e.scratch[:0])
		dst = appendKey(dst, field, wtLen)
		dst = binary.AppendUvarint(dst, uint64(len(e.scratch)))
		return append(dst, e.scratch...)
	}
	dst = col(dst, fOffsets, func(b []byte) []byte {
		prev := uint64(h.First)
		for j := range n {
			off := uint64(h.First) + uint64(at(j))
			b = binary.AppendUvarint(b, off-prev)
			prev = off
		}
		return b
	})
	if len(e.tagList) > 1 {
		dst = col(dst, fTag, func(b []byte) []byte {
			for _, v := range e.tagIdx {
				b = binary.AppendUvarint(b, uint64(v))
			}
			return b
		})
	}
	if anyUnit && len(e.unitList) > 1 {
		dst = col(dst, fUnit, func(b []byte) []byte {
			for _, v := range e.unitI {
				b = binary.AppendUvarint(b, uint64(v))
			}
			return b
		})
	}
	// The value column is fixed-size: frame it directly.
	dst = appendKey(dst, fValue, wtLen)
	dst = binary.AppendUvarint(dst, uint64(8*n))
	for j := range n {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(pts[at(j)].Value))
	}
	if anyQuality {
		dst = col(dst, fQuality, func(b []byte) []byte {
			for j := range n {
				b = binary.AppendUvarint(b, uint64(pts[at(j)].Quality))
			}
			return b
		})
	}
	dst = col(dst, fTime, func(b []byte) []byte {
		var prev int64
		for j := range n {
			t := timeValue(pts[at(j)].Time)
			b = binary.AppendUvarint(b, zigzag(t-prev))
			prev = t
		}
		return b
	})
	if anyScore {
		dst = col(dst, fScore, func(b []byte) []byte {
			for j := range n {
				p := &pts[at(j)]
				var s uint64
				if p.Scored {
					s = uint64(p.Score) + 1
				}
				b = binary.AppendUvarint(b, s)
			}
			return b
		})
	}
	if anyReason {
		dst = col(dst, fReasons, func(b []byte) []byte {
			for j := range n {
				b = binary.AppendUvarint(b, uint64(pts[at(j)].Reasons))
			}
			return b
		})
	}
	return appendCRC(dst, msgStart)
}
