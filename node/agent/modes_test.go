package agent

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/internal/testwait"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// TestEveryModeDeliversWhenTheSourceEndsAtOnce appends two events and closes the sink at once,
// as a flow whose source ended right away does, with a collector up: every mode delivers both
// before Close returns, drops nothing and leaves nothing in its log.
func TestEveryModeDeliversWhenTheSourceEndsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		sink string
		dir  func(*testing.T) string
	}{
		{sink: "agentBESink"},
		{sink: "agentBEChain"},
		{sink: "agentDFOSink"},
		{sink: "agentDFOChain"},
		{sink: "agentE2ESink"},
	} {
		t.Run(tc.sink, func(t *testing.T) {
			addr := freeAddr(t)
			st := newStore()
			startCollector(t, st, addr)
			bc := newBC(t, nil)
			bc.Commits = newCommits(t)
			text := fmt.Sprintf("%s(%q)", tc.sink, addr)
			if !strings.HasSuffix(tc.sink, "Chain") {
				host, port, _ := strings.Cut(addr, ":")
				text = fmt.Sprintf("%s(%q, %s)", tc.sink, host, port)
			}
			s := buildSink(t, bc, text)
			openSink(t, s)
			all := bodies("end", 0, 2)
			appendAll(t, s, all, 2)
			if err := closeSink(s, 10*time.Second); err != nil {
				t.Fatalf("close: %v", err)
			}
			st.checkOnce(t, all)
			if n := metric(bc, "agent.events_dropped"); n != 0 {
				t.Errorf("events_dropped = %d, want 0", n)
			}
			if strings.HasPrefix(tc.sink, "agentDFO") {
				if u := unreleased(t, dfoDir(bc)); len(u) != 0 {
					t.Errorf("the spool holds %d chunks after close, want none", len(u))
				}
			}
		})
	}
}

// TestCollectorRetryAnswersBackOff: a collector that answers RETRY to everything (its disk is
// full) gets the chunks again after pauses that grow, not every 250 ms; the sink says why in
// its condition; once the collector takes chunks again every event arrives once.
func TestCollectorRetryAnswersBackOff(t *testing.T) {
	addr := freeAddr(t)
	st := newStore()
	st.setScript(func(uint64, int) flumev1.AckStatus { return flumev1.AckStatus_ACK_STATUS_RETRY })
	startCollector(t, st, addr)
	bc := newBC(t, nil) // the default backoff: pauses grow from 250 ms to a minute
	s := buildSink(t, bc, fmt.Sprintf("agentDFOChain(%q, batchCount=10)", addr)).(*Sink)
	openSink(t, s)
	all := bodies("full", 0, 100)
	appendAll(t, s, all, 10)
	testwait.Until(t, 5*time.Second, "the condition to say the collector cannot take chunks", func() bool {
		return strings.Contains(s.Condition(), "collector cannot take chunks now")
	})
	// Pauses of 250 ms, 500 ms, 1 s (each up to a fifth shorter): at most four rounds of the
	// ten chunks in two and a half seconds; a fixed 250 ms pause would make eleven.
	<-time.After(2500 * time.Millisecond) // the window the arrivals are counted over
	arrivals := 0
	for seq := uint64(1); seq <= 200; seq++ {
		a, _ := st.chunk(seq)
		arrivals += a
	}
	if arrivals > 50 {
		t.Errorf("%d chunk arrivals in two and a half seconds of RETRY answers: the pauses do not grow", arrivals)
	}
	st.setScript(nil)
	testwait.Until(t, 10*time.Second, "every event once the collector takes chunks", func() bool { return st.total() >= len(all) })
	if err := closeSink(s, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	st.checkOnce(t, all)
	if c := s.Condition(); c != "" {
		t.Errorf("condition after the collector recovered: %q, want none", c)
	}
}
