package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
)

// The data-plane fault scenarios (FAULTS.md): real flumed processes on loopback, a source file
// of numbered lines, faults injected with SIGKILL, and a conservation check over everything
// the collectors wrote: every line exactly once.

// faultLines is how many lines each scenario ships: FLUME_FAULT_LINES, 1,000,000 by default.
func faultLines(t *testing.T) int {
	if v := os.Getenv("FLUME_FAULT_LINES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("FLUME_FAULT_LINES=%q: want a positive number", v)
		}
		return n
	}
	return 1_000_000
}

// proc is a flumed node process that can be killed and started again on its data.
type proc struct {
	t    *testing.T
	name string
	args []string
	bin  string
	cmd  *exec.Cmd
	log  *plugintest.Buffer
}

func (e *ensemble) node(name string) *proc {
	p := &proc{t: e.t, name: name, bin: filepath.Join(e.bin, "flumed"),
		args: []string{"node", "-n", name, "--data-dir", e.t.TempDir(), "-s",
			"-D", "flume.master.servers=" + e.servers,
			"-D", "flume.agent.failover.backoff.initial=200",
			"-D", "flume.agent.failover.backoff.max=1000",
			"-D", "flume.collector.roll.millis=500"}}
	p.start()
	e.t.Cleanup(p.kill)
	return p
}

