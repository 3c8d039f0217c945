package raftstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// LevelTrace is the slog level hclog's Trace maps to (below Debug).
const LevelTrace = slog.LevelDebug - 4

// NewHCLogger returns an hclog.Logger that writes to l, so raft and other hashicorp
// libraries log through the process's slog handler. Levels map Trace to LevelTrace and
// Debug, Info, Warn, Error to their slog namesakes; the handler decides what is shown.
// The logger's name goes in the attribute "logger"; the key "error" that hashicorp code
// uses is renamed "err", the key used everywhere else. A nil l discards everything.
func NewHCLogger(l *slog.Logger, name string) hclog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	h := &hcLogger{base: l, name: name, level: new(atomic.Int32)}
	h.level.Store(int32(hclog.NoLevel))
	h.l = h.derive()
	return h
}

// hcLogger adapts *slog.Logger to hclog.Logger. Values are immutable except the level,
// which loggers derived with With and Named share, as in hclog.
type hcLogger struct {
	base    *slog.Logger // without name and implied args
	l       *slog.Logger // base plus name and implied args
	name    string
	implied []any
	level   *atomic.Int32 // hclog.Level set by SetLevel; NoLevel: the handler decides
}

var _ hclog.Logger = (*hcLogger)(nil)

func (h *hcLogger) derive() *slog.Logger {
	l := h.base
	if h.name != "" {
		l = l.With("logger", h.name)
	}
	if len(h.implied) > 0 {
		l = l.With(renameArgs(h.implied)...)
	}
	return l
}

func (h *hcLogger) clone() *hcLogger {
	c := *h
	c.implied = append([]any(nil), h.implied...)
	return &c
}

// slogLevel maps an hclog level; ok is false for Off.
func slogLevel(level hclog.Level) (slog.Level, bool) {
	switch level {
	case hclog.Trace:
		return LevelTrace, true
	case hclog.Debug:
		return slog.LevelDebug, true
	case hclog.Warn:
		return slog.LevelWarn, true
	case hclog.Error:
		return slog.LevelError, true
	case hclog.Off:
		return 0, false
	default: // Info, NoLevel, DefaultLevel
		return slog.LevelInfo, true
	}
}

func (h *hcLogger) enabled(level hclog.Level) bool {
	if set := hclog.Level(h.level.Load()); set != hclog.NoLevel && level < set {
		return false
	}
	sl, ok := slogLevel(level)
	return ok && h.l.Enabled(context.Background(), sl)
}

// renameArgs copies key/value pairs, renaming the key "error" to "err" and rendering values
// that raft formats lazily with hclog.Fmt, which slog would print as the raw format.
func renameArgs(args []any) []any {
	out := make([]any, len(args))
	copy(out, args)
	for i := 0; i+1 < len(out); i += 2 {
		if k, ok := out[i].(string); ok && k == "error" {
			out[i] = "err"
		}
		if f, ok := out[i+1].(hclog.Format); ok && len(f) > 0 {
			if format, ok := f[0].(string); ok {
				out[i+1] = fmt.Sprintf(format, f[1:]...)
			}
		}
	}
	return out
}

// Log emits msg at level with hclog-style key/value args.
func (h *hcLogger) Log(level hclog.Level, msg string, args ...any) {
	if !h.enabled(level) {
		return
	}
	sl, _ := slogLevel(level)
	h.l.Log(context.Background(), sl, msg, renameArgs(args)...)
}

// Trace logs at LevelTrace.
func (h *hcLogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }

// Debug logs at slog.LevelDebug.
func (h *hcLogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }

// Info logs at slog.LevelInfo.
func (h *hcLogger) Info(msg string, args ...any) { h.Log(hclog.Info, msg, args...) }

// Warn logs at slog.LevelWarn.
func (h *hcLogger) Warn(msg string, args ...any) { h.Log(hclog.Warn, msg, args...) }

// Error logs at slog.LevelError.
func (h *hcLogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

// IsTrace reports whether Trace messages are emitted.
func (h *hcLogger) IsTrace() bool { return h.enabled(hclog.Trace) }

// IsDebug reports whether Debug messages are emitted.
func (h *hcLogger) IsDebug() bool { return h.enabled(hclog.Debug) }

// IsInfo reports whether Info messages are emitted.
func (h *hcLogger) IsInfo() bool { return h.enabled(hclog.Info) }

// IsWarn reports whether Warn messages are emitted.
func (h *hcLogger) IsWarn() bool { return h.enabled(hclog.Warn) }

// IsError reports whether Error messages are emitted.
func (h *hcLogger) IsError() bool { return h.enabled(hclog.Error) }

// ImpliedArgs returns the args added with With.
func (h *hcLogger) ImpliedArgs() []any { return append([]any(nil), h.implied...) }

// With returns a logger that adds args to every message.
func (h *hcLogger) With(args ...any) hclog.Logger {
	c := h.clone()
	c.implied = append(c.implied, args...)
	c.l = c.derive()
	return c
}

// Name returns the logger's name.
func (h *hcLogger) Name() string { return h.name }

// Named returns a logger whose name is this one's plus "." plus name.
func (h *hcLogger) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return h.ResetNamed(name)
}

// ResetNamed returns a logger named name.
func (h *hcLogger) ResetNamed(name string) hclog.Logger {
	c := h.clone()
	c.name = name
	c.l = c.derive()
	return c
}

// SetLevel sets a floor below which messages are dropped before reaching the handler;
// NoLevel removes it. Loggers derived from the same root share it.
func (h *hcLogger) SetLevel(level hclog.Level) { h.level.Store(int32(level)) }

// GetLevel returns the floor set with SetLevel, or the lowest level the handler emits.
func (h *hcLogger) GetLevel() hclog.Level {
	if set := hclog.Level(h.level.Load()); set != hclog.NoLevel {
		return set
	}
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if h.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

// StandardLogger returns a *log.Logger writing through StandardWriter.
func (h *hcLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

// StandardWriter returns a writer that logs each write as one message, at opts.ForceLevel
// if set, else at the level of a "[ERROR]"-style prefix when opts.InferLevels, else Info.
// With either option the level prefix is stripped, as hclog does.
func (h *hcLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return &stdWriter{h: h, force: opts.ForceLevel, infer: opts.InferLevels}
}

type stdWriter struct {
	h     *hcLogger
	force hclog.Level
	infer bool
}

var levelPrefixes = []struct {
	prefix string
	level  hclog.Level
}{
	{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
	{"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}, {"[ERR]", hclog.Error},
}

// Write logs p as one message, without its trailing newline.
func (w *stdWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimRight(p, "\r\n"))
	level := hclog.Info
	if !w.infer && w.force == hclog.NoLevel {
		w.h.Log(level, msg)
		return len(p), nil
	}
	for _, lp := range levelPrefixes {
		if rest, ok := strings.CutPrefix(msg, lp.prefix); ok {
			msg = strings.TrimSpace(rest)
			if w.infer {
				level = lp.level
			}
			break
		}
	}
	if w.force != hclog.NoLevel {
		level = w.force
	}
	w.h.Log(level, msg)
	return len(p), nil
}
