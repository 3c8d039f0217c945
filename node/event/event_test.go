package event

import (
	"errors"
	"testing"
)

func TestAttributesAreWriteOnce(t *testing.T) {
	e := New([]byte("line"))
	if err := e.SetAttr("a", []byte("1")); err != nil {
		t.Fatalf("first set: %v", err)
	}
	err := e.SetAttr("a", []byte("2"))
	if !errors.Is(err, ErrAttrExists) {
		t.Fatalf("second set: got %v, want ErrAttrExists", err)
	}
	if v, _ := e.Attr("a"); string(v) != "1" {
		t.Fatalf("attribute a = %q after refused rewrite, want 1", v)
	}
	e.DeleteAttr("a")
	if _, ok := e.Attr("a"); ok {
		t.Fatal("attribute a still set after delete")
	}
	if err := e.SetAttr("a", []byte("3")); err != nil {
		t.Fatalf("set after delete: %v", err)
	}
}

func TestDeriveDoesNotTouchOriginal(t *testing.T) {
	e := New([]byte("x"))
	_ = e.SetAttr("a", []byte("1"))
	d := e.Derive()
	_ = d.SetAttr("b", []byte("2"))
	d.DeleteAttr("a")
	d.Body = []byte("y")
	if e.NumAttrs() != 1 || string(e.Body) != "x" {
		t.Fatalf("original changed: attrs=%d body=%q", e.NumAttrs(), e.Body)
	}
	if _, ok := e.Attr("b"); ok {
		t.Fatal("attribute set on a derived event leaked into the original")
	}
}

func TestCloneSharesNoMemory(t *testing.T) {
	body := []byte("body")
	val := []byte("v")
	e := &Event{Body: body, Timestamp: 7, Priority: WARN, Host: "h"}
	_ = e.SetAttr("k", val)
	c := e.Clone()
	if !Equal(e, c) {
		t.Fatal("clone differs from original")
	}
	body[0] = 'X'
	val[0] = 'X'
	if string(c.Body) != "body" {
		t.Fatalf("clone body = %q, changed with the original", c.Body)
	}
	if v, _ := c.Attr("k"); string(v) != "v" {
		t.Fatalf("clone attr = %q, changed with the original", v)
	}
}

func TestLimit(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		max      int
		policy   OversizePolicy
		wantOver bool
		wantErr  bool
		wantBody string
	}{
		{"under", "abc", 5, Truncate, false, false, "abc"},
		{"exact", "abcde", 5, Reject, false, false, "abcde"},
		{"truncated", "abcdef", 5, Truncate, true, false, "abcde"},
		{"rejected", "abcdef", 5, Reject, true, true, "abcdef"},
		{"no limit", "abcdef", 0, Reject, false, false, "abcdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Event{Body: []byte(tt.body)}
			over, err := e.Limit(tt.max, tt.policy)
			if over != tt.wantOver || (err != nil) != tt.wantErr || string(e.Body) != tt.wantBody {
				t.Fatalf("Limit = (%v, %v), body %q; want (%v, err=%v), body %q",
					over, err, e.Body, tt.wantOver, tt.wantErr, tt.wantBody)
			}
			if tt.wantErr && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v does not wrap ErrTooLarge", err)
			}
		})
	}
}

func TestParsePriority(t *testing.T) {
	for p := FATAL; p <= TRACE; p++ {
		got, err := ParsePriority(p.String())
		if err != nil || got != p {
			t.Fatalf("ParsePriority(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := ParsePriority("loud"); err == nil {
		t.Fatal("ParsePriority(loud) succeeded")
	}
	if got, _ := ParsePriority("warn"); got != WARN {
		t.Fatalf("ParsePriority(warn) = %v", got)
	}
}

func TestArenaDerive(t *testing.T) {
	var a Arena
	src := make([]*Event, 300)
	for i := range src {
		src[i] = New([]byte("x"))
		_ = src[i].SetAttr("a", []byte("1"))
	}
	for round := range 3 {
		a.Reset()
		out := make([]*Event, len(src))
		for i, e := range src {
			out[i] = a.Derive(e)
			for j := range 4 { // past the headroom: must not spill into a neighbour
				if err := out[i].SetAttr(string(rune('b'+j)), []byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i, d := range out {
			if d.NumAttrs() != 5 {
				t.Fatalf("round %d: event %d has %d attributes, want 5", round, i, d.NumAttrs())
			}
			if v, _ := d.Attr("b"); v[0] != byte(i) {
				t.Fatalf("round %d: event %d attribute b = %v: overwritten by a neighbour", round, i, v)
			}
			if src[i].NumAttrs() != 1 {
				t.Fatalf("source event %d changed", i)
			}
		}
	}
}

func BenchmarkArenaDerive(b *testing.B) {
	var a Arena
	e := New([]byte("body"))
	_ = e.SetAttr("k", []byte("v"))
	b.ReportAllocs()
	for b.Loop() {
		a.Reset()
		for range 100 {
			d := a.Derive(e)
			_ = d.SetAttr("x", nil)
		}
	}
}
