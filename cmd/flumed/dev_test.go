package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/node/plugin/plugintest"
)

// TestDevRunsTheDemoThroughItsMaster starts flumed dev twice on one data dir: the first run
// configures the demo through the master and the node prints its events; the second leaves the
// state it finds alone.
func TestDevRunsTheDemoThroughItsMaster(t *testing.T) {
	data := t.TempDir()
	demo, err := filepath.Abs("../../deploy/demo/demo.flume")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir("../..") // the demo spec reads deploy/demo/access.log
	for round, seeded := range []bool{true, false} {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut plugintest.Buffer
		exited := make(chan int, 1)
		go func() {
			exited <- run(ctx, []string{"dev", "--admin-port", "0", "--data-dir", data, "--demo", demo},
				cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
		}()
		plugintest.Eventually(t, 20*time.Second, func() bool { return strings.Contains(out.String(), "Stop with Ctrl-C.") },
			func() string { return "no banner; stderr:\n" + errOut.String() })
		if seeded {
			plugintest.Eventually(t, 20*time.Second, func() bool {
				return strings.Count(out.String(), `"status":"`) == 8
			}, func() string { return "demo events not printed:\n" + out.String() + "\nstderr:\n" + errOut.String() })
		} else if strings.Contains(out.String(), "runs "+demo) {
			t.Fatalf("round %d: the demo was configured again over the existing state", round)
		}
		cancel()
		select {
		case code := <-exited:
			if code != 0 {
				t.Fatalf("round %d: exit %d; stderr:\n%s", round, code, errOut.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("flumed dev did not stop")
		}
	}
}
