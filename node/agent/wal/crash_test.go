package wal

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flumego/flume/node/metrics"
)

const (
	crashChildEnv = "FLUME_WAL_CRASH_CHILD" // the log directory of the child writer
	crashSeedEnv  = "FLUME_WAL_CRASH_SEED"
)

// crashChild is the writer the crash test kills: it appends chunks of random sizes and prints
// "A seq" once a chunk is durable; it releases random sets of durable chunks, printing "P seq"
// before and "R seq" once Release has returned; until it is killed.
func crashChild(dir string) int {
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	r := rand.New(rand.NewPCG(seed, 7))
	l, err := Open(Options{Dir: dir, SegmentBytes: 64 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	type inflight struct {
		seq uint64
		p   Pending
	}
	var queue []inflight
	var acked []uint64
	say := func(kind byte, seq uint64) {
		os.Stdout.WriteString(string(kind) + " " + strconv.FormatUint(seq, 10) + "\n")
	}
	for seq := l.NextSeq(); ; seq++ {
		p, err := l.Append(context.Background(), testChunk(seq, 100+r.IntN(8000)))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		queue = append(queue, inflight{seq, p})
		for len(queue) > 0 && (isDone(queue[0].p) || len(queue) > 32) {
			<-queue[0].p.Done()
			if err := queue[0].p.Err(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			say('A', queue[0].seq)
			acked = append(acked, queue[0].seq)
			queue = queue[1:]
		}
		if len(acked) > 0 && r.IntN(8) == 0 {
			var rel, keep []uint64
			for _, s := range acked {
				if r.IntN(6) == 0 {
					keep = append(keep, s) // a hole: keeps its segment alive
				} else {
					rel = append(rel, s)
				}
			}
			var b strings.Builder
			for _, s := range rel {
				b.WriteString("P " + strconv.FormatUint(s, 10) + "\n")
			}
			os.Stdout.WriteString(b.String()) // released or not, if killed before "R"
			if err := l.Release(rel...); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			for _, s := range rel {
				say('R', s)
			}
			acked = keep
		}
	}
}

// TestKilledWriterLosesNoDurableChunkAndResendsNoReleasedOne runs the writer as a child
// process, SIGKILLs it at a random moment, reopens its log and checks that every chunk it
// reported durable is there, intact, unless it reported it released, in which case it is gone.
// The same log lives through every round, so recovery after recovery is covered too.
func TestKilledWriterLosesNoDurableChunkAndResendsNoReleasedOne(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	acked := map[uint64]bool{}    // durable, not released
	maybe := map[uint64]bool{}    // acked, release begun: either outcome is right
	released := map[uint64]bool{} // released
	var hi uint64
	for round := range 24 {
		seed := uint64(round*7919 + 1)
		r := rand.New(rand.NewPCG(seed, 3))
		killAfter := 20 + r.IntN(4000)
		lines := runAndKill(t, dir, seed, killAfter)
		for _, ln := range lines {
			kind, num, ok := strings.Cut(ln, " ")
			seq, err := strconv.ParseUint(num, 10, 64)
			if !ok || err != nil {
				t.Fatalf("round %d: bad line %q", round, ln)
			}
			hi = max(hi, seq)
			switch kind {
			case "A":
				acked[seq] = true
			case "P":
				maybe[seq] = true
			case "R":
				delete(acked, seq)
				delete(maybe, seq)
				released[seq] = true
			}
		}
		reg := metrics.NewRegistry()
		l, err := Open(Options{Dir: dir, Metrics: reg})
		if err != nil {
			t.Fatalf("round %d (seed %d): reopen after SIGKILL: %v", round, seed, err)
		}
		got := verifyAll(t, l)
		for s := range acked {
			_, ok := slices.BinarySearch(got, s)
			switch {
			case maybe[s] && !ok: // the release the kill interrupted was done
				delete(acked, s)
				released[s] = true
			case !ok:
				t.Errorf("round %d (seed %d): durable chunk %d lost", round, seed, s)
			}
		}
		clear(maybe)
		for _, s := range got {
			if released[s] {
				t.Errorf("round %d (seed %d): released chunk %d came back", round, seed, s)
			}
		}
		if cut := metric(reg, "wal_truncated_records"); cut > 1 {
			t.Errorf("round %d: recovery cut %d records; a kill tears one at most", round, cut)
		}
		if next := l.NextSeq(); next <= hi {
			t.Errorf("round %d: NextSeq %d does not clear seq %d already reported", round, next, hi)
		}
		t.Logf("round %d: killed after %d lines; %d unreleased, %d released so far, %d segments",
			round, len(lines), len(got), len(released), l.State().Segments)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			if keep := os.Getenv("WAL_KEEP"); keep != "" {
				exec.Command("cp", "-r", dir, keep).Run()
			}
			return
		}
	}
}

// runAndKill starts the child writer on dir and SIGKILLs it once it has printed killAfter lines;
// it returns the complete lines printed.
func runAndKill(t *testing.T, dir string, seed uint64, killAfter int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir,
		crashSeedEnv+"="+strconv.FormatUint(seed, 10))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) == killAfter {
			cmd.Process.Kill() // SIGKILL
			killed = true
		}
	}
	// A line cut by the kill has no newline; Scanner returns it as a last token: drop a
	// token that does not parse in the caller's terms by checking its shape here.
	if n := len(lines); n > 0 && killed && !wellFormed(lines[n-1]) {
		lines = lines[:n-1]
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("child exited before it was killed: %s", stderr.String())
	}
	return lines
}

// wellFormed says a line is "A n", "P n" or "R n"; a torn last line may not be.
func wellFormed(ln string) bool {
	kind, num, ok := strings.Cut(ln, " ")
	_, err := strconv.ParseUint(num, 10, 64)
	return ok && (kind == "A" || kind == "P" || kind == "R") && err == nil
}
