package raftstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// recordHandler keeps every record with its attributes flattened to key=value strings.
type recordHandler struct {
	mu      sync.Mutex
	level   slog.Level
	records []logRecord
	attrs   []slog.Attr
	shared  *recordHandler // root that owns records
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]any
}

func slogRecorder(h *recordHandler) *slog.Logger { return slog.New(h) }

func (h *recordHandler) root() *recordHandler {
	if h.shared != nil {
		return h.shared
	}
	return h
}

func (h *recordHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.root().level }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]any{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.Any()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.Any()
		return true
	})
	root := h.root()
	root.mu.Lock()
	root.records = append(root.records, rec)
	root.mu.Unlock()
	return nil
}

func (h *recordHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &recordHandler{attrs: append(append([]slog.Attr(nil), h.attrs...), as...), shared: h.root()}
}

func (h *recordHandler) WithGroup(string) slog.Handler { return h }

func (h *recordHandler) has(msg string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if r.msg == msg {
			return true
		}
	}
	return false
}

func (h *recordHandler) last(t *testing.T) logRecord {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.records) == 0 {
		t.Fatal("nothing logged")
	}
	return h.records[len(h.records)-1]
}

func (h *recordHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.records)
}

func TestHCLoggerMapsLevelsNamesAndArgs(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		log       func(hclog.Logger)
		wantLevel slog.Level
		wantMsg   string
		wantAttrs map[string]any
	}{
		{"trace", func(l hclog.Logger) { l.Trace("t") }, LevelTrace, "t", nil},
		{"debug", func(l hclog.Logger) { l.Debug("d", "k", 1) }, slog.LevelDebug, "d", map[string]any{"k": int64(1)}},
		{"info", func(l hclog.Logger) { l.Info("i") }, slog.LevelInfo, "i", nil},
		{"warn", func(l hclog.Logger) { l.Warn("w") }, slog.LevelWarn, "w", nil},
		{"error key renamed", func(l hclog.Logger) { l.Error("e", "error", errBoom) }, slog.LevelError, "e",
			map[string]any{"err": errBoom}},
		{"named", func(l hclog.Logger) { l.Named("net").Info("n") }, slog.LevelInfo, "n",
			map[string]any{"logger": "raft.net"}},
		{"reset named", func(l hclog.Logger) { l.Named("x").ResetNamed("y").Info("r") }, slog.LevelInfo, "r",
			map[string]any{"logger": "y"}},
		{"with", func(l hclog.Logger) { l.With("peer", "m1").Info("w", "error", errBoom) }, slog.LevelInfo, "w",
			map[string]any{"peer": "m1", "err": errBoom, "logger": "raft"}},
		{"no level is info", func(l hclog.Logger) { l.Log(hclog.NoLevel, "x") }, slog.LevelInfo, "x", nil},
		{"standard logger infers", func(l hclog.Logger) {
			l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Print("[WARN] careful")
		}, slog.LevelWarn, "careful", nil},
		{"standard logger forced", func(l hclog.Logger) {
			l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}).Print("[INFO] bad")
		}, slog.LevelError, "bad", nil},
		{"standard logger plain", func(l hclog.Logger) { l.StandardLogger(nil).Print("[INFO] as is") },
			slog.LevelInfo, "[INFO] as is", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordHandler{level: LevelTrace}
			l := NewHCLogger(slogRecorder(rec), "raft")
			tt.log(l)
			got := rec.last(t)
			if got.level != tt.wantLevel || got.msg != tt.wantMsg {
				t.Fatalf("logged %v %q, want %v %q", got.level, got.msg, tt.wantLevel, tt.wantMsg)
			}
			for k, v := range tt.wantAttrs {
				if got.attrs[k] != v {
					t.Errorf("attr %s = %v, want %v (all: %v)", k, got.attrs[k], v, got.attrs)
				}
			}
			if _, ok := got.attrs["error"]; ok {
				t.Errorf("key error not renamed: %v", got.attrs)
			}
		})
	}
}

func TestHCLoggerLevelQueries(t *testing.T) {
	rec := &recordHandler{level: slog.LevelInfo}
	l := NewHCLogger(slogRecorder(rec), "raft")
	if l.IsDebug() || l.IsTrace() || !l.IsInfo() || !l.IsWarn() || !l.IsError() {
		t.Fatal("level queries disagree with an Info handler")
	}
	if got := l.GetLevel(); got != hclog.Info {
		t.Errorf("GetLevel = %v, want Info from the handler", got)
	}
	l.Debug("hidden")
	if rec.count() != 0 {
		t.Error("debug message passed an Info handler")
	}

	child := l.Named("child")
	l.SetLevel(hclog.Error)
	child.Warn("below the floor")
	if rec.count() != 0 || child.IsWarn() {
		t.Error("SetLevel floor not shared with a derived logger")
	}
	l.SetLevel(hclog.Off)
	l.Error("off")
	if rec.count() != 0 {
		t.Error("message logged with level Off")
	}
	if NewHCLogger(nil, "x").IsError() {
		t.Error("nil slog logger should discard")
	}
}

func TestHCLoggerRendersLazyFormats(t *testing.T) {
	var buf bytes.Buffer
	l := NewHCLogger(slog.New(slog.NewTextHandler(&buf, nil)), "raft")
	l.Info("initial configuration", "servers", hclog.Fmt("%+v", []int{1, 2}))
	if !strings.Contains(buf.String(), `servers="[1 2]"`) {
		t.Fatalf("log line %q does not render the formatted value", buf.String())
	}
}
