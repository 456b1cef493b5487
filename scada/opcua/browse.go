package opcua

import (
	"context"
	"fmt"
	"strings"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/units"
)

// lookupUnits reads the EngineeringUnits property (EUInformation) of every
// tag that has no unit in the configuration. A node without the property
// simply has no unit; only a failing connection ends the session.
func (ss *session) lookupUnits(ctx context.Context) error {
	var need []int
	for i := range ss.tags {
		if ss.tags[i].unit == "" && ss.tags[i].node != nil {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return nil
	}
	props, err := findProperties(ctx, ss, need, "EngineeringUnits")
	if err != nil {
		return err
	}
	var idx []int
	var nodes []*ua.NodeID
	for k, p := range props {
		if p != nil {
			idx, nodes = append(idx, need[k]), append(nodes, p)
		}
	}
	vals, err := readValues(ctx, ss, nodes, ua.AttributeIDValue)
	if err != nil {
		return err
	}
	for k, dv := range vals {
		if u := euName(dv); u != "" {
			ss.tags[idx[k]].unit = u
		}
	}
	return nil
}

// euName returns the unit of an EUInformation value, or "". A unit the
// units package knows, by its UNECE code (UnitId) or by its display name, is
// given by its canonical symbol ("°C" for CEL or "degC"); any other name is
// kept as the server gives it.
func euName(dv *ua.DataValue) string {
	if dv == nil || dv.Status != ua.StatusOK || dv.Value == nil {
		return ""
	}
	eo, ok := dv.Value.Value().(*ua.ExtensionObject)
	if !ok || eo == nil {
		return ""
	}
	eu, ok := eo.Value.(*ua.EUInformation)
	if !ok || eu == nil {
		return ""
	}
	if eu.UnitID > 0 {
		if u, err := units.FromUnitID(eu.UnitID); err == nil {
			return u.Symbol()
		}
	}
	name := ""
	if eu.DisplayName != nil {
		name = strings.TrimSpace(eu.DisplayName.Text)
	}
	if name == "" && eu.Description != nil {
		name = strings.TrimSpace(eu.Description.Text)
	}
	if u, err := units.Parse(name); err == nil && name != "" {
		return u.Symbol()
	}
	return name
}

// findProperties browses the HasProperty references of the tags' nodes and
// returns, per tag, the node of the property with the browse name, or nil.
func findProperties(ctx context.Context, ss *session, tags []int, name string) ([]*ua.NodeID, error) {
	out := make([]*ua.NodeID, 0, len(tags))
	err := chunks(tags, ss.browseLimit, func(part []int) error {
		req := &ua.BrowseRequest{View: noView(), NodesToBrowse: make([]*ua.BrowseDescription, len(part))}
		for k, h := range part {
			req.NodesToBrowse[k] = &ua.BrowseDescription{
				NodeID:          ss.tags[h].node,
				BrowseDirection: ua.BrowseDirectionForward,
				ReferenceTypeID: ua.NewNumericNodeID(0, id.HasProperty),
				IncludeSubtypes: true,
				NodeClassMask:   uint32(ua.NodeClassVariable),
				ResultMask:      uint32(ua.BrowseResultMaskBrowseName),
			}
		}
		res, err := call[*ua.BrowseResponse](ctx, ss, "Browse", req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if isConnLoss(err) {
				return ss.fatal("browse", err)
			}
			// A server that cannot browse properties: no units from it.
			ss.cfg.Logger.Info("opcua: cannot browse engineering units", "source", ss.cfg.Name, "err", err)
			out = append(out, make([]*ua.NodeID, len(part))...)
			return nil
		}
		for k := range part {
			var found *ua.NodeID
			if k < len(res.Results) && res.Results[k] != nil {
				for _, ref := range res.Results[k].References {
					if ref != nil && ref.BrowseName != nil && ref.BrowseName.Name == name && ref.NodeID != nil {
						found = ref.NodeID.NodeID
						break
					}
				}
			}
			out = append(out, found)
		}
		return nil
	})
	return out, err
}

// readValues reads one attribute of many nodes, split to the server's limit.
func readValues(ctx context.Context, ss *session, nodes []*ua.NodeID, attr ua.AttributeID) ([]*ua.DataValue, error) {
	out := make([]*ua.DataValue, 0, len(nodes))
	err := chunks(nodes, ss.readLimit, func(part []*ua.NodeID) error {
		req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnNeither, NodesToRead: make([]*ua.ReadValueID, len(part))}
		for k, n := range part {
			req.NodesToRead[k] = readValueID(n, attr)
		}
		res, err := call[*ua.ReadResponse](ctx, ss, "Read", req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return ss.fatal("read", err)
		}
		for k := range part {
			var dv *ua.DataValue
			if k < len(res.Results) {
				dv = res.Results[k]
			}
			out = append(out, dv)
		}
		return nil
	})
	return out, err
}

