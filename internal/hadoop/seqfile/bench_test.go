package seqfile_test

import (
	"io"
	"testing"

	"github.com/flumego/flume/internal/hadoop/internal/testgen"
	"github.com/flumego/flume/internal/hadoop/seqfile"
	"github.com/flumego/flume/node/event"
)

// BenchmarkFormatEncode reports MB/s of event bodies through the seqfile encoder, 1000 log
// lines per Flush, as a collector writes them.
func BenchmarkFormatEncode(b *testing.B) {
	text := testgen.LogText(1000*120, 1)
	events := make([]*event.Event, 1000)
	var size int64
	for i := range events {
		body := text[i*120 : i*120+120]
		events[i] = &event.Event{Body: body, Timestamp: 1_700_000_000_000_000_000 + int64(i), Priority: event.INFO, Host: "web-1"}
		size += int64(len(body))
	}
	for _, tc := range []struct {
		name, codec string
		block       bool
	}{
		{"none", "", false},
		{"record-deflate", "deflate", false},
		{"block-deflate", "deflate", true},
		{"block-gzip", "gzip", true},
		{"block-bzip2", "bzip2", true},
		{"block-zstd", "zstd", true},
		{"block-snappy", "snappy", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := seqfile.NewFormat(tc.codec, tc.block)
			if err != nil {
				b.Fatal(err)
			}
			enc, err := f.NewEncoder(io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			for b.Loop() {
				for _, e := range events {
					if err := enc.Encode(e); err != nil {
						b.Fatal(err)
					}
				}
				if err := enc.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