func (p *proc) start() {
	p.t.Helper()
	if p.log == nil {
		p.log = &plugintest.Buffer{}
	}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *proc) kill() {
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// peakRSS returns the process's peak resident set size in bytes (VmHWM).
func (p *proc) peakRSS() int64 {
	if p.cmd == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// writeNumbered writes n lines "line NNNNNNNN xxx..." of about 180 bytes.
func writeNumbered(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	pad := strings.Repeat("x", 165)
	for i := range n {
		fmt.Fprintf(w, "line %08d %s\n", i, pad)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// tally is what the collectors wrote.
type tally struct {
	counts  []uint8 // by line number
	lines   int     // lines found in finalized files
	dups    int
	foreign int // lines that are not the generator's
	tmp     int // unfinished files
}

func (ta tally) distinct() int { return ta.lines - ta.dups }

func (ta tally) lost() int {
	n := 0
	for _, c := range ta.counts {
		if c == 0 {
			n++
		}
	}
	return n
}

// count reads every finalized file under dirs.
func count(t *testing.T, n int, dirs ...string) tally {
	t.Helper()
	ta := tally{counts: make([]uint8, n)}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if os.IsNotExist(err) {
				return nil
			}
			if err != nil || d.IsDir() {
				return err
			}
			if strings.HasSuffix(p, ".tmp") {
				ta.tmp++
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for len(b) > 0 {
				i := bytes.IndexByte(b, '\n')
				if i < 0 {
					i = len(b)
				}
				line := b[:i]
				b = b[min(i+1, len(b)):]
				var num int
				if len(line) < 13 || !bytes.HasPrefix(line, []byte("line ")) {
					ta.foreign++
					continue
				}
				num, err := strconv.Atoi(string(line[5:13]))
				if err != nil || num < 0 || num >= n {
					ta.foreign++
					continue
				}
				ta.lines++
				if ta.counts[num] > 0 {
					ta.dups++
				}
				if ta.counts[num] < 255 {
					ta.counts[num]++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ta
}

// dataplane is an ensemble with collector and agent node processes.
type dataplane struct {
	e          *ensemble
	dir, input string
	lines      int
	cols       []*proc
	outs       []string
	ports      []int
	agent      *proc
}

func newDataplane(t *testing.T, masters, collectors int) *dataplane {
	bin := buildBinaries(t)
	d := &dataplane{e: newEnsemble(t, bin, masters), dir: t.TempDir(), lines: faultLines(t)}
	d.input = filepath.Join(d.dir, "in.log")
	writeNumbered(t, d.input, d.lines)
	for i := range collectors {
		name := fmt.Sprintf("col%d", i+1)
		d.ports = append(d.ports, freePort(t))
		d.outs = append(d.outs, filepath.Join(d.dir, name))
		d.cols = append(d.cols, d.e.node(name))
		d.e.mustCtl(0, "config", name, fmt.Sprintf("collectorSource(%d)", d.ports[i]),
			fmt.Sprintf("collectorSink(%q, \"data-\", 500, raw)", d.outs[i]))
	}
	return d
}

func freePort(t *testing.T) int {
	t.Helper()
	return freeBlock(t, []string{"127.0.0.1"})
}

// startAgent waits for the collectors to listen, then configures the agent with sink and
// starts its process.
func (d *dataplane) startAgent(sink string) {
	t := d.e.t
	t.Helper()
	plugintest.Eventually(t, 20*time.Second, func() bool {
		out, err := d.e.ctl(0, "status")
		if err != nil {
			return false
		}
		for _, c := range d.cols {
			if !regexpMatch(c.name+`\s+`+c.name+`\s+\S+\s+ACTIVE`, out) {
				return false
			}
		}
		return true
	}, func() string { out, _ := d.e.ctl(0, "status"); return "collectors not active:\n" + out + d.logs() })
	d.agent = d.e.node("agent1")
	d.e.mustCtl(0, "config", "agent1", fmt.Sprintf("text(%q)", d.input), sink)
}

// written returns the bytes in the collectors' files, finished or not.
func (d *dataplane) written() int64 {
	var n int64
	for _, dir := range d.outs {
		_ = filepath.WalkDir(dir, func(_ string, de os.DirEntry, err error) error {
			if err == nil && !de.IsDir() {
				if fi, err := de.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
	}
	return n
}

// waitWritten waits until the collectors' files hold frac of the input's bytes.
func (d *dataplane) waitWritten(frac float64, timeout time.Duration) {
	t := d.e.t
	t.Helper()
	fi, err := os.Stat(d.input)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(frac * float64(fi.Size()))
	plugintest.Eventually(t, timeout, func() bool { return d.written() >= want },
		func() string { return fmt.Sprintf("%d of %d bytes written\n%s", d.written(), want, d.logs()) })
}

func (d *dataplane) chain(kind string) string {
	var addrs []string
	for _, p := range d.ports {
		addrs = append(addrs, fmt.Sprintf("%q", fmt.Sprintf("127.0.0.1:%d", p)))
	}
	return fmt.Sprintf("agent%sChain(%s)", kind, strings.Join(addrs, ", "))
}

// waitDelivered waits until at least frac of the lines are in finalized files.
func (d *dataplane) waitDelivered(frac float64, timeout time.Duration) tally {
	t := d.e.t
	t.Helper()
	var ta tally
	plugintest.Eventually(t, timeout, func() bool {
		ta = count(t, d.lines, d.outs...)
		return float64(ta.distinct()) >= frac*float64(d.lines)
	}, func() string { return fmt.Sprintf("%d of %d lines delivered\n%s", ta.distinct(), d.lines, d.logs()) })
	return ta
}

// waitQuiet waits until every line is delivered, the collectors' files are all finalized, and
// nothing changed for a second; it fails the test with the figures otherwise.
func (d *dataplane) waitQuiet(timeout time.Duration) tally {
	t := d.e.t
	t.Helper()
	last := -1
	var since time.Time
	var ta tally
	plugintest.Eventually(t, timeout, func() bool {
		ta = count(t, d.lines, d.outs...)
		if ta.distinct() != d.lines || ta.tmp != 0 || ta.lines != last {
			last, since = ta.lines, time.Now()
			return false
		}
		return time.Since(since) >= time.Second
	}, func() string {
		return fmt.Sprintf("not settled: %d of %d lines, lost %d, duplicates %d, %d unfinished files\n%s",
			ta.distinct(), d.lines, ta.lost(), ta.dups, ta.tmp, d.logs())
	})
	return ta
}

func (d *dataplane) logs() string {
	var b strings.Builder
	for _, c := range d.cols {
		fmt.Fprintf(&b, "--- %s log:\n%s\n", c.name, tail(c.log.String(), 3000))
	}
	if d.agent != nil {
		fmt.Fprintf(&b, "--- agent log:\n%s\n", tail(d.agent.log.String(), 3000))
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// check asserts conservation and prints the figures.
func (d *dataplane) check(ta tally, what string, extra string) {
	t := d.e.t
	t.Helper()
	t.Logf("%s: lines=%d delivered=%d lost=%d duplicates=%d foreign=%d unfinished=%d %s",
		what, d.lines, ta.distinct(), ta.lost(), ta.dups, ta.foreign, ta.tmp, extra)
	if ta.lost() != 0 || ta.dups != 0 || ta.foreign != 0 {
		t.Fatalf("%s: conservation broken: lost %d, duplicates %d, foreign %d\n%s", what, ta.lost(), ta.dups, ta.foreign, d.logs())
	}
}

// TestCollectorKilledInAChain is FAULTS.md row 4: the agent ships end to end over a chain of
// two collectors; the primary is killed with SIGKILL at a random point and restarted later.
// Every line is found exactly once.
func TestCollectorKilledInAChain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	d := newDataplane(t, 1, 2)
	d.startAgent(d.chain("E2E"))
	seed := time.Now().UnixNano()
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	frac := 0.1 + 0.6*r.Float64()
	d.waitWritten(frac, 60*time.Second)
	killed := time.Now()
	d.cols[0].kill()
	var failover time.Duration
	plugintest.Eventually(t, 20*time.Second, func() bool {
		failover = time.Since(killed)
		return strings.Contains(d.agent.log.String(), "failing over")
	}, func() string { return "the agent never failed over\n" + d.logs() })
	d.cols[0].start() // recovers its unfinished files: keeps what was committed
	start := time.Now()
	ta := d.waitQuiet(60 * time.Second)
	d.check(ta, "collector SIGKILL", fmt.Sprintf("seed=%d killed_at=%.0f%% failover=%v drain=%v agent_peak_rss=%dMiB",
		seed, 100*frac, failover.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), d.agent.peakRSS()>>20))
}
