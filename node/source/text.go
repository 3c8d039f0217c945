package source

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/source/internal/record"
	"github.com/flumego/flume/node/spec"
)

// textSig documents the optional format as the classic user guide did. Classic's builder in
// fact refused a second argument; we take it when it names the line format a text file is
// read in (raw, or default which is raw) and refuse any other, so a spec never silently means
// something else.
var textSig = spec.Signature{Name: "text", Params: []spec.Param{
	{Name: "file", Kind: spec.ParamString, Required: true},
	{Name: "format", Kind: spec.ParamFunc},
	record.OversizeParam,
}}

// textSource is `text("file"[, format])`: one event per '\n'-terminated line of the file, then
// io.EOF. A last line without '\n' is an event too. A '\r' before the '\n' is dropped, as
// classic's readLine did.
//
// Close ends the input where it was read to: Next then returns the lines still buffered, and
// the line the read buffer ends in as it stands (as tail does at Close), then io.EOF.
type textSource struct {
	path   string
	host   string
	max    int
	policy event.OversizePolicy
	ctr    record.Counters

	f     *os.File
	buf   *record.Buffer
	batch *record.Batch
	eof   bool
	log   *slog.Logger

	id      record.FileID // the file read, once open
	readOff int64         // bytes read from the file so far
	resume  *textPosition
}

// textPosition is where a text source stopped, as Position gives it.
type textPosition struct {
	Path string `json:"path"`
	Dev  uint64 `json:"dev"`
	Ino  uint64 `json:"ino"`
	Off  int64  `json:"off"`
}

// Position returns the offset after the last line Next returned, with the file's identity.
func (s *textSource) Position() []byte {
	off := s.readOff
	if s.buf != nil {
		off -= int64(s.buf.Buffered())
	}
	b, _ := json.Marshal(textPosition{Path: s.path, Dev: s.id.Dev, Ino: s.id.Ino, Off: off})
	return b
}

// Resume starts reading at a position of an earlier run, if it is this file's.
func (s *textSource) Resume(pos []byte) error {
	var p textPosition
	if err := json.Unmarshal(pos, &p); err != nil {
		s.log.Warn("position of an earlier run does not decode; reading from the start", "err", err)
		return nil
	}
	s.resume = &p
	return nil
}

func buildText(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	path := args.String("file", "")
	if path == "" {
		return nil, args.Errorf("file", "empty file name")
	}
	if err := checkLineFormat(args); err != nil {
		return nil, err
	}
	policy, err := record.Oversize(args)
	if err != nil {
		return nil, err
	}
	return &textSource{
		path:   path,
		host:   event.Hostname(),
		max:    bc.MaxEventSize(),
		policy: policy,
		ctr:    record.NewCounters(bc.Counters().Sub("text")),
		log:    bc.Log(),
	}, nil
}

// checkLineFormat accepts a format argument only if it names the raw line format.
func checkLineFormat(args *spec.Args) error {
	f := args.Func("format")
	if f == nil {
		return nil
	}
	if (f.Name == "raw" || f.Name == "default") && len(f.Args) == 0 && len(f.Kwargs) == 0 {
		return nil
	}
	return args.Errorf("format", "%s reads lines; input format %q is not supported (only raw)", args.Name(), f.Name)
}

// Open opens the file. A missing or unreadable file is an error naming it.
func (s *textSource) Open(context.Context) error {
	if s.f != nil {
		return nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("text source: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("text source: stat %q: %w", s.path, err)
	}
	if fi.IsDir() {
		f.Close()
		return fmt.Errorf("text source: %q is a directory", s.path)
	}
	id, off := record.IdentityOf(fi), int64(0)
	if p := s.resume; p != nil {
		switch {
		case p.Path != s.path || p.Dev != id.Dev || p.Ino != id.Ino:
			s.log.Info("the file is not the one of the saved position; reading from the start", "file", s.path)
		case fi.Size() < p.Off:
			s.log.Warn("the file is shorter than the saved position; reading from the start", "file", s.path, "position", p.Off)
		default:
			if _, err := f.Seek(p.Off, io.SeekStart); err != nil {
				f.Close() // the position stays for a retry
				return fmt.Errorf("text source: seek %q to %d: %w", s.path, p.Off, err)
			}
			off = p.Off
		}
		s.resume = nil
	}
	s.f, s.id, s.readOff = f, id, off
	s.buf = record.NewBuffer(record.Lines(), s.max, s.policy)
	s.batch = record.NewBatch(record.MaxBatch, s.host)
	s.eof = false
	return nil
}

// Next returns the lines that are buffered, reading more only when none is. It returns
// ctx.Err() as soon as ctx is done, keeping what is buffered.
func (s *textSource) Next(ctx context.Context) ([]*event.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.buf == nil {
		return nil, ErrClosed
	}
	now := time.Now().UnixNano()
	b := s.batch
	b.Reset()
	for !b.Full() {
		if rec, ok := s.buf.Next(); ok {
			b.Add(trimCR(rec), now)
			continue
		}
		if b.Len() > 0 {
			break // reading more would overwrite the lines of this batch
		}
		if s.eof || s.f == nil {
			// At the end of the file the unterminated last line is a record; closed in the
			// middle of the file, what the buffer ends in is a fragment, and is not delivered.
			if rec, ok := s.buf.Remainder(); ok && s.eof {
				b.Add(trimCR(rec), now)
			}
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err // a long line without '\n' takes many reads
		}
		n, err := s.buf.Fill(s.f.Read)
		s.readOff += int64(n)
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			return nil, fmt.Errorf("read %q: %w", s.path, err)
		}
	}
	s.ctr.Count(b, s.buf)
	if b.Len() == 0 {
		return nil, io.EOF
	}
	return b.Events(), nil
}

// Close closes the file; what is buffered is all Next returns from now on. It is safe without
// Open and twice.
func (s *textSource) Close(context.Context) error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("close %q: %w", s.path, err)
	}
	return nil
}

// trimCR drops one trailing '\r' (a CRLF line ending).
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
