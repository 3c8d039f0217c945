package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// metricsJSON serves the counters and gauges in Flume NG's monitoring layout: one object per
// component, keyed "<logical>.<component path>", holding its metrics as strings, as NG's
// JSON reporter wrote them. A component under a logical node's source or sink also gets NG's
// "Type" (SOURCE or SINK).
func (h *handler) metricsJSON(w http.ResponseWriter, _ *http.Request) {
	out := map[string]map[string]string{}
	for _, v := range h.node.Metrics().Snapshot() {
		component, metric := v.Name, v.Name
		if i := strings.LastIndexByte(v.Name, '.'); i >= 0 {
			component, metric = v.Name[:i], v.Name[i+1:]
		}
		m, ok := out[component]
		if !ok {
			m = map[string]string{}
			if t := componentType(component); t != "" {
				m["Type"] = t
			}
			out[component] = m
		}
		m[metric] = strconv.FormatInt(v.Value, 10)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out) // maps encode sorted by key; a write error means the client left
}

// componentType returns NG's Type of a component path "<logical>.source..." or
// "<logical>.sink...", or "" for anything else.
func componentType(component string) string {
	_, rest := splitLogical(component)
	first, _, _ := strings.Cut(rest, ".")
	switch first {
	case "source":
		return "SOURCE"
	case "sink":
		return "SINK"
	}
	return ""
}
