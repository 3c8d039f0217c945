package bzip2

import (
	"bytes"
	"testing"

	"github.com/flumego/flume/internal/hadoop/internal/testgen"
)

// BenchmarkEncoder reports MB/s of input at level 9 on 2 MB inputs (three blocks).
func BenchmarkEncoder(b *testing.B) {
	const size = 2 << 20
	inputs := []struct {
		name string
		data []byte
	}{
		{"logtext", testgen.LogText(size, 1)},
		{"random", testgen.Random(size, 1)},
		{"identical-lines", bytes.Repeat([]byte("2026-12-07 10:00:00 host1 INFO the same line\n"), size/45)},
		{"same-byte", bytes.Repeat([]byte{'z'}, size)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			e, err := NewEncoder(DefaultLevel)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(in.data)))
			var out []byte
			for b.Loop() {
				out = e.AppendStream(out[:0], in.data)
			}
			b.ReportMetric(float64(len(out))/float64(len(in.data)), "ratio")
		})
	}
}
