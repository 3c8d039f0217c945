package syslog

import (
	"slices"
	"strconv"
	"testing"

	"github.com/flumego/flume/node/event"
)

// frames feeds input to a new framer in reads of chunk bytes, then ends the stream, and
// returns the frames and the oversize counts.
func frames(input string, chunk, maxSize int, policy event.OversizePolicy) (out []string, truncated, rejected int64) {
	f := newFramer(maxSize, policy)
	for len(input) > 0 {
		n := copy(f.space()[:min(chunk, len(f.space()))], input)
		input = input[n:]
		f.wrote(n)
		for frame, ok := f.next(); ok; frame, ok = f.next() {
			out = append(out, string(frame))
		}
	}
	if frame, _, ok := f.remainder(); ok {
		out = append(out, string(frame))
	}
	truncated, rejected = f.takeCounts()
	return out, truncated, rejected
}

func TestFramerCutsBothFramings(t *testing.T) {
	tests := []struct {
		name, input string
		maxSize     int
		policy      event.OversizePolicy
		want        []string
		truncated   int64
		rejected    int64
	}{
		{name: "lines", input: "<13>a\n<13>b\n", want: []string{"<13>a", "<13>b"}},
		{name: "crlf", input: "<13>a\r\n<13>b\r\n", want: []string{"<13>a", "<13>b"}},
		{name: "blank lines skipped", input: "\n<13>a\n\n\r\n<13>b\n", want: []string{"<13>a", "<13>b"}},
		{name: "unterminated last line", input: "<13>a\n<13>b", want: []string{"<13>a", "<13>b"}},
		{name: "malformed line kept", input: "garbage\n<13>a\n", want: []string{"garbage", "<13>a"}},
		{name: "octets", input: "5 <13>a5 <13>b", want: []string{"<13>a", "<13>b"}},
		{name: "octets with newlines", input: "6 <13>a\n6 <13>b\n", want: []string{"<13>a", "<13>b"}},
		{name: "octets with crlf between", input: "5 <13>a\r\n5 <13>b", want: []string{"<13>a", "<13>b"}},
		{name: "octets keep inner newlines", input: "9 <13>a\nb\nc10 <13>x\r\ny\r\n", want: []string{"<13>a\nb\nc", "<13>x\r\ny"}},
		{name: "octets frame of a newline", input: "1 \n5 <13>a", want: []string{"<13>a"}},
		{name: "octets cut short at the end", input: "5 <13>a9 <13>b", want: []string{"<13>a", "<13>b"}},
		{name: "octets then a line", input: "5 <13>a<13>b\n5 <13>c", want: []string{"<13>a", "<13>b", "<13>c"}},
		{name: "octets garbled length", input: "5 <13>a5x<13>b\n5 <13>c", want: []string{"<13>a", "5x<13>b", "<13>c"}},
		{name: "octets too many digits", input: "12345678901 x\n5 <13>c", want: []string{"12345678901 x", "<13>c"}},
		{name: "line truncated", input: "<13>abcdefghij\n<13>b\n", maxSize: 8, want: []string{"<13>abcd", "<13>b"}, truncated: 1},
		{name: "line truncated at the end", input: "<13>b\n<13>abcdefghij", maxSize: 8, want: []string{"<13>b", "<13>abcd"}, truncated: 1},
		{name: "line rejected", input: "<13>abcdefghij\n<13>b\n", maxSize: 8, policy: event.Reject, want: []string{"<13>b"}, rejected: 1},
		{name: "line of exactly max", input: "<13>abcd\n", maxSize: 8, want: []string{"<13>abcd"}},
		{name: "octets truncated", input: "14 <13>abcdefghij5 <13>b", maxSize: 8, want: []string{"<13>abcd", "<13>b"}, truncated: 1},
		{name: "octets rejected", input: "14 <13>abcdefghij5 <13>b", maxSize: 8, policy: event.Reject, want: []string{"<13>b"}, rejected: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maxSize := tt.maxSize
			if maxSize == 0 {
				maxSize = 1000
			}
			// Every way of splitting the stream into reads gives the same frames.
			for chunk := 1; chunk <= len(tt.input); chunk++ {
				got, truncated, rejected := frames(tt.input, chunk, maxSize, tt.policy)
				if !slices.Equal(got, tt.want) || truncated != tt.truncated || rejected != tt.rejected {
					t.Fatalf("reads of %d: frames %q, %d truncated, %d rejected; want %q, %d, %d",
						chunk, got, truncated, rejected, tt.want, tt.truncated, tt.rejected)
				}
			}
		})
	}
}

// TestFramerHandlesFramesLongerThanItsBuffer checks oversized frames much longer than the
// read buffer, in both framings.
func TestFramerHandlesFramesLongerThanItsBuffer(t *testing.T) {
	big := make([]byte, 3*readSize)
	for i := range big {
		big[i] = 'x'
	}
	line := "<13>" + string(big)
	tests := []struct {
		name, input string
	}{
		{"line", line + "\n<13>next\n"},
		{"octets", strconv.Itoa(len(line)) + " " + line + "9 <13>next"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, truncated, _ := frames(tt.input, 4096, 100, event.Truncate)
			want := []string{line[:100], "<13>next"}
			if !slices.Equal(got, want) || truncated != 1 {
				t.Fatalf("frames %q (%d truncated), want %q", got, truncated, want)
			}
		})
	}
}
