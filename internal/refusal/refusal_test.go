package refusal

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRefusalIsLoggedOncePerKeyAndQuietPeriod(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), time.Minute)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	for range 100 {
		l.Refuse("tls 10.0.0.9", "tls handshake refused", "peer", "10.0.0.9:4000")
	}
	l.Refuse("tls 10.0.0.8", "tls handshake refused", "peer", "10.0.0.8:4000")
	if n := strings.Count(buf.String(), "tls handshake refused"); n != 2 {
		t.Fatalf("logged %d lines for 101 refusals from 2 peers, want 2:\n%s", n, buf.String())
	}
	if got := l.Suppressed("tls 10.0.0.9"); got != 99 {
		t.Fatalf("suppressed = %d, want 99", got)
	}
	now = now.Add(time.Minute)
	buf.Reset()
	l.Refuse("tls 10.0.0.9", "tls handshake refused")
	if !strings.Contains(buf.String(), "refused_since_last_logged=99") {
		t.Fatalf("the next line does not report the 99 refusals counted meanwhile:\n%s", buf.String())
	}
}

func TestRefusalLogForgetsTheOldestKeysWhenFull(t *testing.T) {
	l := New(nil, time.Minute)
	for i := range 3 * maxKeys {
		l.Refuse(fmt.Sprintf("k%d", i), "refused")
	}
	if len(l.seen) != maxKeys || len(l.order) != maxKeys {
		t.Fatalf("remembers %d keys (%d in order), want at most %d", len(l.seen), len(l.order), maxKeys)
	}
	if _, ok := l.seen["k0"]; ok {
		t.Fatal("the oldest key is still remembered")
	}
}
