package web

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/flumego/flume/node/metrics"
)

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// checkExposition checks text in the Prometheus text format as this package writes it: every
// line a TYPE or HELP comment or a sample `name{labels} value`; names valid; every metric with
// exactly one TYPE line before its samples, which are contiguous; no series twice.
func checkExposition(text string) error {
	if !strings.HasSuffix(text, "\n") {
		return fmt.Errorf("text does not end in a line feed")
	}
	typed := map[string]bool{}
	done := map[string]bool{} // metrics whose group of lines has ended
	series := map[string]bool{}
	current := ""
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d %q: %s", i+1, line, fmt.Sprintf(format, args...))
		}
		name := ""
		switch {
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 || !metricName.MatchString(f[2]) {
				return fail("malformed TYPE line")
			}
			switch f[3] {
			case "counter", "gauge", "untyped":
			default:
				return fail("unknown type %q", f[3])
			}
			if typed[f[2]] {
				return fail("second TYPE line for %s", f[2])
			}
			typed[f[2]] = true
			name = f[2]
		case strings.HasPrefix(line, "# HELP "):
			f := strings.Fields(line)
			if len(f) < 3 || !metricName.MatchString(f[2]) {
				return fail("malformed HELP line")
			}
			name = f[2]
		case strings.HasPrefix(line, "#") || line == "":
			return fail("unexpected comment or blank line")
		default:
			var labels, err = "", error(nil)
			name, labels, err = parseSample(line)
			if err != nil {
				return fail("%v", err)
			}
			if !typed[name] {
				return fail("sample of %s before or without its TYPE line", name)
			}
			if series[name+labels] {
				return fail("series written twice")
			}
			series[name+labels] = true
		}
		if name != current {
			if done[name] {
				return fail("lines of %s are not contiguous", name)
			}
			done[current] = true
			current = name
		}
	}
	return nil
}

// parseSample splits `name{l="v",...} value` and checks each part.
func parseSample(line string) (name, labels string, err error) {
	open := strings.IndexByte(line, '{')
	end := strings.LastIndex(line, "} ")
	if open < 0 || end < open {
		return "", "", fmt.Errorf("not name{labels} value")
	}
	name, labels, value := line[:open], line[open+1:end], line[end+2:]
	if !metricName.MatchString(name) {
		return "", "", fmt.Errorf("bad metric name %q", name)
	}
	if _, err := strconv.ParseFloat(value, 64); err != nil {
		return "", "", fmt.Errorf("bad value %q", value)
	}
	rest := labels
	for rest != "" {
		eq := strings.Index(rest, `="`)
		if eq < 0 || !labelName.MatchString(rest[:eq]) {
			return "", "", fmt.Errorf("bad label in %q", labels)
		}
		rest = rest[eq+2:]
		j := 0
		for ; j < len(rest) && rest[j] != '"'; j++ {
			if rest[j] == '\n' {
				return "", "", fmt.Errorf("raw line feed in label value")
			}
			if rest[j] == '\\' {
				j++
				if j == len(rest) || !strings.ContainsRune(`\"n`, rune(rest[j])) {
					return "", "", fmt.Errorf("bad escape in %q", labels)
				}
			}
		}
		if j == len(rest) {
			return "", "", fmt.Errorf("unterminated label value in %q", labels)
		}
		rest = rest[j+1:]
		if rest != "" {
			if rest[0] != ',' {
				return "", "", fmt.Errorf("labels not separated by commas in %q", labels)
			}
			rest = rest[1:]
		}
	}
	return name, labels, nil
}

