package web

import (
	"bufio"
	"net/http"
	"sort"
	"strconv"

	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/metrics"
)

// promContentType is the Prometheus text exposition format, version 0.0.4.
const promContentType = "text/plain; version=0.0.4; charset=utf-8"

// states are the states a logical node's state gauge enumerates, in wire order.
var states = []flow.State{
	flow.StateHello, flow.StateIdle, flow.StateConfiguring, flow.StateActive,
	flow.StateError, flow.StateLost, flow.StateDecommissioned, flow.StateClosing,
}

// family is one Prometheus metric: a name, a type and its samples, one per logical node.
type family struct {
	name    string
	typ     string // counter, gauge or untyped
	samples []sample
}

type sample struct {
	logical string
	value   int64
}

// prometheus serves every counter and gauge of the node as flume_<name without the logical
// node> with a logical label, then the state, version and event count of every logical node.
func (h *handler) prometheus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", promContentType)
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	writeMetrics(bw, h.node.Metrics().Snapshot())
	writeLogicals(bw, h.logicals())
	_ = bw.Flush() // a write error means the client left
}

// writeMetrics writes the registry's values grouped into families. Two names that sanitise
// to the same series keep the first; a family that is a counter under one logical node and a
// gauge under another is written untyped rather than given a false type.
func writeMetrics(w *bufio.Writer, values []metrics.Value) {
	byName := map[string]*family{}
	seen := map[[2]string]bool{}
	for _, v := range values {
		logical, rest := splitLogical(v.Name)
		name := promName(rest)
		typ := "counter"
		if v.Gauge {
			typ = "gauge"
		}
		f, ok := byName[name]
		if !ok {
			f = &family{name: name, typ: typ}
			byName[name] = f
		} else if f.typ != typ {
			f.typ = "untyped"
		}
		if key := [2]string{name, logical}; !seen[key] {
			seen[key] = true
			f.samples = append(f.samples, sample{logical: logical, value: v.Value})
		}
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := byName[name]
		writeType(w, f.name, "", f.typ)
		for _, s := range f.samples {
			writeSample(w, f.name, s.logical, "", s.value)
		}
	}
}

// writeLogicals writes the per-logical-node families. The state gauge enumerates every state,
// 1 for the current one, so a query for a state finds a series whether or not it is current.
func writeLogicals(w *bufio.Writer, ls []logical) {
	writeType(w, "flume_logical_node_state", "Whether the logical node is in the state.", "gauge")
	for _, l := range ls {
		for _, st := range states {
			var v int64
			if l.Status.State == st {
				v = 1
			}
			writeSample(w, "flume_logical_node_state", l.Name, st.String(), v)
		}
	}
	writeType(w, "flume_logical_node_version", "The configuration version the logical node runs (0: not assigned by a master).", "gauge")
	for _, l := range ls {
		writeSample(w, "flume_logical_node_version", l.Name, "", int64(l.Version))
	}
	writeType(w, "flume_logical_node_events", "Events the logical node's sink accepted since its flow started.", "counter")
	for _, l := range ls {
		writeSample(w, "flume_logical_node_events", l.Name, "", l.Status.Events)
	}
}

func writeType(w *bufio.Writer, name, help, typ string) {
	if help != "" {
		w.WriteString("# HELP " + name + " " + help + "\n")
	}
	w.WriteString("# TYPE " + name + " " + typ + "\n")
}

// writeSample writes name{logical="...",state="..."} value; state is left out when empty.
func writeSample(w *bufio.Writer, name, logical, state string, value int64) {
	w.WriteString(name)
	w.WriteString(`{logical="`)
	writeLabelValue(w, logical)
	if state != "" {
		w.WriteString(`",state="`)
		writeLabelValue(w, state)
	}
	w.WriteString(`"} `)
	var buf [20]byte
	w.Write(strconv.AppendInt(buf[:0], value, 10))
	w.WriteByte('\n')
}

// writeLabelValue writes s escaped as the text format requires: backslash, double quote and
// line feed.
func writeLabelValue(w *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			w.WriteString(`\\`)
		case '"':
			w.WriteString(`\"`)
		case '\n':
			w.WriteString(`\n`)
		default:
			w.WriteByte(c)
		}
	}
}

// promName returns "flume_" followed by name mapped to [a-zA-Z0-9_:], every other byte
// replaced with '_'. The prefix makes a leading digit valid.
func promName(name string) string {
	b := make([]byte, 0, len("flume_")+len(name))
	b = append(b, "flume_"...)
	for i := 0; i < len(name); i++ {
		if c := name[i]; nameByte(c) {
			b = append(b, c)
		} else {
			b = append(b, '_')
		}
	}
	return string(b)
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':'
}
