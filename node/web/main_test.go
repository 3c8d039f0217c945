package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/internal/testwait"
	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hostile is a logical node name and error text that would run script if not escaped.
const (
	hostileName = `<script>alert("name")</script>`
	hostileErr  = "bad <b>spec</b>: <script>alert('err')</script>\nsecond line <img src=x>"
)

// testNode returns a running node whose logical nodes cover every state the routes show:
// live (ACTIVE, endless), done (IDLE after 50 events), bad (ERROR: its source cannot open)
// and, when hostile is set, a logical node with a hostile name in ERROR with a hostile error.
// The node is stopped when the test ends.
func testNode(t *testing.T, hostile bool) *node.Node {
	t.Helper()
	n := node.New(node.Config{Name: "phys"}, builtin.Registry())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	})
	defs := map[string]string{
		"live": `live : asciisynth(0, 10) | counter("seen") ;`,
		"done": `done : asciisynth(50, 10) | counter("seen") ;`,
		"bad":  `bad : text("/nonexistent/flume/input") | null ;`,
	}
	var assigned []node.Assigned
	for i, name := range []string{"live", "done", "bad"} {
		d, err := spec.ParseNodes(defs[name])
		if err != nil {
			t.Fatal(err)
		}
		assigned = append(assigned, node.Assigned{Name: name, Version: uint64(i + 1), Def: d[0]})
	}
	if hostile {
		assigned = append(assigned, node.Assigned{Name: hostileName, Version: 9, Err: errors.New(hostileErr)})
	}
	n.Apply(assigned)
	testwait.Until(t, 10*time.Second, "live ACTIVE with events, done IDLE, bad ERROR", func() bool {
		st := n.Statuses()
		return st["live"].State == flow.StateActive && st["live"].Events > 0 &&
			st["done"].State == flow.StateIdle && st["bad"].State == flow.StateError
	})
	return n
}

// startServer serves n on a free loopback port until the test ends.
func startServer(t *testing.T, n *node.Node) *Server {
	t.Helper()
	s, err := Start(Config{Addr: "127.0.0.1:0", Node: n, Name: "phys<1>"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

// get fetches path from s and returns the status, content type and body.
func get(t testing.TB, s *Server, method, path string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

func mustContain(t testing.TB, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("response lacks %q:\n%s", w, body)
		}
	}
}