// The checker must be able to fail: each of these breaks one rule.
func TestCheckExpositionRejects(t *testing.T) {
	tests := []struct{ name, text string }{
		{"no type", "a{x=\"1\"} 1\n"},
		{"two types", "# TYPE a gauge\n# TYPE a gauge\na{x=\"1\"} 1\n"},
		{"bad name", "# TYPE a.b gauge\na.b{x=\"1\"} 1\n"},
		{"bad value", "# TYPE a gauge\na{x=\"1\"} one\n"},
		{"bad label", "# TYPE a gauge\na{1x=\"1\"} 1\n"},
		{"bad escape", "# TYPE a gauge\na{x=\"\\q\"} 1\n"},
		{"unterminated", "# TYPE a gauge\na{x=\"1} 1\n"},
		{"duplicate series", "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n"},
		{"not contiguous", "# TYPE a gauge\na{x=\"1\"} 1\n# TYPE b gauge\nb{x=\"1\"} 1\na{x=\"2\"} 1\n"},
		{"unknown type", "# TYPE a meter\na{x=\"1\"} 1\n"},
		{"no final newline", "# TYPE a gauge\na{x=\"1\"} 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkExposition(tt.text); err == nil {
				t.Fatalf("accepted:\n%s", tt.text)
			}
		})
	}
	if err := checkExposition("# HELP a it.\n# TYPE a gauge\na{x=\"q\\\"\\\\\\n\",y=\"2\"} -1.5\n"); err != nil {
		t.Fatalf("rejected valid text: %v", err)
	}
}

func render(values []metrics.Value, ls []logical) string {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	writeMetrics(w, values)
	writeLogicals(w, ls)
	w.Flush()
	return buf.String()
}

func TestWriteMetrics(t *testing.T) {
	tests := []struct {
		name   string
		values []metrics.Value
		want   string
	}{
		{"sanitised name, logical label",
			[]metrics.Value{{Name: "a.sink.escapedCustomDfs-x.events out", Value: 7}},
			"# TYPE flume_sink_escapedCustomDfs_x_events_out counter\nflume_sink_escapedCustomDfs_x_events_out{logical=\"a\"} 7\n"},
		{"one TYPE line for every logical node",
			[]metrics.Value{{Name: "a.sink.q", Value: 1, Gauge: true}, {Name: "b.sink.q", Value: 2, Gauge: true}},
			"# TYPE flume_sink_q gauge\nflume_sink_q{logical=\"a\"} 1\nflume_sink_q{logical=\"b\"} 2\n"},
		{"counter here, gauge there: untyped",
			[]metrics.Value{{Name: "a.x", Value: 1}, {Name: "b.x", Value: 2, Gauge: true}},
			"# TYPE flume_x untyped\nflume_x{logical=\"a\"} 1\nflume_x{logical=\"b\"} 2\n"},
		{"names that sanitise alike keep the first",
			[]metrics.Value{{Name: "a.x-y", Value: 1}, {Name: "a.x_y", Value: 2}},
			"# TYPE flume_x_y counter\nflume_x_y{logical=\"a\"} 1\n"},
		{"label value escaped, name without logical node",
			[]metrics.Value{{Name: "a\"b\\c\nd.n", Value: 1}, {Name: "solo", Value: 3}},
			"# TYPE flume_n counter\nflume_n{logical=\"a\\\"b\\\\c\\nd\"} 1\n# TYPE flume_solo counter\nflume_solo{logical=\"\"} 3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(tt.values, nil)
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got:\n%s\nwant it to start with:\n%s", got, tt.want)
			}
			if err := checkExposition(got); err != nil {
				t.Fatalf("%v\n%s", err, got)
			}
		})
	}
}

// benchValues is the metrics of a node with 20 logical nodes of 10 counters each.
func benchValues() []metrics.Value {
	var vs []metrics.Value
	for l := range 20 {
		for c := range 10 {
			vs = append(vs, metrics.Value{Name: fmt.Sprintf("logical%d.sink.batch.null.counter%d", l, c), Value: int64(l * c)})
		}
	}
	return vs
}

func BenchmarkWriteMetrics(b *testing.B) {
	vs := benchValues()
	w := bufio.NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		writeMetrics(w, vs)
		w.Flush()
	}
}
