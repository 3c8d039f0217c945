package plugintest

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
)

type twoBatches struct{ n int }

func (s *twoBatches) Next(context.Context) ([]*event.Event, error) {
	s.n++
	if s.n > 2 {
		return nil, io.EOF
	}
	return []*event.Event{{Body: []byte{byte('a' + s.n)}}}, nil
}

func TestDrainAndCapture(t *testing.T) {
	got := Drain(t, &twoBatches{}, time.Second)
	if !slices.Equal(Bodies(got), []string{"b", "c"}) {
		t.Fatalf("drained %q", Bodies(got))
	}
	c := &Capture{FailAppends: 1}
	ctx := context.Background()
	if err := c.Append(ctx, got); err == nil {
		t.Fatal("first append should fail")
	}
	if err := c.Append(ctx, got); err != nil {
		t.Fatal(err)
	}
	got[0].Body[0] = 'x' // the capture keeps clones
	if !slices.Equal(Bodies(c.Events()), []string{"b", "c"}) {
		t.Fatalf("captured %q", Bodies(c.Events()))
	}
	if _, appends, _ := c.Counts(); appends != 2 {
		t.Fatalf("appends = %d", appends)
	}
}

func TestEventuallyAndBuffer(t *testing.T) {
	var b Buffer
	go func() { _, _ = b.Write([]byte("done")) }()
	Eventually(t, 5*time.Second, func() bool { return b.String() == "done" }, nil)
}

func TestCaptureFailsAsManyOpensAsItIsTold(t *testing.T) {
	tests := []struct {
		failOpens int
		want      []bool // whether each Open succeeds
	}{
		{0, []bool{true, true}},
		{2, []bool{false, false, true, true}},
		{-1, []bool{false, false, false}},
	}
	for _, tt := range tests {
		c := &Capture{FailOpens: tt.failOpens}
		var got []bool
		for range tt.want {
			got = append(got, c.Open(context.Background()) == nil)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("FailOpens %d: opens succeeded %v, want %v", tt.failOpens, got, tt.want)
		}
	}
}
