package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestStatusPageShowsEveryLogicalNode(t *testing.T) {
	s := startServer(t, testNode(t, false))
	code, ctype, body := get(t, s, "GET", "/")
	if code != http.StatusOK || ctype != "text/html; charset=utf-8" {
		t.Fatalf("GET / = %d %q", code, ctype)
	}
	mustContain(t, body,
		`<span id="physical">phys&lt;1&gt;</span>`,
		`<tr><td>live</td><td class="ACTIVE">ACTIVE</td><td class="num">1</td>`,
		`<tr><td>done</td><td class="IDLE">IDLE</td><td class="num">2</td><td class="num">50</td>`,
		`<tr><td>bad</td><td class="ERROR">ERROR</td><td class="num">3</td>`,
		`<details><summary>open source: text source: open /nonexistent/flume/input`,
		`<h3>done</h3>`,
		`<tr><td>sink.seen</td><td>counter</td><td class="num">50</td></tr>`,
		`<tr><td>source.asciisynth.events_in</td><td>counter</td><td class="num">50</td></tr>`,
	)
	if strings.Contains(body, "<script") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("status page has scripts or external assets:\n%s", body)
	}
}

func TestStatusPageEscapesNamesAndErrors(t *testing.T) {
	s := startServer(t, testNode(t, true))
	_, _, body := get(t, s, "GET", "/")
	for _, raw := range []string{"<script", "<b>", "<img"} {
		if strings.Contains(body, raw) {
			t.Errorf("page carries raw %q:\n%s", raw, body)
		}
	}
	mustContain(t, body,
		`<tr><td>&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;</td><td class="ERROR">ERROR</td><td class="num">9</td>`,
		// The first line in the summary, the whole error (both lines) in the details.
		`<summary>bad &lt;b&gt;spec&lt;/b&gt;: &lt;script&gt;alert(&#39;err&#39;)&lt;/script&gt;</summary>`,
		`<pre>bad &lt;b&gt;spec&lt;/b&gt;: &lt;script&gt;alert(&#39;err&#39;)&lt;/script&gt;
second line &lt;img src=x&gt;</pre>`,
	)
}

func TestHealthz(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		n := idleNode()
		s := startServer(t, n)
		code, ctype, body := get(t, s, "GET", "/healthz")
		if code != http.StatusOK || ctype != "text/plain; charset=utf-8" || body != "ok\n" {
			t.Fatalf("healthz = %d %q %q", code, ctype, body)
		}
	})
	t.Run("error", func(t *testing.T) {
		s := startServer(t, testNode(t, true))
		code, _, body := get(t, s, "GET", "/healthz")
		want := "logical nodes in ERROR:\n" + hostileName + "\nbad\n"
		if code != http.StatusServiceUnavailable || body != want {
			t.Fatalf("healthz = %d %q, want 503 %q", code, body, want)
		}
	})
}

func TestPrometheusExposition(t *testing.T) {
	s := startServer(t, testNode(t, true))
	code, ctype, body := get(t, s, "GET", "/metrics")
	if code != http.StatusOK || ctype != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("GET /metrics = %d %q", code, ctype)
	}
	if err := checkExposition(body); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	mustContain(t, body,
		"# TYPE flume_sink_seen counter\n",
		`flume_sink_seen{logical="done"} 50`+"\n",
		`flume_source_asciisynth_events_in{logical="done"} 50`+"\n",
		"# TYPE flume_logical_node_state gauge\n",
		`flume_logical_node_state{logical="live",state="ACTIVE"} 1`+"\n",
		`flume_logical_node_state{logical="live",state="IDLE"} 0`+"\n",
		`flume_logical_node_state{logical="done",state="IDLE"} 1`+"\n",
		`flume_logical_node_state{logical="bad",state="ERROR"} 1`+"\n",
		`flume_logical_node_state{logical="<script>alert(\"name\")</script>",state="ERROR"} 1`+"\n",
		"# TYPE flume_logical_node_version gauge\n",
		`flume_logical_node_version{logical="bad"} 3`+"\n",
		`flume_logical_node_events{logical="done"} 50`+"\n",
	)
}

func TestMetricsJSONIsFlumeNGShaped(t *testing.T) {
	s := startServer(t, testNode(t, false))
	code, ctype, body := get(t, s, "GET", "/metrics.json")
	if code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("GET /metrics.json = %d %q", code, ctype)
	}
	var got map[string]map[string]string
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("not an object of string maps: %v\n%s", err, body)
	}
	checks := []struct{ component, metric, want string }{
		{"done.sink", "seen", "50"},
		{"done.sink", "Type", "SINK"},
		{"done.source.asciisynth", "events_in", "50"},
		{"done.source.asciisynth", "bytes_in", "500"},
		{"done.source.asciisynth", "Type", "SOURCE"},
		{"bad.sink.null", "events_out", "0"},
	}
	for _, c := range checks {
		if v := got[c.component][c.metric]; v != c.want {
			t.Errorf("%s %s = %q, want %q", c.component, c.metric, v, c.want)
		}
	}
}

func TestRoutesRejectOtherPathsAndMethods(t *testing.T) {
	s := startServer(t, idleNode())
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/nothing", http.StatusNotFound},
		{"POST", "/", http.StatusMethodNotAllowed},
		{"DELETE", "/metrics", http.StatusMethodNotAllowed},
		{"HEAD", "/metrics", http.StatusOK},
		{"GET", "/", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			if code, _, _ := get(t, s, tt.method, tt.path); code != tt.want {
				t.Fatalf("%s %s = %d, want %d", tt.method, tt.path, code, tt.want)
			}
		})
	}
}
