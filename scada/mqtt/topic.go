package mqtt

import (
	"fmt"
	"strings"
)

// A topic pattern is an MQTT topic filter whose single-level segments may be
// named: "plant/{site}/{device}/{tag}" subscribes to "plant/+/+/+" and, for
// the topic "plant/north/boiler1/steam_temp", binds site=north,
// device=boiler1, tag=steam_temp. "+" matches one segment without naming it;
// "#" (last only) matches the rest of the topic and can be named "{#}" in a
// tag template.

type segKind uint8

const (
	segLiteral segKind = iota
	segVar             // {name} or +: one level
	segRest            // #: the remaining levels
)

type segment struct {
	kind segKind
	text string // the literal, or the variable name ("" for +, "#" for #)
}

type pattern struct {
	share  string // the $share group, "" if not shared
	segs   []segment
	filter string // the MQTT filter sent to the broker, with $share/<group>/ if shared
	vars   []string
}

func parsePattern(topic string) (*pattern, error) {
	p := &pattern{}
	rest := topic
	if strings.HasPrefix(rest, "$share/") {
		group, after, ok := strings.Cut(strings.TrimPrefix(rest, "$share/"), "/")
		if !ok || group == "" || strings.ContainsAny(group, "+#{}") {
			return nil, fmt.Errorf("topic %q: a shared subscription is $share/<group>/<filter> with a group name free of wildcards", topic)
		}
		p.share, rest = group, after
	}
	if rest == "" {
		return nil, fmt.Errorf("topic %q: empty filter", topic)
	}
	if len(rest) > 65535 {
		return nil, fmt.Errorf("topic %q: longer than MQTT allows", topic)
	}
	var filter strings.Builder
	levels := strings.Split(rest, "/")
	seen := map[string]bool{}
	for i, lv := range levels {
		if i > 0 {
			filter.WriteByte('/')
		}
		switch {
		case lv == "#":
			if i != len(levels)-1 {
				return nil, fmt.Errorf("topic %q: # must be the last level", topic)
			}
			p.segs = append(p.segs, segment{kind: segRest, text: "#"})
			p.vars = append(p.vars, "#")
			filter.WriteByte('#')
		case lv == "+":
			p.segs = append(p.segs, segment{kind: segVar})
			filter.WriteByte('+')
		case strings.HasPrefix(lv, "{") && strings.HasSuffix(lv, "}"):
			name := lv[1 : len(lv)-1]
			if name == "" || name == "#" || strings.ContainsAny(name, "{}+#/") {
				return nil, fmt.Errorf("topic %q: bad variable %q", topic, lv)
			}
			if seen[name] {
				return nil, fmt.Errorf("topic %q: variable {%s} named twice", topic, name)
			}
			seen[name] = true
			p.segs = append(p.segs, segment{kind: segVar, text: name})
			p.vars = append(p.vars, name)
			filter.WriteByte('+')
		case strings.ContainsAny(lv, "+#{}"):
			return nil, fmt.Errorf("topic %q: level %q mixes a wildcard or brace with text", topic, lv)
		default:
			p.segs = append(p.segs, segment{kind: segLiteral, text: lv})
			filter.WriteString(lv)
		}
	}
	p.filter = filter.String()
	if p.share != "" {
		p.filter = "$share/" + p.share + "/" + p.filter
	}
	return p, nil
}

// match reports whether topic matches p, appending the values of p's
// variables, in p.vars order, to vals.
func (p *pattern) match(topic string, vals []string) ([]string, bool) {
	// [MQTT-4.7.2-1]: filters starting with a wildcard do not match $ topics.
	if strings.HasPrefix(topic, "$") && len(p.segs) > 0 && p.segs[0].kind != segLiteral {
		return vals, false
	}
	rest := topic
	for i, s := range p.segs {
		if s.kind == segRest {
			return append(vals, rest), true
		}
		lv, after, more := strings.Cut(rest, "/")
		switch s.kind {
		case segLiteral:
			if lv != s.text {
				return vals, false
			}
		case segVar:
			if s.text != "" {
				vals = append(vals, lv)
			}
		}
		if i == len(p.segs)-1 {
			return vals, !more
		}
		if !more {
			// "a/#" also matches "a": the parent level of a multi-level wildcard.
			if i == len(p.segs)-2 && p.segs[i+1].kind == segRest {
				return append(vals, ""), true
			}
			return vals, false
		}
		rest = after
	}
	return vals, false
}

type tmplPart struct {
	text string
	v    int // index into the pattern's variables, or -1 for text
}

// template is a tag template: text with {name} references to the pattern's
// variables. A nil template names the tag after the whole topic.
type template []tmplPart

func parseTemplate(tmpl string, p *pattern) (template, error) {
	if tmpl == "" {
		return nil, nil
	}
	var t template
	rest := tmpl
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return nil, fmt.Errorf("tag %q: unmatched }", tmpl)
			}
			t = append(t, tmplPart{text: rest, v: -1})
			break
		}
		if i > 0 {
			if strings.IndexByte(rest[:i], '}') >= 0 {
				return nil, fmt.Errorf("tag %q: unmatched }", tmpl)
			}
			t = append(t, tmplPart{text: rest[:i], v: -1})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("tag %q: unclosed {", tmpl)
		}
		name := rest[i+1 : i+j]
		idx := -1
		for k, v := range p.vars {
			if v == name {
				idx = k
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("tag %q: {%s} is not a variable of the topic pattern", tmpl, name)
		}
		t = append(t, tmplPart{v: idx})
		rest = rest[i+j+1:]
	}
	return t, nil
}

func (t template) expand(topic string, vals []string) string {
	if t == nil {
		return topic
	}
	if len(t) == 1 && t[0].v >= 0 {
		return strings.Clone(vals[t[0].v])
	}
	n := 0
	for _, p := range t {
		if p.v < 0 {
			n += len(p.text)
		} else {
			n += len(vals[p.v])
		}
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range t {
		if p.v < 0 {
			b.WriteString(p.text)
		} else {
			b.WriteString(vals[p.v])
		}
	}
	return b.String()
}
