package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

func (e *masters) node(name string, extra ...string) *proc {
	p := &proc{t: e.t, name: name, bin: filepath.Join(e.bin, "flumed"),
		args: append(append([]string{"node", "-n", name, "--data-dir", e.t.TempDir(), "-s",
			"-D", "flume.master.servers=" + e.servers,
			"-D", "flume.agent.failover.backoff.initial=200",
			"-D", "flume.agent.failover.backoff.max=1000",
			"-D", "flume.collector.roll.millis=500"}, e.sec.nodeArgs(name)...), extra...)}
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

// appendLine appends line n as fmt's "line %08d %s\n" with pad would. It does without fmt: the
// scenarios write millions of lines from a test binary built with the race detector, where
// fmt costs more than the processes under test take to ship them.
func appendLine(b []byte, n int, pad string) []byte {
	b = append(b, "line "...)
	for w := 10_000_000; w > 1 && n < w; w /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ' ')
	b = append(b, pad...)
	return append(b, '\n')
}

// writeNumbered writes n lines "line NNNNNNNN xxx..." of about 180 bytes.
func writeNumbered(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 165)
	buf := make([]byte, 0, 1<<20+256)
	for i := range n {
		buf = appendLine(buf, i, pad)
		if len(buf) >= 1<<20 || i == n-1 {
			if _, err := f.Write(buf); err != nil {
				t.Fatal(err)
			}
			buf = buf[:0]
		}
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

// gaps describes the runs of lost lines, at most ten of them: "1200-1399 (200)".
func (ta tally) gaps() string {
	var runs []string
	for i := 0; i < len(ta.counts) && len(runs) < 10; i++ {
		if ta.counts[i] != 0 {
			continue
		}
		j := i
		for j+1 < len(ta.counts) && ta.counts[j+1] == 0 {
			j++
		}
		runs = append(runs, fmt.Sprintf("%d-%d (%d)", i, j, j-i+1))
		i = j
	}
	return strings.Join(runs, ", ")
}

// count reads every finalized file under dirs.
func count(t *testing.T, n int, dirs ...string) tally {
	t.Helper()
	return countIn(t, n, localFiles(dirs))
}

// countIn reads every finalized file of files.
func countIn(t *testing.T, n int, files fileTree) tally {
	t.Helper()
	ta := tally{counts: make([]uint8, n)}
	err := files.walk(func(p string, _ int64, read func() ([]byte, error)) error {
		if strings.HasSuffix(p, ".tmp") {
			ta.tmp++
			return nil
		}
		b, err := read()
		if err != nil {
			return err
		}
		ta.add(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ta
}

// fileTree is where collectors write: directories on the local disk, or on HDFS.
type fileTree interface {
	// walk calls fn for every file: its path, size and a way to read it. Missing
	// directories hold nothing.
	walk(fn func(path string, size int64, read func() ([]byte, error)) error) error
}

// localFiles are local directories.
type localFiles []string

func (dirs localFiles) walk(fn func(string, int64, func() ([]byte, error)) error) error {
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if os.IsNotExist(err) {
				return nil
			}
			if err != nil || d.IsDir() {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return nil // gone meanwhile (renamed)
			}
			return fn(p, fi.Size(), func() ([]byte, error) { return os.ReadFile(p) })
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// add counts the lines of a file's content b.
func (ta *tally) add(b []byte) {
	counts := ta.counts
	lines, dups, foreign := 0, 0, 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			i = len(b)
		}
		line := b[:i]
		b = b[min(i+1, len(b)):]
		if len(line) < 13 || string(line[:5]) != "line " {
			foreign++
			continue
		}
		num, ok := lineNumber(line[5:13])
		if !ok || num >= len(counts) {
			foreign++
			continue
		}
		lines++
		switch c := counts[num]; {
		case c == 0:
			counts[num] = 1
		case c < 255:
			dups++
			counts[num] = c + 1
		default:
			dups++
		}
	}
	ta.lines += lines
	ta.dups += dups
	ta.foreign += foreign
}

// lineNumber parses the eight decimal digits of a line's number.
func lineNumber(digits []byte) (int, bool) {
	num := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		num = num*10 + int(c-'0')
	}
	return num, true
}

// dataplane is an ensemble with collector and agent node processes.
type dataplane struct {
	e          *masters
	dir, input string
	lines      int
	cols       []*proc
	outs       []string
	ports      []int
	agent      *proc
	agentArgs  []string // more flags of the agent's process
	tree       fileTree // where the collectors write; nil: the local directories outs
}

// files returns where the collectors write.
func (d *dataplane) files() fileTree {
	if d.tree != nil {
		return d.tree
	}
	return localFiles(d.outs)
}

func newDataplane(t *testing.T, masters, collectors int) *dataplane {
	return newDataplaneWith(t, masters, collectors, faultLines(t))
}

// newDataplaneWith is newDataplane with an input file of lines lines; none with 0: the test
// writes what the agent reads.
func newDataplaneWith(t *testing.T, masters, collectors, lines int) *dataplane {
	return newDataplaneOn(t, masters, collectors, lines, false)
}

// newDataplaneOn is newDataplaneWith, with TLS and access control on every process when secure.
func newDataplaneOn(t *testing.T, masters, collectors, lines int, secure bool) *dataplane {
	bin := buildBinaries(t)
	var sec *secureSetup
	if secure {
		names := []string{"agent1"}
		for i := range collectors {
			names = append(names, fmt.Sprintf("col%d", i+1))
		}
		sec = newSecureSetup(t, bin, names...)
	}
	d := &dataplane{e: newSecureEnsemble(t, bin, masters, sec), dir: t.TempDir(), lines: lines}
	if lines > 0 {
		d.input = filepath.Join(d.dir, "in.log")
		writeNumbered(t, d.input, d.lines)
	}
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

// startAgent waits for the collectors to listen, then configures the agent to ship the input
// file with sink and starts its process.
func (d *dataplane) startAgent(sink string) {
	d.startAgentWith(fmt.Sprintf("text(%q)", d.input), sink)
}

// startAgentWith is startAgent with another source.
func (d *dataplane) startAgentWith(source, sink string) {
	t := d.e.t
	t.Helper()
	plugintest.Eventually(t, 20*time.Second, throttle(ctlPoll, func() bool {
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
	}), func() string { out, _ := d.e.ctl(0, "status"); return "collectors not active:\n" + out + d.logs() })
	d.agent = d.e.node("agent1", d.agentArgs...)
	d.e.mustCtl(0, "config", "agent1", source, sink)
}

// written returns the bytes in the collectors' files, finished or not.
func (d *dataplane) written() int64 {
	var n int64
	_ = d.files().walk(func(_ string, size int64, _ func() ([]byte, error)) error {
		n += size
		return nil
	})
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
	plugintest.Eventually(t, timeout, throttle(filePoll, func() bool { return d.written() >= want }),
		func() string { return fmt.Sprintf("%d of %d bytes written\n%s", d.written(), want, d.logs()) })
}

func (d *dataplane) chain(kind string) string {
	var addrs []string
	for _, p := range d.ports {
		addrs = append(addrs, fmt.Sprintf("%q", fmt.Sprintf("127.0.0.1:%d", p)))
	}
	return fmt.Sprintf("agent%sChain(%s)", kind, strings.Join(addrs, ", "))
}

// outputs is what a walk of the collectors' directories sees, without reading the files: any
// line written or file finished changes it.
type outputs struct {
	files, tmp int
	bytes      int64
}

func (d *dataplane) outputs() outputs {
	var o outputs
	_ = d.files().walk(func(p string, size int64, _ func() ([]byte, error)) error {
		o.files++
		if strings.HasSuffix(p, ".tmp") {
			o.tmp++
		}
		o.bytes += size
		return nil
	})
	return o
}

// settle waits until the collectors' files are all finalized, nothing changed in them for quiet,
// and done holds for what they hold; it fails the test with the figures otherwise. It reads
// the files only when a walk of the directories saw no change since the last poll, and reads
// them again at the end of the quiet time: the tally it returns is what they held all along.
func (d *dataplane) settle(timeout, quiet time.Duration, done func(tally) bool, what func(tally) string) tally {
	t := d.e.t
	t.Helper()
	var last outputs
	var since time.Time
	var ta tally
	counted := false
	plugintest.Eventually(t, timeout, throttle(filePoll, func() bool {
		o := d.outputs()
		if o != last || since.IsZero() {
			last, since, counted = o, time.Now(), false
			return false
		}
		if o.tmp != 0 {
			return false
		}
		if !counted {
			ta, counted = countIn(t, d.lines, d.files()), true
		}
		if ta.tmp != 0 || !done(ta) || time.Since(since) < quiet {
			return false
		}
		again := countIn(t, d.lines, d.files())
		if again.tmp != 0 || again.lines != ta.lines || again.dups != ta.dups || again.foreign != ta.foreign || d.outputs() != o {
			since, ta = time.Now(), again
			return false
		}
		ta = again
		return true
	}), func() string {
		ta = countIn(t, d.lines, d.files())
		return what(ta) + "\n" + d.logs()
	})
	return ta
}

// waitQuiet waits until every line is delivered, the collectors' files are all finalized, and
// nothing changed for a second; it fails the test with the figures otherwise.
func (d *dataplane) waitQuiet(timeout time.Duration) tally {
	d.e.t.Helper()
	return d.settle(timeout, time.Second, func(ta tally) bool { return ta.distinct() == d.lines },
		func(ta tally) string {
			return fmt.Sprintf("not settled: %d of %d lines, lost %d, duplicates %d, %d unfinished files",
				ta.distinct(), d.lines, ta.lost(), ta.dups, ta.tmp)
		})
}

// waitTail waits until the collectors' files are all finalized and nothing changed for two
// seconds (the count of lines is known only once the writer stopped; some may be lost).
func (d *dataplane) waitTail(timeout time.Duration) tally {
	d.e.t.Helper()
	return d.settle(timeout, 2*time.Second, func(tally) bool { return true },
		func(ta tally) string {
			return fmt.Sprintf("not settled: %d of %d lines, %d unfinished files", ta.distinct(), d.lines, ta.tmp)
		})
}

// agentMetric sums the agent's metrics whose names end with suffix, as the masters show them.
func (d *dataplane) agentMetric(suffix string) int64 {
	out, err := d.e.ctl(0, "metrics", "agent1")
	if err != nil {
		return -1
	}
	var sum int64
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && strings.HasSuffix(f[1], suffix) {
			var v int64
			fmt.Sscan(f[2], &v)
			sum += v
		}
	}
	return sum
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
	if ta.dups != 0 {
		var ranges []string
		for i := 0; i < len(ta.counts); i++ {
			if ta.counts[i] > 1 {
				j := i
				for j+1 < len(ta.counts) && ta.counts[j+1] > 1 {
					j++
				}
				ranges = append(ranges, fmt.Sprintf("%d-%d", i, j))
				i = j
			}
		}
		t.Logf("duplicated lines: %s", strings.Join(ranges[:min(len(ranges), 20)], " "))
		if os.Getenv("FLUME_FAULT_DEBUG") != "" {
			t.Logf("agent log:\n%s\ncollector log:\n%s", d.agent.log.String(), d.cols[0].log.String())
		}
	}
	if ta.lost() != 0 || ta.dups != 0 || ta.foreign != 0 {
		t.Fatalf("%s: conservation broken: lost %d, duplicates %d, foreign %d\n%s", what, ta.lost(), ta.dups, ta.foreign, d.logs())
	}
}

// TestCollectorKilledInAChain is FAULTS.md row 4: the agent ships end to end over a chain of
// two collectors; the primary is killed with SIGKILL at a random point and restarted later.
// Every line is found exactly once.
func TestCollectorKilledInAChain(t *testing.T) { collectorKilledInAChain(t, false) }

// TestCollectorKilledInAChainWithTLSAndACL is TestCollectorKilledInAChain with TLS on every port and access
// control on (FAULTS.md rows 1, 4 and 8 with security on): the same conservation.
func TestCollectorKilledInAChainWithTLSAndACL(t *testing.T) { collectorKilledInAChain(t, true) }

func collectorKilledInAChain(t *testing.T, secure bool) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	d := newDataplaneOn(t, 1, 2, faultLines(t), secure)
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

// TestMasterLeaderKilledWhileShipping is FAULTS.md row 8 for the data path: three masters, the
// leader killed with SIGKILL while an agent ships end to end; commits wait for the new leader
// and every line is found exactly once.
func TestMasterLeaderKilledWhileShipping(t *testing.T) { masterLeaderKilledWhileShipping(t, false) }

// TestMasterLeaderKilledWhileShippingWithTLSAndACL is TestMasterLeaderKilledWhileShipping with TLS on every port and access
// control on (FAULTS.md rows 1, 4 and 8 with security on): the same conservation.
func TestMasterLeaderKilledWhileShippingWithTLSAndACL(t *testing.T) {
	masterLeaderKilledWhileShipping(t, true)
}

func masterLeaderKilledWhileShipping(t *testing.T, secure bool) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	d := newDataplaneOn(t, 3, 1, faultLines(t), secure)
	d.startAgent(d.chain("E2E"))
	d.waitWritten(0.2, 60*time.Second)
	var leader int
	plugintest.Eventually(t, 10*time.Second, throttle(ctlPoll, func() bool { leader, _ = d.e.leader(0); return leader >= 0 }),
		func() string { return "no leader" })
	killed := time.Now()
	d.e.kill(leader)
	survivor := (leader + 1) % 3
	var elected time.Duration
	plugintest.Eventually(t, 10*time.Second, throttle(ctlPoll, func() bool {
		l, _ := d.e.leader(survivor)
		elected = time.Since(killed)
		return l >= 0 && l != leader
	}), func() string { return "no new leader" })
	start := time.Now()
	ta := d.waitQuiet(120 * time.Second)
	d.check(ta, "master leader SIGKILL", fmt.Sprintf("new_leader_after=%v drain=%v agent_peak_rss=%dMiB collector_peak_rss=%dMiB",
		elected.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), d.agent.peakRSS()>>20, d.cols[0].peakRSS()>>20))
}

