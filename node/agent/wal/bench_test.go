package wal

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/flumego/flume/node/metrics"
)

// benchPipeline appends b.N chunks of size bytes while a second goroutine, standing for the
// acknowledgements coming back, waits for each chunk in order and releases them in groups, so
// the log stays small and the run measures steady state: group commit, rotation and deletion.
func benchPipeline(b *testing.B, opts Options, size int) {
	opts.Dir = b.TempDir()
	l, err := Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	// The same bytes go in every chunk: the log only reads Data, so sharing it is safe here.
	data := chunkData(1, size)
	pend := make(chan Pending, 256)
	done := make(chan error, 1)
	go func() {
		var seqs []uint64
		seq := uint64(0)
		for p := range pend {
			seq++
			<-p.Done()
			if err := p.Err(); err != nil {
				done <- err
				return
			}
			if seqs = append(seqs, seq); len(seqs) == 32 {
				if err := l.Release(seqs...); err != nil {
					done <- err
					return
				}
				seqs = seqs[:0]
			}
		}
		done <- l.Release(seqs...)
	}()
	fsyncs := opts.Metrics.Counter("wal_fsyncs")
	ctx := context.Background()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p, err := l.Append(ctx, Chunk{Seq: uint64(i + 1), Count: 1000, Data: data})
		if err != nil {
			b.Fatal(err)
		}
		pend <- p
	}
	close(pend)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
	b.ReportMetric(float64(fsyncs.Load())/float64(b.N), "fsyncs/chunk")
}

// BenchmarkAppend appends 180 KB chunks (1000 events of ~180 bytes), the agent's E2E unit.
// chunks/s times 1000 is the events/s the WAL allows.
func BenchmarkAppend(b *testing.B) {
	for _, tt := range []struct {
		name   string
		noSync bool
	}{{"180KB/fsync", false}, {"180KB/nosync", true}} {
		b.Run(tt.name, func(b *testing.B) {
			benchPipeline(b, Options{NoSync: tt.noSync, Metrics: metrics.NewRegistry()}, 180<<10)
		})
	}
}

// BenchmarkReleaseChurn appends small chunks into small segments and releases them as they
// become durable: the cost of release records, carries and segment deletion.
func BenchmarkReleaseChurn(b *testing.B) {
	for _, tt := range []struct {
		name   string
		noSync bool
	}{{"1KB/fsync", false}, {"1KB/nosync", true}} {
		b.Run(tt.name, func(b *testing.B) {
			benchPipeline(b, Options{NoSync: tt.noSync, SegmentBytes: 256 << 10,
				Metrics: metrics.NewRegistry()}, 1<<10)
		})
	}
}

// BenchmarkSyncCall compares fdatasync, which the log uses, with fsync after a 180 KB write.
func BenchmarkSyncCall(b *testing.B) {
	for _, tt := range []struct {
		name string
		sync func(*os.File) error
	}{{"fdatasync", datasync}, {"fsync", (*os.File).Sync}} {
		b.Run(tt.name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "f"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 180<<10)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
				if err := tt.sync(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
