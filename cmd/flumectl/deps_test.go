package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFlumectlLinksNoRaft: the shell talks to the masters through master/client and parses
// commands with master/command; it must not pull in the masters' raft library and its stores.
func TestFlumectlLinksNoRaft(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "hashicorp/raft") || strings.Contains(dep, "bbolt") ||
			dep == "github.com/flumego/flume/master" || dep == "github.com/flumego/flume/raftstore" {
			t.Errorf("flumectl links %s", dep)
		}
	}
}
