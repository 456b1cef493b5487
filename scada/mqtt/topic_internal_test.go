package mqtt

import (
	"slices"
	"strings"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, topic string
		want           []string // nil: no match
	}{
		{"plant/{site}/{device}/{tag}", "plant/n/b1/temp", []string{"n", "b1", "temp"}},
		{"plant/{site}/{device}/{tag}", "plant/n/b1", nil},
		{"plant/{site}/{device}/{tag}", "plant/n/b1/temp/x", nil},
		{"plant/{site}/{device}/{tag}", "other/n/b1/temp", nil},
		{"plant/+/{tag}", "plant/x/t", []string{"t"}},
		{"plant/+/{tag}", "plant//t", []string{"t"}},
		{"plant/#", "plant/a/b/c", []string{"a/b/c"}},
		{"plant/#", "plant", []string{""}},
		{"plant/{site}/#", "plant/n/a/b", []string{"n", "a/b"}},
		{"#", "anything/at/all", []string{"anything/at/all"}},
		{"#", "$SYS/broker", nil},
		{"+/x", "$SYS/x", nil},
		{"$SYS/#", "$SYS/x", []string{"x"}},
		{"$share/g/plant/{tag}", "plant/t", []string{"t"}},
		{"a/b", "a/b", []string{}},
		{"a/b", "a/bc", nil},
	} {
		p, err := parsePattern(tc.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		got, ok := p.match(tc.topic, nil)
		if ok != (tc.want != nil) || ok && !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("%s ~ %s = %q, %v; want %q", tc.pattern, tc.topic, got, ok, tc.want)
		}
	}
}

func TestPatternFilterAndErrors(t *testing.T) {
	for pattern, filter := range map[string]string{
		"plant/{site}/{device}/{tag}": "plant/+/+/+",
		"$share/gl001/plant/{tag}":    "$share/gl001/plant/+",
		"a/+/#":                       "a/+/#",
	} {
		p, err := parsePattern(pattern)
		if err != nil || p.filter != filter {
			t.Errorf("%s: filter %q, %v; want %q", pattern, p.filter, err, filter)
		}
	}
	for _, bad := range []string{"", "a/#/b", "a/{x}/{x}", "a/{}/b", "a/b{x}", "a/x+", "$share//a", "$share/g", "$share/g+/a", "a/{x/y}"} {
		if _, err := parsePattern(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestTemplate(t *testing.T) {
	p, _ := parsePattern("plant/{site}/{device}/#")
	tm, err := parseTemplate("{site}.{device}:{#}", p)
	if err != nil {
		t.Fatal(err)
	}
	vals, _ := p.match("plant/n/b1/x/y", nil)
	if got := tm.expand("plant/n/b1/x/y", vals); got != "n.b1:x/y" {
		t.Errorf("expand = %q", got)
	}
	if got := template(nil).expand("the/topic", nil); got != "the/topic" {
		t.Errorf("nil template = %q", got)
	}
	for _, bad := range []string{"{nope}", "{site", "site}", "a}{site}"} {
		if _, err := parseTemplate(bad, p); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzTopicMatch(f *testing.F) {
	f.Add("plant/{site}/{device}/{tag}", "plant/n/b1/temp")
	f.Add("a/#", "a")
	f.Add("+/+", "$x/y")
	f.Add("$share/g/a/{b}", "a/")
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		p, err := parsePattern(pattern)
		if err != nil {
			return
		}
		vals, ok := p.match(topic, nil)
		if !ok {
			return
		}
		if len(vals) != len(p.vars) {
			t.Fatalf("%q ~ %q: %d values for %d variables", pattern, topic, len(vals), len(p.vars))
		}
		for i, v := range vals {
			if p.vars[i] != "#" && strings.Contains(v, "/") {
				t.Fatalf("%q ~ %q: single-level variable bound %q", pattern, topic, v)
			}
		}
	})
}
