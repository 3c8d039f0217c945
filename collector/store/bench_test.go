package store

import (
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
)

// benchBatch returns 1000 events of 180 bytes, one second apart from t0 onwards within one
// hour, from two hosts.
func benchBatch() []*event.Event {
	evs := make([]*event.Event, 1000)
	body := strings.Repeat("x", 179)
	for i := range evs {
		evs[i] = ev(body+string(rune('a'+i%26)), t0.Truncate(time.Hour).Add(time.Duration(i)*time.Second))
	}
	return evs
}

func benchWrite(b *testing.B, tpl, compress string) {
	o := testOptions(b.TempDir(), tpl)
	o.Compress = compress
	w := openWriter(b, o)
	evs := benchBatch()
	b.SetBytes(int64(len(evs) * 180))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(evs); err != nil {
			b.Fatal(err)
		}
		if i%64 == 63 {
			b.StopTimer()
			if _, err := w.Roll(); err != nil { // keep the files, and the disk use, small
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
}

// BenchmarkWrite writes batches of 1000 events of 180 bytes in the raw format, without fsync.
func BenchmarkWrite(b *testing.B) {
	b.Run("hourly", func(b *testing.B) { benchWrite(b, "%Y-%m-%d/%H00/web-", CompressNone) })
	b.Run("host", func(b *testing.B) { benchWrite(b, "%Y-%m-%d/%{host}-", CompressNone) })
	b.Run("gzip", func(b *testing.B) { benchWrite(b, "%Y-%m-%d/%H00/web-", CompressGzip) })
	b.Run("zstd", func(b *testing.B) { benchWrite(b, "%Y-%m-%d/%H00/web-", CompressZstd) })
}

// Write allocates per call, never per event: for a template of dates, and for one of event
// data expanded into a reused buffer.
func TestWriteAllocatesPerCallOnly(t *testing.T) {
	for _, tc := range []struct{ tpl, format string }{
		{"%Y-%m-%d/%H00/web-", ""}, {"%{host}/%Y/web-", ""}, {"web-", ""}, {"%Y/web-", "raw"},
	} {
		t.Run(tc.tpl+tc.format, func(t *testing.T) {
			o := testOptions(t.TempDir(), tc.tpl)
			if tc.format != "" {
				o.Format = buildFormat(t, tc.format)
			}
			w := openWriter(t, o)
			evs := benchBatch()
			mustWrite(t, w, evs) // open the file, size the buffers
			allocs := testing.AllocsPerRun(20, func() {
				if _, err := w.Write(evs); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > 4 {
				t.Errorf("Write of %d events: %.0f allocations, want at most 4", len(evs), allocs)
			}
		})
	}
}
