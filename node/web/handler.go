package web

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/flow"
)

// handler serves the routes from what the node reports at each request.
type handler struct {
	node *node.Node
	name string           // the physical node's name
	now  func() time.Time // the clock of the page's "ago" column
}

func (h *handler) routes() http.Handler {
	mux := http.NewServeMux()
	// GET patterns also answer HEAD; other methods get 405 from the mux.
	mux.HandleFunc("GET /{$}", h.page)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /metrics", h.prometheus)
	mux.HandleFunc("GET /metrics.json", h.metricsJSON)
	return mux
}

// logical is one logical node as the routes show it.
type logical struct {
	Name   string
	Status flow.Status
	// Version is the configuration version; known only for logical nodes a master assigned.
	Version    uint64
	HasVersion bool
}

// logicals returns every logical node of the node, sorted by name.
func (h *handler) logicals() []logical {
	st := h.node.Statuses()
	versions := h.node.Versions()
	out := make([]logical, 0, len(st))
	for name, s := range st {
		v, ok := versions[name]
		out = append(out, logical{Name: name, Status: s, Version: v, HasVersion: ok})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// healthz answers 200 "ok" unless a logical node is in ERROR; then 503 with their names, one
// per line, so a probe's log says which.
func (h *handler) healthz(w http.ResponseWriter, _ *http.Request) {
	var failed []string
	for _, l := range h.logicals() {
		if l.Status.State == flow.StateError {
			failed = append(failed, l.Name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if len(failed) == 0 {
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte("logical nodes in ERROR:\n" + strings.Join(failed, "\n") + "\n"))
}

// splitLogical splits a metric name into its logical node (the first segment) and the rest.
// A name without a dot belongs to no logical node.
func splitLogical(name string) (logical, rest string) {
	if l, r, ok := strings.Cut(name, "."); ok {
		return l, r
	}
	return "", name
}
