package agent

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/node/agent/wal"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// TestLoggedChunksReadBackAsTheyWere writes chunks to a log as the outbox does (the payload
// from the request's memory, after a head) and as an older release did (one marshalled
// request), and reads both back: the same request, the same position.
func TestLoggedChunksReadBackAsTheyWere(t *testing.T) {
	l, err := wal.Open(wal.Options{Dir: t.TempDir(), MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := newMetrics(metrics.NewRegistry())
	o := newOutbox(endToEnd{}, &walLog{Log: l}, nil, slog.New(slog.DiscardHandler),
		outboxMetrics{backlog: m.backlog, inFlight: m.inFlight}, 4)
	req := &flumev1.AppendRequest{Seq: 1, Count: 3, Compression: flumev1.Compression_COMPRESSION_ZSTD,
		RawSize: 999, Payload: bytes.Repeat([]byte("x"), 10000), Crc32C: 42, Created: 1765000000123456789}
	p, err := o.logChunk(context.Background(), 1, req, []byte("offset=12"))
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	// An older release's record: the position, then the whole request marshalled.
	old := &flumev1.AppendRequest{Seq: 2, Count: 1, Payload: []byte("old"), Created: 5}
	data := binary.AppendUvarint(nil, 0)
	data, _ = proto.MarshalOptions{}.MarshalAppend(data, old)
	if p, err = l.Append(context.Background(), wal.Chunk{Seq: 2, Count: 1, Data: data}); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	for _, tc := range []struct {
		seq  uint64
		want *flumev1.AppendRequest
		pos  string
	}{{1, req, "offset=12"}, {2, old, ""}} {
		got, pos, err := (&walLog{Log: l}).request(tc.seq)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, tc.want) || string(pos) != tc.pos {
			t.Fatalf("chunk %d read back as %v at %q, want %v at %q", tc.seq, got, pos, tc.want, tc.pos)
		}
	}
}

// TestDecoratorReadsTheLogOfAnOlderRelease: an ackedWriteAhead log written by an older release
// holds the events alone in each record; a decorator opened on it delivers them first.
func TestDecoratorReadsTheLogOfAnOlderRelease(t *testing.T) {
	bc := newBC(t, decoProps)
	l, err := wal.Open(wal.Options{Dir: filepath.Join(bc.DataDir, "wal"), MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	old := bodies("old", 0, 5)
	var raw []byte
	for _, e := range batchOf(old) {
		raw = event.AppendBinary(raw, e)
	}
	p, err := l.Append(context.Background(), wal.Chunk{Seq: 1, Count: 5, Data: raw})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	next := &testSink{}
	d := newDeco(t, bc, "ackedWriteAhead(0)", next)
	openSink(t, d)
	fresh := bodies("new", 0, 5)
	appendAll(t, d, fresh, 5)
	if err := closeSink(d, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	next.checkOnce(t, append(old, fresh...), true)
}