// TestAllCollectorsDownThenBack is FAULTS.md row 5: the agent ships end to end while every
// collector is down; its write-ahead log takes the lines, and once the collectors are back
// they drain it. Nothing is lost or duplicated, and the agent's memory stays bounded.
func TestAllCollectorsDownThenBack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	d := newDataplane(t, 1, 2)
	d.startAgent(d.chain("E2E"))
	d.waitWritten(0.1, 60*time.Second)
	for _, c := range d.cols {
		c.kill()
	}
	down := time.Now()
	// The agent keeps reading into its log while no collector answers.
	walDir := filepath.Join(d.agent.args[4], "agent", "agent1", "e2e") // flume.agent.logdir/<logical>/e2e
	var wal int64
	plugintest.Eventually(t, 60*time.Second, throttle(filePoll, func() bool {
		wal = dirSize(walDir)
		return wal > 0 && time.Since(down) > 3*time.Second
	}), func() string { return "the agent logged nothing while the collectors were down\n" + d.logs() })
	rssDown := d.agent.peakRSS()
	for _, c := range d.cols {
		c.start()
	}
	back := time.Now()
	ta := d.waitQuiet(180 * time.Second)
	d.check(ta, "all collectors down", fmt.Sprintf("down_for=%v wal_bytes=%d drain=%v agent_peak_rss_while_down=%dMiB",
		back.Sub(down).Round(time.Millisecond), wal, time.Since(back).Round(time.Millisecond), rssDown>>20))
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			if fi, err := de.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// TestAgentKilledMidStream is FAULTS.md row 1: the agent is killed with SIGKILL at random
// points while it ships end to end, and restarted on its data directory. Its write-ahead log
// holds what was not acked, with the source's position: nothing is lost or read twice.
func TestAgentKilledMidStream(t *testing.T) { agentKilledMidStream(t, false) }