// withSession runs f on the session of the current Run, or, when Run is not
// connected, on a short-lived connection of its own.
func (s *Source) withSession(ctx context.Context, f func(ss *session) error) error {
	s.mu.Lock()
	closed, c := s.closed, s.client
	s.mu.Unlock()
	if closed {
		return scada.ErrClosed
	}
	if c == nil {
		var err error
		if c, err = s.connect(ctx); err != nil {
			return err
		}
		defer c.Close(context.WithoutCancel(ctx))
	}
	ss := newSession(s, c, nil)
	ss.readLimit, ss.browseLimit, ss.monLimit = defaultReadLimit, defaultReadLimit, defaultMonitoredLimit
	if n := int(s.stats.readLimit.Load()); n > 0 {
		ss.readLimit, ss.browseLimit = n, n
	}
	ss.historyLimit = int(s.stats.historyLimit.Load()) // 0: not known yet (history.go asks)
	return f(ss)
}

// Browse lists the variables below root (a node id string; "" means the
// Objects folder), following hierarchical references to any depth (with
// cycles cut), so users can discover tags. Each TagInfo has the node id in
// "ns=<index>" form, the display name, the unit (EUInformation), the
// built-in data type name and whether the node is writable.
func (s *Source) Browse(ctx context.Context, root string) ([]scada.TagInfo, error) {
	if root == "" {
		root = "i=85" // Objects
	}
	var out []scada.TagInfo
	err := s.withSession(ctx, func(ss *session) error {
		rid, err := ua.ParseExpandedNodeID(root, ss.c.Namespaces())
		if err != nil {
			return fmt.Errorf("opcua: browse root %q: %w", root, err)
		}
		out, err = browseTree(ctx, ss, rid.NodeID)
		return err
	})
	return out, err
}

const maxBrowseNodes = 100000

