package modbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greenlang/gl001/scada"
)

var _ scada.Reader = (*Source)(nil)

// Read reads one configured tag now, outside the polls: through the
// connection of the running Run or, without one, a connection of its own
// that it closes after (as Write does). The point is what a poll would
// deliver: an exception, no answer in time, or a value the device marks
// invalid is a Point with a Bad quality, not an error. A tag not in the configuration fails with
// scada.ErrUnknownTag, a String tag (no number) with scada.ErrBadInput, a
// connection that fails with an error matching scada.ErrConnection.
func (s *Source) Read(ctx context.Context, tag string) (scada.Point, error) {
	s.mu.Lock()
	c := s.cur
	s.mu.Unlock()
	if c == nil {
		if _, ok := s.tags[tag]; !ok {
			return scada.Point{}, &TagError{Tag: tag, Err: scada.ErrUnknownTag}
		}
		own, err := s.Dial(ctx)
		if err != nil {
			return scada.Point{}, &TagError{Tag: tag, Err: err}
		}
		defer own.Close()
		c = own
	}
	return c.Read(ctx, tag)
}

// Read is [Source.Read] on this connection.
func (c *Conn) Read(ctx context.Context, tag string) (scada.Point, error) {
	s := c.s
	ref, ok := s.tags[tag]
	if !ok {
		return scada.Point{}, &TagError{Tag: tag, Err: scada.ErrUnknownTag}
	}
	d := ref.dev
	ti := -1
	for i := range d.tags {
		if &d.tags[i] == ref.tag {
			ti = i
		}
	}
	t := &d.dec[ti]
	if t.typ == String {
		return scada.Point{}, &TagError{Tag: tag, Err: fmt.Errorf("a String tag has no number: %w", scada.ErrBadInput)}
	}
	r := request{table: ref.tag.Table, addr: t.addr, qty: t.width, tags: []int{ti}}
	var data []byte
	err := c.busyRetry(ctx, func() error {
		var err error
		s.st.requests.Add(1)
		data, err = c.t.read(ctx, reqInfo{unit: d.unit, timeout: d.timeout, alone: d.isolated()}, r.table, uint16(r.addr), uint16(r.qty))
		return err
	})
	now := time.Now()
	if err != nil {
		if ctx.Err() != nil {
			return scada.Point{}, ctx.Err()
		}
		var ex *ExceptionError
		switch {
		case errors.As(err, &ex):
			return c.bad(nil, d, &r, ex.Code.Quality(), now)[0], nil
		case errors.Is(err, ErrTimeout): // as a poll reports a unit that does not answer
			return c.bad(nil, d, &r, scada.BadTimeout, now)[0], nil
		}
		return scada.Point{}, &TagError{Tag: tag, Err: err}
	}
	return c.decode(nil, d, &r, data, now)[0], nil
}
