package web

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/builtin"
)

func idleNode() *node.Node { return node.New(node.Config{Name: "phys"}, builtin.Registry()) }

// occupy listens on addr until the test ends, or skips the test if it cannot.
func occupy(t *testing.T, addr string) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot occupy %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func TestPortZeroTakesAFreePort(t *testing.T) {
	s := startServer(t, idleNode())
	if port := portOf(t, s.Addr()); port == 0 {
		t.Fatalf("Addr() = %s, want the bound port", s.Addr())
	}
	if code, _, body := get(t, s, "GET", "/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz on %s = %d %q", s.Addr(), code, body)
	}
}

func TestAutoFindPortTakesTheNextFreePort(t *testing.T) {
	taken := occupy(t, "127.0.0.1:0")
	s, err := Start(Config{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(taken)), AutoFindPort: true, Node: idleNode()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if port := portOf(t, s.Addr()); port <= taken || port >= taken+maxPortTries {
		t.Fatalf("bound %d, want a port after the taken %d", port, taken)
	}
	if code, _, _ := get(t, s, "GET", "/healthz"); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
}

func TestTakenPortWithoutAutoFindIsAClearError(t *testing.T) {
	taken := occupy(t, "127.0.0.1:0")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(taken))
	s, err := Start(Config{Addr: addr, Node: idleNode()})
	if err == nil {
		s.Close(context.Background())
		t.Fatal("Start on a taken port succeeded")
	}
	if !errors.Is(err, ErrPortInUse) {
		t.Errorf("error %v is not ErrPortInUse", err)
	}
	mustContain(t, err.Error(), addr, "flume.node.status.port", "flume.node.http.autofindport=true")
}

func TestAutoFindPortGivesUpAtTheLastPort(t *testing.T) {
	occupy(t, "127.0.0.1:65534")
	occupy(t, "127.0.0.1:65535")
	_, err := Start(Config{Addr: "127.0.0.1:65534", AutoFindPort: true, Node: idleNode()})
	if !errors.Is(err, ErrPortInUse) {
		t.Fatalf("error %v, want ErrPortInUse", err)
	}
	mustContain(t, err.Error(), "127.0.0.1:65534", "ports 65534 to 65535", "flume.node.status.port")
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no node", Config{Addr: "127.0.0.1:0"}, "without a node"},
		{"no port", Config{Addr: "localhost", Node: idleNode()}, `"localhost" (flume.node.status.port)`},
		{"bad port", Config{Addr: "localhost:http2", Node: idleNode()}, `bad port "http2"`},
		{"port out of range", Config{Addr: "localhost:70000", Node: idleNode()}, `bad port "70000"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(tt.cfg)
			if err == nil {
				s.Close(context.Background())
				t.Fatal("Start succeeded")
			}
			mustContain(t, err.Error(), tt.want)
		})
	}
}

func TestCloseStopsServingAndIsIdempotent(t *testing.T) {
	s, err := Start(Config{Addr: "127.0.0.1:0", Node: idleNode()})
	if err != nil {
		t.Fatal(err)
	}
	get(t, s, "GET", "/healthz")
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("server still accepts connections after Close")
	}
}

// A client that never finishes its request must not hold Close past its context.
func TestCloseCutsConnectionsWhenItsContextEnds(t *testing.T) {
	s, err := Start(Config{Addr: "127.0.0.1:0", Node: idleNode()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	first := s.Close(ctx)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Close took %v with a 50ms context", el)
	}
	// The server may not have accepted the connection yet when Close began (the kernel
	// completes a connect before accept); then there was nothing to wait for, and Close is nil.
	// Otherwise it waited for the stuck request until its context ended, and says so.
	if first != nil && !errors.Is(first, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want nil or the context's error", first)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("half-sent connection still open after Close: read %d, %v", n, err)
	}
	if second := s.Close(context.Background()); (first == nil) != (second == nil) ||
		(second != nil && !strings.Contains(second.Error(), "shut down")) {
		t.Fatalf("second Close = %v, want the first Close's result (%v) again", second, first)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