func browseTree(ctx context.Context, ss *session, root *ua.NodeID) ([]scada.TagInfo, error) {
	seen := map[string]bool{root.String(): true}
	queue := []*ua.NodeID{root}
	var vars []*ua.NodeID
	var names []string
	for len(queue) > 0 && len(seen) < maxBrowseNodes {
		next := queue
		queue = nil
		err := chunks(next, ss.browseLimit, func(part []*ua.NodeID) error {
			req := &ua.BrowseRequest{View: noView(), NodesToBrowse: make([]*ua.BrowseDescription, len(part))}
			for k, n := range part {
				req.NodesToBrowse[k] = &ua.BrowseDescription{
					NodeID:          n,
					BrowseDirection: ua.BrowseDirectionForward,
					ReferenceTypeID: ua.NewNumericNodeID(0, id.HierarchicalReferences),
					IncludeSubtypes: true,
					NodeClassMask:   uint32(ua.NodeClassObject | ua.NodeClassVariable),
					ResultMask:      uint32(ua.BrowseResultMaskAll),
				}
			}
			res, err := call[*ua.BrowseResponse](ctx, ss, "Browse", req)
			if err != nil {
				return err
			}
			for k, r := range res.Results {
				if r == nil {
					continue
				}
				if part[k] == root && scada.Quality(r.StatusCode).IsBad() {
					return &StatusError{Op: "Browse " + root.String(), Code: scada.Quality(r.StatusCode)}
				}
				for _, ref := range r.References {
					if ref == nil || ref.NodeID == nil || ref.NodeID.NodeID == nil || ref.NodeID.HasServerIndex() {
						continue
					}
					if ref.ReferenceTypeID != nil && ref.ReferenceTypeID.Namespace() == 0 && ref.ReferenceTypeID.IntID() == id.HasProperty {
						continue // properties describe a tag; they are not tags
					}
					n := ref.NodeID.NodeID
					key := n.String()
					if seen[key] {
						continue
					}
					seen[key] = true
					queue = append(queue, n)
					if ref.NodeClass == ua.NodeClassVariable {
						vars = append(vars, n)
						name := ""
						if ref.DisplayName != nil {
							name = ref.DisplayName.Text
						}
						if name == "" && ref.BrowseName != nil {
							name = ref.BrowseName.Name
						}
						names = append(names, name)
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return describe(ctx, ss, vars, names)
}

// describe reads what a TagInfo needs of each variable.
func describe(ctx context.Context, ss *session, vars []*ua.NodeID, names []string) ([]scada.TagInfo, error) {
	if len(vars) == 0 {
		return nil, nil
	}
	types, err := readValues(ctx, ss, vars, ua.AttributeIDDataType)
	if err != nil {
		return nil, err
	}
	access, err := readValues(ctx, ss, vars, ua.AttributeIDUserAccessLevel)
	if err != nil {
		return nil, err
	}
	descr, err := readValues(ctx, ss, vars, ua.AttributeIDDescription)
	if err != nil {
		return nil, err
	}
	// units: reuse the tag machinery on a throwaway tag list
	ss.tags = make([]tagState, len(vars))
	need := make([]int, len(vars))
	for i, n := range vars {
		ss.tags[i] = tagState{node: n}
		need[i] = i
	}
	props, err := findProperties(ctx, ss, need, "EngineeringUnits")
	if err != nil {
		return nil, err
	}
	var pidx []int
	var pnodes []*ua.NodeID
	for k, p := range props {
		if p != nil {
			pidx, pnodes = append(pidx, k), append(pnodes, p)
		}
	}
	eus, err := readValues(ctx, ss, pnodes, ua.AttributeIDValue)
	if err != nil {
		return nil, err
	}
	out := make([]scada.TagInfo, len(vars))
	for i, n := range vars {
		out[i] = scada.TagInfo{ID: n.String(), Name: names[i], DataType: typeName(types[i]), Writable: writable(access[i])}
		if dv := descr[i]; dv != nil && dv.Status == ua.StatusOK && dv.Value != nil {
			if lt, ok := dv.Value.Value().(*ua.LocalizedText); ok && lt != nil {
				out[i].Description = lt.Text
			}
		}
	}
	for k, dv := range eus {
		out[pidx[k]].Unit = euName(dv)
	}
	return out, nil
}

var builtinNames = map[uint32]string{
	id.Boolean: "Boolean", id.SByte: "SByte", id.Byte: "Byte", id.Int16: "Int16", id.UInt16: "UInt16",
	id.Int32: "Int32", id.UInt32: "UInt32", id.Int64: "Int64", id.UInt64: "UInt64", id.Float: "Float",
	id.Double: "Double", id.String: "String", id.DateTime: "DateTime", id.GUID: "Guid",
	id.ByteString: "ByteString", id.StatusCode: "StatusCode", id.LocalizedText: "LocalizedText",
	id.Number: "Number", id.Integer: "Integer", id.UInteger: "UInteger", id.Enumeration: "Enumeration",
}

func typeName(dv *ua.DataValue) string {
	if dv == nil || dv.Status != ua.StatusOK || dv.Value == nil {
		return ""
	}
	var n *ua.NodeID
	switch v := dv.Value.Value().(type) {
	case *ua.NodeID:
		n = v
	case *ua.ExpandedNodeID:
		if v != nil {
			n = v.NodeID
		}
	}
	if n == nil {
		return ""
	}
	if n.Namespace() == 0 {
		if name, ok := builtinNames[n.IntID()]; ok {
			return name
		}
	}
	return n.String()
}

func writable(dv *ua.DataValue) bool {
	if dv == nil || dv.Status != ua.StatusOK || dv.Value == nil {
		return false
	}
	f, ok := toFloat(dv.Value)
	return ok && uint8(f)&uint8(ua.AccessLevelTypeCurrentWrite) != 0
}

// Write writes a setpoint to a tag the configuration marks Writable,
// converting it to the node's data type (read first). A value the type cannot
// hold fails with scada.ErrBadInput; a tag not in the configuration with
// scada.ErrUnknownTag; one not marked Writable with scada.ErrNotWritable; a
// status from the server as a *StatusError.
func (s *Source) Write(ctx context.Context, tag string, value float64) error {
	i, ok := s.index[tag]
	if !ok {
		return fmt.Errorf("opcua: write %q: %w", tag, scada.ErrUnknownTag)
	}
	t := s.cfg.Tags[i]
	if !t.Writable {
		return fmt.Errorf("opcua: write %q: %w", tag, scada.ErrNotWritable)
	}
	return s.withSession(ctx, func(ss *session) error {
		eid, err := ua.ParseExpandedNodeID(t.NodeID, ss.c.Namespaces())
		if err != nil {
			return &TagError{Tag: tag, NodeID: t.NodeID, Err: &StatusError{Op: "Write", Code: scada.BadNodeIDUnknown}}
		}
		cur, err := readValues(ctx, ss, []*ua.NodeID{eid.NodeID}, ua.AttributeIDValue)
		if err != nil {
			return err
		}
		if dv := cur[0]; dv == nil || dv.Status != ua.StatusOK || dv.Value == nil {
			code := scada.BadNoData
			if dv != nil && dv.Status != ua.StatusOK {
				code = scada.Quality(dv.Status)
			}
			return &TagError{Tag: tag, NodeID: t.NodeID, Err: fmt.Errorf("%w: %w", errNoValue, &StatusError{Op: "Read", Code: code})}
		}
		v, err := fromFloat(value, cur[0].Value)
		if err != nil {
			return &TagError{Tag: tag, NodeID: t.NodeID, Err: err}
		}
		res, err := call[*ua.WriteResponse](ctx, ss, "Write", &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{
			NodeID:      eid.NodeID,
			AttributeID: ua.AttributeIDValue,
			Value:       &ua.DataValue{EncodingMask: ua.DataValueValue, Value: v},
		}}})
		if err != nil {
			return err
		}
		if len(res.Results) != 1 {
			return fmt.Errorf("opcua: write %q: %d results for 1 node: %w", tag, len(res.Results), scada.ErrBadInput)
		}
		if code := res.Results[0]; code != ua.StatusOK {
			return &TagError{Tag: tag, NodeID: t.NodeID, Err: &StatusError{Op: "Write", Code: scada.Quality(code)}}
		}
		return nil
	})
}
