package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
)

// masters runs real flumed master processes on loopback: master i listens on 127.0.0.(i+1),
// on a block of four ports shared by all (web, nodes, admin, raft).
type masters struct {
	t       *testing.T
	sec     *secureSetup // TLS and access control; nil for a plaintext ensemble on loopback
	bin     string       // directory holding flumed and flumectl
	servers string
	admins  []string
	dirs    []string
	procs   []*exec.Cmd
	logs    []*plugintest.Buffer
}

// binaries are flumed and flumectl, built once per run of the test binary into a directory
// TestMain removes: every scenario runs the same build, and the link of two binaries is not
// paid again by each of them.
var binaries struct {
	once sync.Once
	pkg  string // this package's directory, where the builds run
	dir  string
	err  error
}

// buildBinaries returns the directory holding flumed and flumectl, building them on the first
// call.
func buildBinaries(t *testing.T) string {
	t.Helper()
	binaries.once.Do(func() {
		binaries.dir, binaries.err = os.MkdirTemp("", "flumed-test-bin-")
		if binaries.err != nil {
			return
		}
		for _, pkg := range []string{".", "../flumectl"} {
			cmd := exec.Command("go", "build", "-o", binaries.dir, pkg)
			cmd.Dir = binaries.pkg
			if out, err := cmd.CombinedOutput(); err != nil {
				binaries.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if binaries.err != nil {
		t.Fatal(binaries.err)
	}
	return binaries.dir
}

// ports are the ports freeBlock handed out in this process, so that tests running in parallel
// never get overlapping blocks.
var ports struct {
	mu    sync.Mutex
	taken map[int]bool
}

// freeBlock finds an admin port P such that P-2..P+1 are free on every host and were handed to
// no other test of this process. It picks below the kernel's range of ephemeral ports (32768
// and up on Linux), where no outgoing connection of the processes under test takes a port
// between the check and the listen.
func freeBlock(t *testing.T, hosts []string) int {
	t.Helper()
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.taken == nil {
		ports.taken = map[int]bool{}
	}
	const low, high = 20000, 32000
	for try := 0; try < 200; try++ {
		p := low + 2 + rand.IntN(high-low-4)
		ok := true
		for q := p - 2; q <= p+1 && ok; q++ {
			ok = !ports.taken[q]
		}
		for _, h := range hosts {
			for q := p - 2; q <= p+1 && ok; q++ {
				if l, err := net.Listen("tcp", net.JoinHostPort(h, fmt.Sprint(q))); err != nil {
					ok = false
				} else {
					l.Close()
				}
			}
		}
		if ok {
			for q := p - 2; q <= p+1; q++ {
				ports.taken[q] = true
			}
			return p
		}
	}
	t.Fatal("no free block of ports")
	return 0
}

func newEnsemble(t *testing.T, bin string, n int) *masters {
	return newSecureEnsemble(t, bin, n, nil)
}

// newSecureEnsemble is newEnsemble with TLS and access control as sec sets them up; nil is a
// plaintext ensemble.
func newSecureEnsemble(t *testing.T, bin string, n int, sec *secureSetup) *masters {
	e := &masters{t: t, sec: sec, bin: bin, procs: make([]*exec.Cmd, n), logs: make([]*plugintest.Buffer, n)}
	var hosts []string
	for i := range n {
		hosts = append(hosts, fmt.Sprintf("127.0.0.%d", i+1))
	}
	port := freeBlock(t, hosts)
	var entries []string
	for _, h := range hosts {
		entries = append(entries, fmt.Sprintf("%s:%d", h, port))
		e.admins = append(e.admins, fmt.Sprintf("%s:%d", h, port))
		e.dirs = append(e.dirs, t.TempDir())
	}
	e.servers = strings.Join(entries, ",")
	for i := range n {
		e.start(i)
	}
	t.Cleanup(func() {
		for i := range e.procs {
			e.kill(i)
		}
	})
	return e
}

func (e *masters) start(i int) {
	e.t.Helper()
	e.logs[i] = &plugintest.Buffer{}
	cmd := exec.Command(filepath.Join(e.bin, "flumed"), append([]string{"master", "--serverid", fmt.Sprint(i),
		"--data-dir", e.dirs[i], "-D", "flume.master.servers=" + e.servers}, e.sec.masterArgs()...)...)
	cmd.Stdout, cmd.Stderr = e.logs[i], e.logs[i]
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.procs[i] = cmd
}

// startNode runs a real flumed node process that takes its configuration from the masters.
func (e *masters) startNode(name string) *plugintest.Buffer {
	e.t.Helper()
	log := &plugintest.Buffer{}
	cmd := exec.Command(filepath.Join(e.bin, "flumed"), append([]string{"node", "-n", name, "--data-dir", e.t.TempDir(),
		"-D", "flume.master.servers=" + e.servers}, e.sec.nodeArgs(name)...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return log
}

// Polls that run a process (flumectl), make a TLS connection or read the collectors' files
// take a share of the cores the processes under test need: they run at most this often.
const (
	ctlPoll  = 50 * time.Millisecond // flumectl, a TLS handshake
	filePoll = 25 * time.Millisecond // a walk or a read of the collectors' or the agent's files
)

// throttle makes a condition polled by plugintest.Eventually run at most once every interval;
// in between it reports false without running.
func throttle(interval time.Duration, cond func() bool) func() bool {
	var last time.Time
	return func() bool {
		if !last.IsZero() && time.Since(last) < interval {
			return false
		}
		last = time.Now()
		return cond()
	}
}

// waitFile waits until path holds want.
func waitFile(t *testing.T, path, want string, logs ...*plugintest.Buffer) {
	t.Helper()
	plugintest.Eventually(t, 20*time.Second, func() bool {
		b, err := os.ReadFile(path)
		return err == nil && string(b) == want
	}, func() string {
		msg := "node never wrote " + path
		for _, l := range logs {
			msg += "\n--- node log:\n" + l.String()
		}
		return msg
	})
}

func (e *masters) kill(i int) {
	if c := e.procs[i]; c != nil {
		_ = c.Process.Signal(syscall.SIGKILL)
		_ = c.Wait()
		e.procs[i] = nil
	}
}

// ctl runs flumectl against master i.
func (e *masters) ctl(i int, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(e.bin, "flumectl"), append(append([]string{"--master", e.admins[i], "--timeout", "10s"},
		e.sec.ctlArgs()...), args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *masters) mustCtl(i int, args ...string) string {
	e.t.Helper()
	out, err := e.ctl(i, args...)
	if err != nil {
		e.t.Fatalf("flumectl %v via master %d: %v\n%s\nmaster log:\n%s", args, i, err, out, e.logs[i].String())
	}
	return out
}

type membersJSON struct {
	Members []struct {
		ID     string `json:"id"`
		Leader bool   `json:"leader"`
	} `json:"members"`
	LastIndex string `json:"lastIndex"`
}

// leader asks master i who leads; -1 if nobody does as far as it knows.
func (e *masters) leader(i int) (int, string) {
	out, err := e.ctl(i, "members", "-o", "json")
	if err != nil {
		return -1, ""
	}
	var m membersJSON
	if json.Unmarshal([]byte(out), &m) != nil {
		return -1, ""
	}
	for _, mem := range m.Members {
		if mem.Leader {
			var id int
			fmt.Sscan(mem.ID, &id)
			return id, m.LastIndex
		}
	}
	return -1, m.LastIndex
}

// TestEnsembleKeepsEveryAcknowledgedCommandWhenLeadersAreKilled runs 3 and 5 real masters,
// SIGKILLs the leader (and for 5, a follower too), and checks that a new leader is elected
// within 3 s, that every command acknowledged before is still there, that commands keep
// working, and that a killed master restarted from its data catches up.
func TestEnsembleKeepsEveryAcknowledgedCommandWhenLeadersAreKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real master processes")
	}
	t.Parallel()
	bin := buildBinaries(t)
	for _, tc := range []struct{ masters, killed int }{{3, 1}, {5, 2}} {
		t.Run(fmt.Sprintf("%d masters, %d killed", tc.masters, tc.killed), func(t *testing.T) {
			t.Parallel()
			e := newEnsemble(t, bin, tc.masters)
			dir := t.TempDir()
			in := filepath.Join(dir, "in.log")
			content := "one\ntwo\nthree\n"
			if err := os.WriteFile(in, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			log1, log2 := e.startNode("node1"), e.startNode("node2")
			e.mustCtl(0, "map", "node1", "copy1")
			e.mustCtl(1, "config", "copy1", fmt.Sprintf("text(%q)", in), fmt.Sprintf("text(%q)", filepath.Join(dir, "out1.log")))
			waitFile(t, filepath.Join(dir, "out1.log"), content, log1)
			e.mustCtl(0, "config", "agentA", `text("/etc/hosts")`, "console")
			e.mustCtl(1, "map", "host1", "agentA")
			e.mustCtl(2, "multiconfig", "col1 : autoCollectorSource | null ; agentB : null | autoE2EChain ;")
			e.mustCtl(0, "map", "host2", "col1")
			if out, err := e.ctl(0, "config", "bad", "null", "consol"); err == nil || !strings.Contains(out, `unknown sink "consol"; did you mean "console"?`) {
				t.Fatalf("a bad spec was not refused with its place: %v\n%s", err, out)
			}

			var leader int
			plugintest.Eventually(t, 10*time.Second, throttle(ctlPoll, func() bool { leader, _ = e.leader(0); return leader >= 0 }),
				func() string { return "no leader" })
			killed := []int{leader}
			for i := 0; len(killed) < tc.killed; i++ {
				if i != leader {
					killed = append(killed, i)
				}
			}
			for _, k := range killed {
				e.kill(k)
			}
			survivor := 0
			for slices.Contains(killed, survivor) {
				survivor++
			}
			start := time.Now()
			var elected time.Duration
			plugintest.Eventually(t, 10*time.Second, throttle(ctlPoll, func() bool {
				l, _ := e.leader(survivor)
				elected = time.Since(start)
				return l >= 0 && !slices.Contains(killed, l)
			}), func() string { return "no new leader" })
			if elected > 3*time.Second {
				t.Errorf("a new leader was known %v after the kill, want within 3 s", elected)
			}
			e.mustCtl(survivor, "map", "host3", "agentB")
			t.Logf("new leader known %v after killing master(s) %v; first command accepted after %v",
				elected.Round(time.Millisecond), killed, time.Since(start).Round(time.Millisecond))

			// Configurations keep reaching the nodes through the new leader.
			e.mustCtl(survivor, "map", "node2", "copy2")
			e.mustCtl(survivor, "config", "copy2", fmt.Sprintf("text(%q)", in), fmt.Sprintf("text(%q)", filepath.Join(dir, "out2.log")))
			waitFile(t, filepath.Join(dir, "out2.log"), content, log2)
			plugintest.Eventually(t, 20*time.Second, throttle(ctlPoll, func() bool {
				out, err := e.ctl(survivor, "status")
				return err == nil && regexpMatch(`copy1\s+node1\s+\S+\s+IDLE`, out) && regexpMatch(`copy2\s+node2\s+\S+\s+IDLE`, out)
			}), func() string { out, _ := e.ctl(survivor, "status"); return "status:\n" + out })

			hist := e.mustCtl(survivor, "history")
			for _, want := range []string{"config agentA", "map host1 agentA", "multiconfig", "map host2 col1", "map host3 agentB"} {
				if !strings.Contains(hist, want) {
					t.Fatalf("history lacks %q after the kill:\n%s", want, hist)
				}
			}
			// No node has reported its host, so the collector cannot be placed yet, and the
			// translations say so.
			cfgs := e.mustCtl(survivor, "configs")
			for _, want := range []string{`fail("physical node host2 has not reported its host yet")`, `fail("no collectors")`} {
				if !strings.Contains(cfgs, want) {
					t.Fatalf("translated configs after the kill lack %s:\n%s", want, cfgs)
				}
			}

			e.start(killed[0])
			plugintest.Eventually(t, 20*time.Second, throttle(ctlPoll, func() bool {
				l, idx := e.leader(killed[0])
				_, lidx := e.leader(survivor)
				return l >= 0 && idx != "" && idx == lidx
			}), func() string { return "restarted master did not catch up:\n" + e.logs[killed[0]].String() })
			e.mustCtl(killed[0], "noop")
		})
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
