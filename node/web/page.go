package web

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// pageData is what the status page template renders.
type pageData struct {
	Physical string
	Now      string
	Logicals []pageLogical
}

type pageLogical struct {
	Name    string
	State   string
	Version string
	Events  int64
	Since   string
	Ago     string
	// ErrLine is the first line of the error, ErrFull all of it (a panic's stack).
	ErrLine, ErrFull string
	Metrics          []pageMetric
}

type pageMetric struct {
	Name, Kind string
	Value      int64
}

// pageTemplate is the status page: self-contained (no scripts, no external assets), every
// value escaped by html/template.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Flume node {{.Physical}}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; font-family: monospace; }
.ERROR { color: #b00; font-weight: bold; }
.ACTIVE { color: #070; }
pre { margin: 0.3em 0; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>Flume node <span id="physical">{{.Physical}}</span></h1>
<p>Status at {{.Now}}.</p>
<h2>Logical nodes</h2>
{{if .Logicals -}}
<table id="logical-nodes">
<tr><th>logical node</th><th>state</th><th>version</th><th>events</th><th>since</th><th>error</th></tr>
{{range .Logicals -}}
<tr><td>{{.Name}}</td><td class="{{.State}}">{{.State}}</td><td class="num">{{.Version}}</td><td class="num">{{.Events}}</td><td>{{.Since}} ({{.Ago}} ago)</td><td>{{if .ErrFull}}<details><summary>{{.ErrLine}}</summary><pre>{{.ErrFull}}</pre></details>{{end}}</td></tr>
{{end -}}
</table>
{{- else -}}
<p>No logical nodes.</p>
{{- end}}
<h2>Metrics</h2>
{{range .Logicals -}}
{{if .Metrics -}}
<h3>{{.Name}}</h3>
<table class="metrics">
<tr><th>metric</th><th>kind</th><th>value</th></tr>
{{range .Metrics}}<tr><td>{{.Name}}</td><td>{{.Kind}}</td><td class="num">{{.Value}}</td></tr>
{{end -}}
</table>
{{end -}}
{{end -}}
</body>
</html>
`))

// page serves the HTML status page. It renders into a buffer first so a template error is a
// 500, not half a page.
func (h *handler) page(w http.ResponseWriter, _ *http.Request) {
	now := h.now()
	ls := h.logicals()
	data := pageData{Physical: h.name, Now: now.Format(time.RFC3339), Logicals: make([]pageLogical, len(ls))}
	index := make(map[string]int, len(ls))
	for i, l := range ls {
		index[l.Name] = i
		p := pageLogical{
			Name: l.Name, State: l.Status.State.String(), Events: l.Status.Events,
			Since: l.Status.Since.Format(time.RFC3339),
			Ago:   now.Sub(l.Status.Since).Round(time.Second).String(),
		}
		if l.HasVersion {
			p.Version = formatUint(l.Version)
		}
		if err := l.Status.Err; err != nil {
			p.ErrFull = err.Error()
			p.ErrLine, _, _ = strings.Cut(p.ErrFull, "\n")
		}
		data.Logicals[i] = p
	}
	for _, v := range h.node.Metrics().Snapshot() {
		logical, rest := splitLogical(v.Name)
		i, ok := index[logical]
		if !ok {
			continue // metrics of a logical node no longer assigned
		}
		kind := "counter"
		if v.Gauge {
			kind = "gauge"
		}
		data.Logicals[i].Metrics = append(data.Logicals[i].Metrics, pageMetric{Name: rest, Kind: kind, Value: v.Value})
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		http.Error(w, "render status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The page needs nothing but its own inline style.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(buf.Bytes())
}

func formatUint(v uint64) string { return strconv.FormatUint(v, 10) }
