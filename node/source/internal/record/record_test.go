package record

import (
	"bytes"
	"io"
	"regexp"
	"slices"
	"testing"

	"github.com/flumego/flume/node/event"
)

// chunkReader returns at most n bytes per Read, as a pipe may.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

// readAll frames data read in chunks of n bytes, the remainder included.
func readAll(t testing.TB, b *Buffer, data []byte, n int) []string {
	t.Helper()
	r := &chunkReader{data: data, n: max(n, 1)}
	var out []string
	for {
		for {
			rec, ok := b.Next()
			if !ok {
				break
			}
			out = append(out, string(rec))
		}
		if _, err := b.Fill(r.Read); err == io.EOF {
			break
		}
	}
	b.Settle()
	for {
		rec, ok := b.Next()
		if !ok {
			break
		}
		out = append(out, string(rec))
	}
	if rec, ok := b.Remainder(); ok {
		out = append(out, string(rec))
	}
	return out
}

func TestBufferFramesDelimitedRecords(t *testing.T) {
	tests := []struct {
		name, re string
		mode     Mode
		in       string
		max      int
		policy   event.OversizePolicy
		want     []string
	}{
		{"lines", "", Exclude, "a\nbb\n\nccc", 100, event.Truncate, []string{"a", "bb", "", "ccc"}},
		{"truncate", "", Exclude, "abcdefgh\nxy\n", 4, event.Truncate, []string{"abcd", "xy"}},
		{"reject", "", Exclude, "abcdefgh\nxy\nabcdefgh", 4, event.Reject, []string{"xy"}},
		{"exclude", ";;", Exclude, "a;;b;;;;c", 100, event.Truncate, []string{"a", "b", "", "c"}},
		{"prev", ";+", Prev, "a;b;;c", 100, event.Truncate, []string{"a;", "b;;", "c"}},
		{"next", "#", Next, "#a#b#c", 100, event.Truncate, []string{"#a", "#b", "#c"}},
		{"next head", "#", Next, "h#a#b", 100, event.Truncate, []string{"h", "#a", "#b"}},
		{"next oversize", "#", Next, "#aaaaaaaaaa#b", 4, event.Truncate, []string{"#aaa", "#b"}},
		{"next oversize at boundary", "#", Next, "#aaa#b", 3, event.Truncate, []string{"#aa", "#b"}},
		{"empty matches skipped", "x*", Exclude, "axxbxc", 100, event.Truncate, []string{"a", "b", "c"}},
		{"split", "", Exclude, "abcdefghij\nxy\nabcdefg", 4, event.Split, []string{"abcd", "efgh", "ij", "xy", "abcd", "efg"}},
		{"split at the limit", "", Exclude, "abcdefgh\nabcd\n", 4, event.Split, []string{"abcd", "efgh", "abcd"}},
		{"split remainder", "", Exclude, "abcdefghij", 4, event.Split, []string{"abcd", "efgh", "ij"}},
		{"split next", "#", Next, "#aaaaaaaaaa#b", 4, event.Split, []string{"#aaa", "aaaa", "aaa", "#b"}},
		{"split prev", ";", Prev, "aaaaaa;b;", 4, event.Split, []string{"aaaa", "aa;", "b;"}},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 2, 3, 7, 1 << 20} {
			t.Run(tt.name, func(t *testing.T) {
				fr := Lines()
				if tt.re != "" {
					re := regexp.MustCompile(tt.re)
					_, fixed := re.LiteralPrefix()
					fr = Framer{re: re, mode: tt.mode, fixed: fixed}
				}
				got := readAll(t, NewBuffer(fr, tt.max, tt.policy), []byte(tt.in), chunk)
				if !slices.Equal(got, tt.want) {
					t.Fatalf("chunks of %d: got %q, want %q", chunk, got, tt.want)
				}
			})
		}
	}
}

// TestBufferCountsOversizedRecords counts each oversized record once, whatever the policy and
// however many pieces a split one makes.
func TestBufferCountsOversizedRecords(t *testing.T) {
	in := []byte("abcdefghijkl\nxy\nabcdefgh\nabcd\nabcde")
	for _, p := range []event.OversizePolicy{event.Truncate, event.Reject, event.Split} {
		b := NewBuffer(Lines(), 4, p)
		readAll(t, b, in, 3)
		got := map[event.OversizePolicy]int64{event.Truncate: b.Truncated, event.Reject: b.Rejected, event.Split: b.Split}
		for q, n := range got {
			want := int64(0)
			if q == p {
				want = 3
			}
			if n != want {
				t.Errorf("%s: %d records counted as %s, want %d", p, n, q, want)
			}
		}
	}
}

func TestDelimitedRefusesEmptyMatches(t *testing.T) {
	if _, err := Delimited(regexp.MustCompile("a*"), Exclude); err == nil {
		t.Fatal("a regex matching the empty string was accepted")
	}
	if _, err := Delimited(regexp.MustCompile("a+"), Prev); err != nil {
		t.Fatal(err)
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{Exclude, Prev, Next} {
		if got, err := ParseMode(m.String()); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("both"); err == nil {
		t.Error("ParseMode(both) succeeded")
	}
}

func TestBatchReusesEventsAndKeepsAttributes(t *testing.T) {
	b := NewBatch(3, "h1", event.Attr{Key: "k", Value: []byte("v")})
	for round := range 3 {
		b.Reset()
		for i := range 3 {
			b.Add([]byte{byte('a' + i)}, int64(round))
		}
		if !b.Full() || b.Len() != 3 || b.Bytes() != 3 {
			t.Fatalf("round %d: len %d", round, b.Len())
		}
		for i, e := range b.Events() {
			v, ok := e.Attr("k")
			if !ok || string(v) != "v" || e.NumAttrs() != 1 || e.Host != "h1" || e.Priority != event.INFO ||
				e.Timestamp != int64(round) || string(e.Body) != string(rune('a'+i)) {
				t.Fatalf("round %d event %d = %+v", round, i, e)
			}
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		b.Reset()
		for !b.Full() {
			b.Add(nil, 1)
		}
	})
	if allocs != 0 {
		t.Errorf("a round allocates %.1f times", allocs)
	}
}

// FuzzLineBuffer checks line framing against bytes.Split for any input read in any chunks.
func FuzzLineBuffer(f *testing.F) {
	f.Add([]byte("a\nb\n"), 1, 4)
	f.Add([]byte("abcdefgh\n\nxyz"), 3, 2)
	f.Add([]byte("\n\n\n"), 2, 1)
	f.Fuzz(func(t *testing.T, data []byte, chunk, limit int) {
		chunk = 1 + abs(chunk)%64
		limit = 1 + abs(limit)%32
		var want []string
		parts := bytes.Split(data, []byte{'\n'})
		if len(parts[len(parts)-1]) == 0 {
			parts = parts[:len(parts)-1]
		}
		for _, p := range parts {
			if len(p) > limit {
				p = p[:limit]
			}
			want = append(want, string(p))
		}
		got := readAll(t, NewBuffer(Lines(), limit, event.Truncate), data, chunk)
		if !slices.Equal(got, want) {
			t.Fatalf("chunk %d limit %d: got %q, want %q", chunk, limit, got, want)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		if n == -n { // the most negative int
			return 0
		}
		return -n
	}
	return n
}
