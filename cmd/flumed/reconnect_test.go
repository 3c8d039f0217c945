package main

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
)

// majorityOutage is how long the masters stay down: long enough for waits between attempts
// that double without a short ceiling to be long when the masters come back. A node's own
// waits doubling from 1 s are then in a 16 s wait (1, 2, 4, 8, 16 s), and gRPC's waits between
// connection attempts (1 s growing by 1.6 times, up to 2 minutes) in a wait of about 10 s.
const majorityOutage = 20 * time.Second

// TestNodeReportsWithinTwoSecondsOfTheMajoritysReturn kills the leader and another of 3 real
// masters (or all 3), keeps them down for a while, and restarts them: once they have elected a
// leader, the node must have reported to it within 2 s, its logical node ACTIVE in status.
// Meanwhile status shows the node as unknown since the leader change, never HELLO or LOST.
// With all 3 down, the new leader is always a master the node could not reach for the whole
// outage.
func TestNodeReportsWithinTwoSecondsOfTheMajoritysReturn(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real master and node processes")
	}
	bin := buildBinaries(t)
	for _, killed := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d of 3 masters down", killed), func(t *testing.T) {
			t.Parallel()
			nodeReportsAfterOutage(t, bin, killed)
		})
	}
}

func nodeReportsAfterOutage(t *testing.T, bin string, down int) {
	e := newEnsemble(t, bin, 3)
	nodeLog := e.startNode("node1")
	e.mustCtl(0, "config", "node1", "asciisynth(0, 10)", "{ delay(100) => null }")
	// Reported to the leader: ACTIVE, with a time last seen.
	reported := regexp.MustCompile(`(?m)^node1\s+node1\s+\S+\s+ACTIVE\s+\d+\s+[0-9.]+[mµn]?s ago`)
	status := func(i int) string {
		out, err := e.ctl(i, "--timeout", "2s", "status")
		if err != nil {
			return ""
		}
		return out
	}
	plugintest.Eventually(t, 20*time.Second, func() bool { return reported.MatchString(status(0)) },
		func() string { return "node1 never ACTIVE:\n" + status(0) + "\n--- node log:\n" + nodeLog.String() })

	var leader int
	plugintest.Eventually(t, 10*time.Second, func() bool { leader, _ = e.leader(0); return leader >= 0 },
		func() string { return "no leader" })
	var killed []int
	for i := range down {
		killed = append(killed, (leader+i)%3)
	}
	for _, k := range killed {
		e.kill(k)
	}
	// The outage is the fault under test, of a set length: nothing is awaited here.
	pace(time.Now().Add(majorityOutage))
	for _, k := range killed {
		e.start(k)
	}
	restarted := time.Now()
	var elected time.Time
	plugintest.Eventually(t, 20*time.Second, func() bool {
		for i := range 3 {
			if l, _ := e.leader(i); l >= 0 {
				elected = time.Now()
				return true
			}
		}
		return false
	}, func() string { return "the masters elected no leader after their restart" })

	var out string
	plugintest.Eventually(t, 20*time.Second, func() bool {
		out = status(killed[0])
		if m := regexp.MustCompile(`(?m)^node1\s.*$`).FindString(out); m != "" &&
			!regexp.MustCompile(`\s(ACTIVE|UNKNOWN)\s`).MatchString(m) {
			t.Fatalf("after the leader change status shows %q, want UNKNOWN until the node reports, then ACTIVE", m)
		}
		return reported.MatchString(out)
	}, func() string {
		return "node1 never reported to the new leader:\n" + out + "\n--- node log:\n" + nodeLog.String()
	})
	took := time.Since(elected)
	l, _ := e.leader(killed[0])
	t.Logf("masters %v down for %v; master %d leads, known %v after their restart; node1 reported to it %v later",
		killed, majorityOutage, l, elected.Sub(restarted).Round(10*time.Millisecond), took.Round(10*time.Millisecond))
	if took > 2*time.Second {
		t.Fatalf("node1 reported to the new leader %v after it was elected, want within 2 s\n--- node log:\n%s",
			took.Round(10*time.Millisecond), nodeLog.String())
	}
}