// TestAgentKilledMidStreamWithTLSAndACL is TestAgentKilledMidStream with TLS on every port and access
// control on (FAULTS.md rows 1, 4 and 8 with security on): the same conservation.
func TestAgentKilledMidStreamWithTLSAndACL(t *testing.T) { agentKilledMidStream(t, true) }

func agentKilledMidStream(t *testing.T, secure bool) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	d := newDataplaneOn(t, 1, 1, faultLines(t), secure)
	d.startAgent(d.chain("E2E"))
	seed := time.Now().UnixNano()
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	var restarts []time.Duration
	for _, frac := range []float64{0.1 + 0.2*r.Float64(), 0.4 + 0.2*r.Float64()} {
		d.waitWritten(frac, 60*time.Second)
		d.agent.kill()
		at := time.Now()
		before := d.written()
		d.agent.start()
		plugintest.Eventually(t, 30*time.Second, throttle(filePoll, func() bool { return d.written() > before }),
			func() string { return "the restarted agent sent nothing\n" + d.logs() })
		restarts = append(restarts, time.Since(at).Round(time.Millisecond))
	}
	start := time.Now()
	ta := d.waitQuiet(120 * time.Second)
	d.check(ta, "agent SIGKILL", fmt.Sprintf("seed=%d restart_to_resume=%v drain=%v", seed, restarts, time.Since(start).Round(time.Millisecond)))
}

