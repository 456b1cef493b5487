package opcua_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"runtime/pprof"

	"google.golang.org/protobuf/encoding/protowire"
)

// cpuShare profiles the CPU while f runs and returns the CPU time, in
// nanoseconds, of the samples whose goroutines carry the pprof label
// key=value, for each value seen, and "" for unlabelled samples (the garbage
// collector's workers, the runtime). Goroutines inherit labels from the
// goroutine that starts them, so labelling the client's Run and the server's
// start splits the process's CPU between the two sides.
//
// It returns ok=false when a CPU profile is already running (go test
// -cpuprofile): then split that profile with `go tool pprof -tags`.
func cpuShare(key string, f func()) (ns map[string]int64, ok bool) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		f()
		return nil, false
	}
	f()
	pprof.StopCPUProfile()
	ns, err := labelTotals(buf.Bytes(), key)
	return ns, err == nil
}

// labelTotals sums the cpu nanoseconds of a gzipped profile.proto per value
// of one string label. It reads only what it needs of the format
// (github.com/google/pprof/proto/profile.proto): Profile.sample = 2,
// Profile.string_table = 6, Sample.value = 2, Sample.label = 3,
// Label.key = 1, Label.str = 2. The CPU profile's sample values are
// [count, nanoseconds].
func labelTotals(gz []byte, key string) (map[string]int64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	type sample struct {
		nanos  int64
		labels [][2]int64 // string table indexes of key and value
	}
	var samples []sample
	var strs []string
	for b := raw; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		switch num {
		case 6:
			strs = append(strs, string(v))
		case 2:
			var s sample
			var values []int64
			for m := v; len(m) > 0; {
				fnum, ftyp, k := protowire.ConsumeTag(m)
				if k < 0 {
					return nil, protowire.ParseError(k)
				}
				m = m[k:]
				switch {
				case fnum == 2 && ftyp == protowire.BytesType: // packed values
					p, k := protowire.ConsumeBytes(m)
					if k < 0 {
						return nil, protowire.ParseError(k)
					}
					m = m[k:]
					for len(p) > 0 {
						x, k := protowire.ConsumeVarint(p)
						if k < 0 {
							return nil, protowire.ParseError(k)
						}
						values = append(values, int64(x))
						p = p[k:]
					}
				case fnum == 2 && ftyp == protowire.VarintType: // unpacked values (Go writes two that way)
					x, k := protowire.ConsumeVarint(m)
					if k < 0 {
						return nil, protowire.ParseError(k)
					}
					m = m[k:]
					values = append(values, int64(x))
				case fnum == 3 && ftyp == protowire.BytesType: // label
					l, k := protowire.ConsumeBytes(m)
					if k < 0 {
						return nil, protowire.ParseError(k)
					}
					m = m[k:]
					var lk, lv int64 = -1, -1
					for len(l) > 0 {
						lnum, ltyp, k := protowire.ConsumeTag(l)
						if k < 0 {
							return nil, protowire.ParseError(k)
						}
						l = l[k:]
						if ltyp != protowire.VarintType {
							k = protowire.ConsumeFieldValue(lnum, ltyp, l)
							l = l[k:]
							continue
						}
						x, k := protowire.ConsumeVarint(l)
						l = l[k:]
						switch lnum {
						case 1:
							lk = int64(x)
						case 2:
							lv = int64(x)
						}
					}
					if lk >= 0 && lv >= 0 {
						s.labels = append(s.labels, [2]int64{lk, lv})
					}
				default:
					k := protowire.ConsumeFieldValue(fnum, ftyp, m)
					if k < 0 {
						return nil, protowire.ParseError(k)
					}
					m = m[k:]
				}
			}
			if len(values) >= 2 {
				s.nanos = values[1]
			}
			samples = append(samples, s)
		}
	}
	out := map[string]int64{}
	for _, s := range samples {
		label := ""
		for _, l := range s.labels {
			if int(l[0]) < len(strs) && int(l[1]) < len(strs) && strs[l[0]] == key {
				label = strs[l[1]]
			}
		}
		out[label] += s.nanos
	}
	return out, nil
}
