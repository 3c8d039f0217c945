package sinks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/flumego/flume/collector/store"
	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
)

// DeadLetterDir is the directory, under a sink's root, of its dead-letter files.
const DeadLetterDir = "dead-letter"

// DeadLetter sets aside the events a sink's storage refuses for good (store.ErrNameRefused: a
// name it will never take), so that they do not hold back the rest of their batch, nor every
// batch after it. Each goes, as one line of JSON, to a file under the sink's root:
//
//	<root>/dead-letter/<sink>-<YYYYMMDD-HHMMSSmmm+ZZZZ>.<unique>.<seq>.jsonl
//
// written as ".tmp" and finalized with the sink's files, the same way (store.Writer). <sink> is
// the name the sink commits under, made safe for a file name. A line reads
//
//	{"at":"2026-11-26T10:39:15.123Z","sink":"c1","reason":"...","agent":"web1","epoch":1,"seq":7,
//	 "timestamp":1795689555000000000,"priority":"INFO","host":"web1","body":"GET /",
//	 "attrs":[["tag","x"],["bad",{"base64":"/w=="}]]}
//
// at is when it was set aside, reason why; agent, epoch and seq name the chunk it came in (none
// for a batch that came from no agent). The event is kept whole: timestamp (unix nanoseconds),
// priority, host, body and every attribute in order. A value that is valid UTF-8 is a JSON
// string; any other is {"base64": ...}, its bytes in standard base64.
//
// The owner writes a batch's dead letters with the batch and makes them durable with it, before
// the batch is acknowledged: a sink with a commit point commits their file lengths with the batch,
// and cuts them with it when it is refused. It is safe for concurrent use.
type DeadLetter struct {
	opts  store.Options
	sink  string
	dir   string
	log   *slog.Logger
	count *metrics.Counter

	wmu    sync.Mutex
	w      *store.Writer // opened at the first dead letter, nil until then
	buf    bytes.Buffer
	record []*event.Event

	mu     sync.Mutex
	total  int64
	last   string // the reason of the last event set aside
	logged time.Time
}

// newDeadLetter returns the dead letters of a sink with options o (checked), named sink.
func newDeadLetter(o store.Options, sink string, reg *metrics.Registry, log *slog.Logger) (*DeadLetter, error) {
	root, err := o.Root()
	if err != nil {
		return nil, err
	}
	dir := path.Join(root, DeadLetterDir)
	d := &DeadLetter{sink: sink, log: log, dir: dir, count: reg.Counter("events_dead_lettered")}
	d.opts = store.Options{
		Path:     strings.ReplaceAll(dir, "%", "%%") + "/" + fileSafe(sink) + "-",
		Suffix:   ".jsonl",
		Location: o.Location, Now: o.Now, FS: o.FS, Logger: log, ManualSettle: o.ManualSettle, Owner: o.Owner,
		Metrics: reg.Sub("dead_letter"),
	}
	return d, d.opts.Validate()
}

// fileSafe makes name a file name: letters, digits, '.', '-' and '_' stay, anything else
// becomes '_'.
func fileSafe(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 100 {
		b = b[:100]
	}
	if s := string(b); s != "" && strings.Trim(s, ".") != "" {
		return s
	}
	return "sink"
}

// prefixed names files of the dead-letter Writer relative to the sink's root.
func prefixed(files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = DeadLetterDir + "/" + f
	}
	return out
}

// own names spans relative to the sink's root as the dead-letter Writer does.
func own(spans []store.Span) []store.Span {
	out := make([]store.Span, len(spans))
	for i, s := range spans {
		s.File = strings.TrimPrefix(s.File, DeadLetterDir+"/")
		out[i] = s
	}
	return out
}

// recoverFiles handles the dead-letter files a crash left, as store.Recover does; keep takes
// names relative to the sink's root.
func (d *DeadLetter) recoverFiles(ctx context.Context, keep func(string) int64) (store.RecoverStats, error) {
	var k func(string) int64
	if keep != nil {
		k = func(f string) int64 { return keep(DeadLetterDir + "/" + f) }
	}
	return store.Recover(ctx, d.opts, k)
}