// TestAgentTornLogTail is FAULTS.md row 2: the agent is killed, the tail of its newest log
// segment (records never sent: the collector is down) is cut and garbage appended, and it is
// restarted. The damaged records are skipped (counted in its log), never delivered; the
// source's position comes from the last whole record, so the lines of the cut records are
// read again: nothing is lost, nothing duplicated.
//
// A cut into records that were sent and committed is not a torn tail but the loss of durable
// data: their lines are read again, and the ones a collector committed arrive twice.
func TestAgentTornLogTail(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	d := newDataplane(t, 1, 1)
	d.startAgent(d.chain("E2E"))
	d.cols[0].kill() // the log keeps what the agent reads while the collector is away
	walDir := filepath.Join(d.agent.args[4], "agent", "agent1", "e2e")
	// What the log gains from now on was never sent: the tail a crash can tear.
	unsentFrom := dirSize(walDir)
	plugintest.Eventually(t, 60*time.Second, throttle(filePoll, func() bool { return dirSize(walDir) > unsentFrom+16<<20 }),
		func() string { return "the agent logged nothing\n" + d.logs() })
	d.agent.kill()
	unsent := dirSize(walDir) - unsentFrom
	segs, _ := filepath.Glob(filepath.Join(walDir, "*.wal"))
	if len(segs) == 0 {
		t.Fatalf("no log segment in %s", walDir)
	}
	last := segs[len(segs)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	cut := min(fi.Size()/3, unsent/2)
	if err := os.Truncate(last, fi.Size()-cut); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write(bytes.Repeat([]byte{0xa5}, 4096))
	_ = f.Close()
	d.agent.start()
	d.cols[0].start()
	start := time.Now()
	ta := d.waitQuiet(120 * time.Second)
	d.check(ta, "torn log tail", fmt.Sprintf("cut=%d bytes of %s drain=%v", cut, filepath.Base(last), time.Since(start).Round(time.Millisecond)))
}

// TestAgentLogFull is FAULTS.md row 7: the collectors are down and the agent's log reaches its
// cap (flume.agent.logdir.maxbytes): the source pauses, the status says why, nothing is
// overwritten; once a collector is back the agent resumes, and every line arrives once.
func TestAgentLogFull(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	const cap = 32 << 20
	d := newDataplane(t, 1, 1)
	d.agentArgs = []string{"-D", fmt.Sprintf("flume.agent.logdir.maxbytes=%d", cap)}
	d.startAgent(d.chain("E2E"))
	d.cols[0].kill()
	walDir := filepath.Join(d.agent.args[4], "agent", "agent1", "e2e")
	var status string
	plugintest.Eventually(t, 60*time.Second, throttle(ctlPoll, func() bool {
		status, _ = d.e.ctl(0, "status")
		return regexpMatch(`agent1\s+agent1\s+\S+\s+ACTIVE.*paused: agent log full`, status)
	}), func() string {
		return fmt.Sprintf("the status never said the log is full:\n%s\nlog %d bytes\n%s", status, dirSize(walDir), d.logs())
	})
	full := dirSize(walDir)
	if full > cap+cap/4 {
		t.Fatalf("the log holds %d bytes, over its cap of %d", full, cap)
	}
	paused := time.Now()
	d.cols[0].start()
	ta := d.waitQuiet(120 * time.Second)
	d.check(ta, "agent log full", fmt.Sprintf("log_at_pause=%d cap=%d note=%q drain=%v",
		full, cap, firstMatch(`paused: [^\n]*`, status), time.Since(paused).Round(time.Millisecond)))
}

func firstMatch(pattern, s string) string { return regexp.MustCompile(pattern).FindString(s) }
