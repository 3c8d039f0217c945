package collector_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/localcommit"
	"github.com/flumego/flume/node/spec"
)

func TestMain(m *testing.M) {
	if os.Getenv(childSpec) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}

// The environment of a collector child process: this test binary, run as a collector node
// named c1 that a test kills as a crash would.
const (
	childSpec    = "COLLECTOR_TEST_SPEC"    // the flow, "c1 : ... ;"
	childCommits = "COLLECTOR_TEST_COMMITS" // the directory of its commit log
	childData    = "COLLECTOR_TEST_DATA"    // its data directory
	childSlow    = "COLLECTOR_TEST_SLOW"    // milliseconds each commit takes
	childHold    = "COLLECTOR_TEST_HOLD"    // "IDENTITY:SEQ": a commit of chunk SEQ by IDENTITY never ends
)

// runChild runs the collector, prints "ready" once its flow is active, "held" once it holds a
// commit, and runs until killed.
func runChild() int {
	commits, err := localcommit.Open(os.Getenv(childCommits), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cl := &childCommitLog{Log: commits}
	cl.slow, _ = strconv.Atoi(os.Getenv(childSlow))
	if h := os.Getenv(childHold); h != "" {
		id, seq, _ := strings.Cut(h, ":")
		cl.holdID = id
		cl.holdSeq, _ = strconv.ParseUint(seq, 10, 64)
		cl.otherDone = make(chan struct{})
	}
	defs, err := spec.ParseNodes(os.Getenv(childSpec))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	n := node.New(node.Config{Name: "c1", DataDir: os.Getenv(childData), Commits: cl}, builtin.Registry())
	if err := n.Start(defs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for n.Statuses()["c1"].State.String() != "ACTIVE" {
		if time.Now().After(deadline) {
			fmt.Println("not active:", n.Statuses()["c1"])
			return 1
		}
		<-tick.C
	}
	fmt.Println("ready")
	select {} // until killed
}

// childCommitLog is the child's commit point: its own log, slowed down or holding one commit
// as the environment says.
type childCommitLog struct {
	commitpoint.Log
	slow      int
	holdID    string
	holdSeq   uint64
	once      sync.Once
	otherDone chan struct{} // closed once a sink other than holdID committed chunk holdSeq
}

func (c *childCommitLog) Commit(ctx context.Context, collector string, chunks []commitpoint.Commit) (commitpoint.Outcome, error) {
	if c.slow > 0 {
		select {
		case <-time.After(time.Duration(c.slow) * time.Millisecond):
		case <-ctx.Done():
			return commitpoint.Outcome{}, ctx.Err()
		}
	}
	held := false
	for _, ch := range chunks {
		held = held || (c.holdID != "" && ch.Seq == c.holdSeq)
	}
	if held && collector == c.holdID {
		// Hold the commit once the other sinks have committed the chunk: a crash now leaves
		// the chunk committed by them and not by this one.
		<-c.otherDone
		fmt.Println("held")
		<-ctx.Done()
		return commitpoint.Outcome{}, ctx.Err()
	}
	out, err := c.Log.Commit(ctx, collector, chunks)
	if held && err == nil && out.Committed == len(chunks) {
		c.once.Do(func() { close(c.otherDone) })
	}
	return out, err
}

// child is a collector process.
type child struct {
	cmd  *exec.Cmd
	out  *bufio.Reader
	port int
}

// startChild starts the collector c1 in a process of its own, serving flow (with %d for its
// port) with the commit log in commits and data in data; env adds to its environment.
func startChild(t *testing.T, flow, commits, data string, env ...string) *child {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childSpec+"="+fmt.Sprintf(flow, port), childCommits+"="+commits, childData+"="+data)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, out: bufio.NewReader(out), port: port}
	t.Cleanup(c.kill)
	c.expect(t, "ready")
	return c
}

// expect waits for the child to print line.
func (c *child) expect(t *testing.T, line string) {
	t.Helper()
	got, err := c.out.ReadString('\n')
	if err != nil || strings.TrimSpace(got) != line {
		t.Fatalf("collector process printed %q (%v), want %q", got, err, line)
	}
}

// kill kills the process as a crash would: nothing is closed, nothing flushed.
func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}
