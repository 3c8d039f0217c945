package syslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/source/internal/record"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait is how long a test waits for something that should happen at once.
const wait = 10 * time.Second

func newEnv(props map[string]string) *plugintest.Env {
	return plugintest.NewEnv(props, Register)
}

// openSource builds and opens spec (a syslog source on port 0) and returns it, closed when the
// test ends.
func openSource(t testing.TB, env *plugintest.Env, spec string) *Source {
	t.Helper()
	return env.OpenSource(t, spec).(*Source)
}

// dial connects to s over network ("tcp" or "udp") on the loopback address.
func dial(t testing.TB, s *Source, network string) net.Conn {
	t.Helper()
	var port int
	switch a := s.Addr().(type) {
	case *net.TCPAddr:
		port = a.Port
	case *net.UDPAddr:
		port = a.Port
	default:
		t.Fatalf("Addr = %v", s.Addr())
	}
	c, err := net.Dial(network, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// write writes p to c, failing the test on an error.
func write(t testing.TB, c net.Conn, p string) {
	t.Helper()
	if _, err := io.WriteString(c, p); err != nil {
		t.Fatal(err)
	}
}

// collect calls Next until it has n events and returns clones of them, failing the test on an
// error, on a batch over record.MaxBatch, or after wait.
func collect(t testing.TB, s plugin.Source, n int) []*event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var out []*event.Event
	for len(out) < n {
		batch, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d of %d events: %v", len(out), n, err)
		}
		if len(batch) == 0 || len(batch) > record.MaxBatch {
			t.Fatalf("batch of %d events", len(batch))
		}
		for _, e := range batch {
			out = append(out, e.Clone())
		}
	}
	if len(out) > n {
		t.Fatalf("got %d events, want %d: %q", len(out), n, plugintest.Short(plugintest.Bodies(out)))
	}
	return out
}

// drainToEOF calls Next until io.EOF and returns clones of the events.
func drainToEOF(t testing.TB, s plugin.Source) []*event.Event {
	t.Helper()
	return plugintest.DrainLimit(t, s, wait, record.MaxBatch)
}

// attrs returns e's attributes as "key=value" strings, the one-byte facility and severity
// as numbers.
func attrs(e *event.Event) []string {
	var out []string
	for k, v := range e.Attrs() {
		if k == AttrFacility || k == AttrSeverity {
			if len(v) != 1 {
				out = append(out, fmt.Sprintf("%s=%q (not one byte)", k, v))
				continue
			}
			out = append(out, fmt.Sprintf("%s=%d", k, v[0]))
			continue
		}
		out = append(out, k+"="+string(v))
	}
	return out
}

// numbered returns n messages "<13>message i", i from 0.
func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "<13>message " + strconv.Itoa(i)
	}
	return out
}

// withPRI returns e's body with its PRI put back in front, as it was sent.
func withPRI(e *event.Event) string {
	f, _ := e.Attr(AttrFacility)
	sev, _ := e.Attr(AttrSeverity)
	return "<" + strconv.Itoa(int(f[0])*8+int(sev[0])) + ">" + string(e.Body)
}

// bodiesWithPRI returns the bodies of evs with the PRI put back as "<13>", to compare with
// what numbered sent.
func bodiesWithPRI(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = "<13>" + string(e.Body)
	}
	return out
}

func TestRegisterNamesTheSyslogSources(t *testing.T) {
	want := []string{"syslogTcp", "syslogTcp1", "syslogUdp"}
	if got := plugintest.Names(t, newEnv(nil).Registry, plugin.KindSource); !slices.Equal(got, want) {
		t.Errorf("sources = %v, want %v", got, want)
	}
}

func TestBuildChecksArguments(t *testing.T) {
	tests := []struct {
		spec, wantErr string
	}{
		{"syslogUdp", ""},
		{"syslogTcp(5140)", ""},
		{`syslogTcp1("5140")`, ""},
		{`syslogTcp(0, oversize="reject")`, ""},
		{"syslogTcp(70000)", "1:11: syslogTcp: argument port: port 70000 out of range 0 to 65535"},
		{`syslogUdp("-1")`, "port -1 out of range"},
		{"syslogTcp(1, 2)", "too many arguments"},
		{`syslogTcp1("x")`, "argument port: want an integer"},
		{`syslogUdp(oversize="drop")`, "unknown oversize policy"},
		{`syslogTcp(0, oversize="split")`, `1:23: syslogTcp: argument oversize: a syslog message cannot be split: want truncate or reject`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := newEnv(nil).BuildSource(t, tt.spec)
			if tt.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("build = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("build error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultPortIsClassic(t *testing.T) {
	s, err := newEnv(nil).BuildSource(t, "syslogTcp")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.(*Source).port; got != 514 {
		t.Errorf("default port = %d, want 514", got)
	}
}

func TestNextBeforeOpenAndAfterClose(t *testing.T) {
	for _, spec := range []string{"syslogUdp(0)", "syslogTcp(0)", "syslogTcp1(0)"} {
		t.Run(spec, func(t *testing.T) {
			s, err := newEnv(nil).BuildSource(t, spec)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Next(context.Background()); !errors.Is(err, ErrNotOpen) {
				t.Fatalf("Next before Open = %v, want ErrNotOpen", err)
			}
			if s.(*Source).Addr() != nil {
				t.Errorf("Addr before Open = %v, want nil", s.(*Source).Addr())
			}
			for range 2 {
				if err := s.Close(context.Background()); err != nil {
					t.Fatalf("Close = %v", err)
				}
			}
			if _, err := s.Next(context.Background()); !errors.Is(err, io.EOF) {
				t.Fatalf("Next after Close = %v, want io.EOF", err)
			}
			if err := s.Open(context.Background()); !errors.Is(err, ErrClosed) {
				t.Fatalf("Open after Close = %v, want ErrClosed", err)
			}
		})
	}
}

func TestOpenFailsOnAPortInUse(t *testing.T) {
	env := newEnv(nil)
	first := openSource(t, env, "syslogTcp(0)")
	port := first.Addr().(*net.TCPAddr).Port
	s, err := env.BuildSource(t, fmt.Sprintf("syslogTcp(%d)", port))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	err = s.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "syslogTcp") {
		t.Fatalf("Open on a port in use = %v, want an error naming the source", err)
	}
}