// Write writes one record for each event of batch that skipped names, with why, and returns
// the spans written, named relative to the sink's root. chunk is the batch's, or nil. On error
// nothing of it is in the files.
func (d *DeadLetter) Write(batch []*event.Event, skipped []store.Skipped, chunk *commitpoint.Chunk) ([]store.Span, error) {
	if len(skipped) == 0 {
		return nil, nil
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.w == nil {
		w, err := store.Open(context.Background(), d.opts)
		if err != nil {
			return nil, fmt.Errorf("open dead-letter file: %w", err)
		}
		d.w = w
	}
	at := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	d.record = d.record[:0]
	for _, s := range skipped {
		line, err := d.encode(at, batch[s.Index], s.Err, chunk)
		if err != nil {
			return nil, err
		}
		d.record = append(d.record, &event.Event{Body: line, Timestamp: batch[s.Index].Timestamp})
	}
	spans, err := d.w.Write(d.record)
	clear(d.record)
	if err != nil {
		return nil, fmt.Errorf("write dead letters: %w", err)
	}
	for i := range spans {
		spans[i].File = DeadLetterDir + "/" + spans[i].File
	}
	return spans, nil
}

// encode returns the JSON line of e, without its newline.
func (d *DeadLetter) encode(at string, e *event.Event, why error, chunk *commitpoint.Chunk) ([]byte, error) {
	r := deadRecord{At: at, Sink: d.sink, Reason: why.Error(), Timestamp: e.Timestamp,
		Priority: e.Priority.String(), Host: text(e.Host), Body: text(e.Body)}
	if chunk != nil {
		r.Agent, r.Epoch, r.Seq = chunk.Agent, chunk.Epoch, chunk.Seq
	}
	for _, a := range e.AttrList() {
		r.Attrs = append(r.Attrs, [2]text{text(a.Key), text(a.Value)})
	}
	d.buf.Reset()
	enc := json.NewEncoder(&d.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&r); err != nil {
		return nil, fmt.Errorf("encode dead letter: %w", err)
	}
	return bytes.Clone(bytes.TrimSuffix(d.buf.Bytes(), []byte("\n"))), nil
}

// deadRecord is one line of a dead-letter file.
type deadRecord struct {
	At        string    `json:"at"`
	Sink      string    `json:"sink"`
	Reason    string    `json:"reason"`
	Agent     string    `json:"agent,omitempty"`
	Epoch     uint64    `json:"epoch,omitempty"`
	Seq       uint64    `json:"seq,omitempty"`
	Timestamp int64     `json:"timestamp"`
	Priority  string    `json:"priority"`
	Host      text      `json:"host"`
	Body      text      `json:"body"`
	Attrs     [][2]text `json:"attrs,omitempty"`
}

// text is bytes that are written as a JSON string when they are valid UTF-8, and as
// {"base64": "..."} otherwise, so that every byte is kept.
type text []byte

// MarshalJSON writes t losslessly.
func (t text) MarshalJSON() ([]byte, error) {
	if utf8.Valid(t) {
		return json.Marshal(string(t))
	}
	return json.Marshal(map[string]string{"base64": base64.StdEncoding.EncodeToString(t)})
}

// Counted records that n events are set aside for good, the last of them because of why: their
// batch is committed (or, without a commit point, durable).
func (d *DeadLetter) Counted(n int, why error) {
	if n == 0 {
		return
	}
	d.count.Add(int64(n))
	d.mu.Lock()
	d.total += int64(n)
	d.last = clip(why.Error(), 160)
	var errno syscall.Errno
	if errors.As(why, &errno) && errors.Is(why, store.ErrNameRefused) {
		d.last = store.ErrNameRefused.Error() + ": " + errno.Error()
	}
	logIt := time.Since(d.logged) >= 10*time.Second
	if logIt {
		d.logged = time.Now()
	}
	total := d.total
	d.mu.Unlock()
	if logIt {
		d.log.Warn("events set aside in the dead-letter directory: the storage refuses their names",
			"events", n, "total", total, "dir", d.dir, "err", why)
	}
}

// Note returns a status note saying how many events were set aside since the sink was built,
// and why the last one was; empty if none was.
func (d *DeadLetter) Note() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.total == 0 {
		return ""
	}
	what := "events"
	if d.total == 1 {
		what = "event"
	}
	return fmt.Sprintf("dead letters: %d %s set aside in %s (last: %s)", d.total, what, d.dir, d.last)
}

// Sync makes the dead letters written durable.
func (d *DeadLetter) Sync() error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.w == nil {
		return nil
	}
	return d.w.Sync()
}

// Rollback cuts dead letters written (spans as Write returned them) back out, as
// store.Writer.Rollback does.
func (d *DeadLetter) Rollback(spans []store.Span) error {
	if len(spans) == 0 {
		return nil
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.w == nil {
		return fmt.Errorf("roll back dead letters: %w", store.ErrNotOpen)
	}
	return d.w.Rollback(own(spans))
}

// Settle settles dead letters written (spans as Write returned them), as store.Writer.Settle
// does.
func (d *DeadLetter) Settle(spans []store.Span) {
	if len(spans) == 0 {
		return
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.w != nil {
		d.w.Settle(own(spans))
	}
}

// Roll finalizes the dead-letter file, if one is open, and returns the files finished, named
// relative to the sink's root.
func (d *DeadLetter) Roll() ([]string, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.w == nil {
		return nil, nil
	}
	done, err := d.w.Roll()
	return prefixed(done), err
}

// Close finalizes the dead-letter file and releases it, and returns the files finished; a
// later Write opens a new one.
func (d *DeadLetter) Close() ([]string, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.w == nil {
		return nil, nil
	}
	done, err := d.w.Close()
	d.w = nil
	return prefixed(done), err
}

// clip shortens s to at most n bytes, at a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
