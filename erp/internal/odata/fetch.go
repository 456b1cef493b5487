package odata

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"strings"

	"github.com/greenlang/gl001/erp"
)

// Spec describes how to read one collection.
type Spec struct {
	Conn   *erp.Conn
	Entity string   // entity set name, for errors and record sources
	Root   *url.URL // the service root; its path ends in "/"
	First  string   // the first page's URL
	Header http.Header
	// Skip, if set, builds the URL of the page after skip records when the
	// server sent a full page of PageSize records but no next link (client
	// paging with $top/$skip). Nil means: only follow next links.
	Skip     func(skip int) string
	PageSize int
	// Fixup, if set, adjusts every next link before it is followed (to add
	// sap-client, say).
	Fixup func(u *url.URL)
	// OnCount, if set, is called once with the collection count of the
	// first page, as soon as it is read.
	OnCount func(int64)
}

// Resolve resolves a next or delta link against the service root. A link
// that names another host (an SAP system behind a web dispatcher often
// answers with its internal host name) is moved onto the root's scheme and
// host, so credentials never go to a host the configuration did not name.
func Resolve(root *url.URL, link string) (*url.URL, error) {
	ref, err := url.Parse(link)
	if err != nil {
		return nil, err
	}
	u := root.ResolveReference(ref)
	if u.Host != root.Host || u.Scheme != root.Scheme {
		u.Scheme, u.Host, u.User = root.Scheme, root.Host, nil
	}
	// Next links carry the server's own query encoding; keep it, but make
	// sure no '+' stands for a space.
	u.RawQuery = strings.ReplaceAll(u.RawQuery, "+", "%20")
	return u, nil
}

// errPageLoop is the reason of a MalformedError for a next link that leads back
// to a page already read.
var errPageLoop = errors.New("the next link leads back to a page already read")

// Fetch reads every page of the collection, calling fn for each entity. It
// returns the last page's Meta (with the delta link of a tracked query). fn
// may return ErrStop to end early; Fetch then returns ErrStop. A next link
// that leads back to a page already read ends it with an erp.MalformedError.
func Fetch(ctx context.Context, s Spec, props *Props, fn func(row erp.Row, e Entity) error) (Meta, error) {
	dec := NewDecoder(props)
	if s.OnCount != nil {
		dec.OnCount = func(n int64) {
			dec.OnCount = nil // the first count only
			s.OnCount(n)
		}
	}
	next := s.First
	received := 0
	// A server that links back to a page already read would page forever:
	// every link is followed once.
	seen := map[string]struct{}{next: {}}
	for {
		resp, err := s.Conn.Do(ctx, erp.Request{URL: next, Header: s.Header})
		if err != nil {
			return Meta{}, err
		}
		m, err := dec.Decode(resp.Body, fn)
		if err != nil {
			if err == ErrStop {
				return m, err
			}
			var oe *Error
			if errors.As(err, &oe) {
				s.Conn.CountMalformed(1)
				return m, &erp.MalformedError{System: s.Conn.System(), Entity: s.Entity,
					Field: oe.Field, Offset: oe.Offset, Err: oe.Err}
			}
			return m, err
		}
		received += m.Entities
		dec.OnCount = nil // a count on a later page is not the first page's
		if m.Count >= 0 {
			s.Conn.Logger().Debug("collection count", "entity", s.Entity, "count", m.Count)
		}
		switch {
		case m.Next != "":
			u, err := Resolve(s.Root, m.Next)
			if err != nil {
				s.Conn.CountMalformed(1)
				return m, &erp.MalformedError{System: s.Conn.System(), Entity: s.Entity,
					Field: "next link", Offset: -1, Err: err}
			}
			if s.Fixup != nil {
				s.Fixup(u)
			}
			next = u.String()
			if _, again := seen[next]; again {
				s.Conn.CountMalformed(1)
				return m, &erp.MalformedError{System: s.Conn.System(), Entity: s.Entity,
					Field: "next link", Offset: -1, Err: errPageLoop}
			}
			seen[next] = struct{}{}
		case m.Entities == 0, s.Skip == nil, s.PageSize <= 0, m.Entities < s.PageSize:
			return m, nil // an empty or short page without a next link is the last
		default:
			next = s.Skip(received)
		}
	}
}

// Records streams the collection as records of type T through m.
func Records[T any](ctx context.Context, s Spec, m erp.Mapping[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		props := NewProps(m.Properties())
		src := erp.Source{System: s.Conn.System(), Entity: s.Entity}
		_, err := Fetch(ctx, s, props, func(row erp.Row, e Entity) error {
			if e.Deleted {
				return nil // only change tracking reports deletions
			}
			rec, err := m.Record(src, row)
			if err != nil {
				s.Conn.CountMalformed(1)
				var zero T
				if !yield(zero, err) {
					return ErrStop
				}
				return nil
			}
			if !yield(rec, nil) {
				return ErrStop
			}
			return nil
		})
		if err != nil && err != ErrStop {
			var zero T
			yield(zero, err)
		}
	}
}

// Changes reads one round of changes: every entity of the collection at
// s.First (a delta link, or a query with change tracking requested), handing
// fn the records page by page, deletions included. It returns the delta link
// of the last page, "" if the service sent none.
func Changes[T any](ctx context.Context, s Spec, m erp.Mapping[T], keyProps []string, fn func([]erp.Change[T]) error) (string, error) {
	props := NewProps(m.Properties())
	src := erp.Source{System: s.Conn.System(), Entity: s.Entity}
	var batch []erp.Change[T]
	var fnErr error
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := fn(batch)
		batch = nil // the callback may keep the slice
		return err
	}
	meta, err := Fetch(ctx, s, props, func(row erp.Row, e Entity) error {
		if e.Deleted {
			k := string(e.ID)
			if k == "" {
				var parts []string
				for _, p := range keyProps {
					if i, ok := props.index[p]; ok && row[i] != nil {
						parts = append(parts, string(row[i]))
					}
				}
				k = strings.Join(parts, "/")
			}
			batch = append(batch, erp.Change[T]{Deleted: true, Source: erp.Source{System: src.System, Entity: src.Entity, Key: k}})
			return nil
		}
		rec, err := m.Record(src, row)
		if err != nil {
			s.Conn.CountMalformed(1)
			batch = append(batch, erp.Change[T]{Err: err})
			return nil
		}
		batch = append(batch, erp.Change[T]{Record: rec, Source: sourceOf(rec, src)})
		if len(batch) >= 500 {
			if fnErr = flush(); fnErr != nil {
				return ErrStop
			}
		}
		return nil
	})
	if fnErr != nil {
		return "", fnErr
	}
	// Hand over what was read even when a later page failed: the round is
	// read again from the old cursor, and delivery is at least once.
	if ferr := flush(); ferr != nil {
		return "", ferr
	}
	if err != nil {
		return "", err
	}
	return meta.Delta, nil
}

// sourceOf extracts the Source of any record type.
func sourceOf(rec any, def erp.Source) erp.Source {
	switch r := rec.(type) {
	case erp.EnergyRecord:
		return r.Source
	case erp.ProductionOrder:
		return r.Source
	case erp.MaintenanceOrder:
		return r.Source
	case erp.CostRecord:
		return r.Source
	}
	return def
}
