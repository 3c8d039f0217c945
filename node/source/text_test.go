package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

func writeFile(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.log")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTextReadsEveryLine(t *testing.T) {
	long := strings.Repeat("x", 40000)
	huge := strings.Repeat("y", 600000) // longer than the read buffer
	tests := []struct {
		name, content string
		want          []string
	}{
		{"lines", "a\nb\nc\n", []string{"a", "b", "c"}},
		{"unterminated last line", "a\nb", []string{"a", "b"}},
		{"empty lines kept", "a\n\nb\n", []string{"a", "", "b"}},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
		{"empty file", "", nil},
		{"only newline", "\n", []string{""}},
		{"line over the limit is truncated", "a\n" + long + "\nb\n", []string{"a", long[:32768], "b"}},
		{"line over the buffer is truncated", "a\n" + huge + "\nb\n", []string{"a", huge[:32768], "b"}},
		{"unterminated huge last line", "a\n" + huge, []string{"a", huge[:32768]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(nil)
			path := writeFile(t, tt.content)
			got := plugintest.Bodies(drain(t, e.OpenSource(t, fmt.Sprintf("text(%q)", path))))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", plugintest.Short(got), plugintest.Short(tt.want))
			}
		})
	}
}

func TestTextMatchesTheFileAcrossBufferBoundaries(t *testing.T) {
	var content bytes.Buffer
	var want []string
	for i := range 50000 {
		line := fmt.Sprintf("line %d %s", i, strings.Repeat("z", i%97))
		want = append(want, line)
		content.WriteString(line + "\n")
	}
	e := newEnv(nil)
	path := writeFile(t, content.String())
	got := plugintest.Bodies(drain(t, e.OpenSource(t, fmt.Sprintf("text(%q)", path))))
	if !slices.Equal(got, want) {
		t.Fatalf("got %d lines, want %d; first: %q", len(got), len(want), plugintest.Short(got))
	}
	if n := e.Counter("text.events_in"); n != int64(len(want)) {
		t.Errorf("events_in = %d, want %d", n, len(want))
	}
}

func TestTextStampsEvents(t *testing.T) {
	e := newEnv(nil)
	path := writeFile(t, "hello\n")
	before := time.Now().UnixNano()
	evs := drain(t, e.OpenSource(t, fmt.Sprintf("text(%q)", path)))
	after := time.Now().UnixNano()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	if ev.Priority != event.INFO || ev.Host != event.Hostname() || ev.Timestamp < before || ev.Timestamp > after {
		t.Errorf("event = %+v, want INFO from %s stamped in [%d, %d]", ev, event.Hostname(), before, after)
	}
}

func TestTextOversizePolicy(t *testing.T) {
	props := map[string]string{"flume.event.max.size.bytes": "4"}
	tests := []struct {
		spec                string
		want                []string
		truncated, rejected int64
	}{
		{`text(%q)`, []string{"ab", "abcd", "x"}, 1, 0},
		{`text(%q, oversize="truncate")`, []string{"ab", "abcd", "x"}, 1, 0},
		{`text(%q, oversize="reject")`, []string{"ab", "x"}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			e := newEnv(props)
			path := writeFile(t, "ab\nabcdefgh\nx\n")
			got := plugintest.Bodies(drain(t, e.OpenSource(t, fmt.Sprintf(tt.spec, path))))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if n := e.Counter("text.events_truncated"); n != tt.truncated {
				t.Errorf("events_truncated = %d, want %d", n, tt.truncated)
			}
			if n := e.Counter("text.events_rejected"); n != tt.rejected {
				t.Errorf("events_rejected = %d, want %d", n, tt.rejected)
			}
		})
	}
}

func TestTextOpenErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, path string }{
		{"missing", filepath.Join(dir, "missing.log")},
		{"directory", dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := newEnv(nil).BuildSource(t, fmt.Sprintf("text(%q)", tt.path))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			err = s.Open(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("Open = %v, want an error naming %s", err, tt.path)
			}
		})
	}
}

func TestTextArguments(t *testing.T) {
	tests := []struct {
		spec    string
		wantErr string // "" for success
	}{
		{`text("/x", raw)`, ""},
		{`text("/x", format=default)`, ""},
		{`text("/x", "raw")`, ""},
		{`text("/x", json)`, `1:12: text: argument format: text reads lines; input format "json" is not supported (only raw)`},
		{`text("")`, "1:6: text: argument file: empty file name"},
		{`text("/x", oversize="drop")`, `1:21: text: argument oversize: unknown oversize policy "drop": want truncate, reject or split`},
		{`text`, "missing argument"},
		{`text("/a", raw, 3)`, "too many arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := newEnv(nil).BuildSource(t, tt.spec)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("build: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("build = %v, want %q", err, tt.wantErr)
			}
			if tt.wantErr != "" && len(spec.Errors(err)) != 1 {
				t.Errorf("error %v is not a positioned spec error", err)
			}
		})
	}
}

func TestTextNextHonoursContext(t *testing.T) {
	e := newEnv(nil)
	s := e.OpenSource(t, fmt.Sprintf("text(%q)", writeFile(t, "a\n")))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next = %v, want context.Canceled", err)
	}
	if got := plugintest.Bodies(drain(t, s)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after cancel got %q", got)
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("Next after end = %v, want io.EOF", err)
	}
}
