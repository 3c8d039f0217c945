package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/colinmarc/hdfs/v2"

	"github.com/flumego/flume/internal/minihdfs"
	"github.com/flumego/flume/internal/pki"
)

// The data plane table: an agent and a collector as separate flumed processes on loopback,
// shipping a file of lines into collectorSink files on local disk, for each reliability level.
// The agent runs --oneshot: it exits once its source has ended and every chunk is acknowledged
// (end to end: committed), so its run time is the pipeline's. Each side keeps its own commit
// log (no masters), with fsync, as a standalone pair does.

const (
	dpLines = 1_000_000
	dpPad   = 165 // "line NNNNNNNN " + pad + "\n" is 180 bytes
)

type dataplaneBench struct {
	name   string
	sink   string // the agent sink, %d for the collector port
	target string
	tls    bool     // both processes with TLS, the collector verifying the agent's certificate
	hdfs   bool     // the collector writes to the project's test HDFS (internal/minihdfs)
	props  []string // more -D settings of the collector
}

var dataplaneBenches = []dataplaneBench{
	{"text -> agentBESink -> collectorSink", `agentBESink("127.0.0.1", %d)`, ">= 1.2M lines/s", false, false, nil},
	{"text -> agentDFOSink -> collectorSink", `agentDFOSink("127.0.0.1", %d)`, "", false, false, nil},
	{"text -> agentE2ESink -> collectorSink (fsync both sides)", `agentE2ESink("127.0.0.1", %d)`, ">= 420k lines/s, ack p99 < 100 ms, agent RSS <= 20 MB", false, false, nil},
	{"text -> agentE2ESink(compression=zstd) -> collectorSink", `agentE2ESink("127.0.0.1", %d, compression="zstd")`, "", false, false, nil},
	{"text -> agentE2ESink -> collectorSink, mutual TLS", `agentE2ESink("127.0.0.1", %d)`, "within 15% of agentE2ESink without TLS", true, false, nil},
	{"text -> agentE2ESink -> collectorSink into HDFS (test HDFS)", `agentE2ESink("127.0.0.1", %d)`, ">= 70% of agentE2ESink into local disk", false, true, nil},
	{"text -> agentE2ESink -> collectorSink into HDFS, close per commit", `agentE2ESink("127.0.0.1", %d)`, "", false, true,
		[]string{"-D", "flume.hdfs.close.per.commit=true"}},
}

// dpFigures are the figures of one data plane run.
type dpFigures struct {
	Seconds           float64
	Lines             int
	Bytes             int64
	P50, P99          time.Duration
	AgentRSS, ColRSS  int64
	Delivered, Copies int
}

func (f dpFigures) String() string {
	return fmt.Sprintf("%.0f lines/s, %.0f MB/s, ack p50 %s p99 %s, RSS agent %d MiB collector %d MiB",
		float64(f.Lines)/f.Seconds, float64(f.Bytes)/f.Seconds/1e6, ms(f.P50), ms(f.P99), f.AgentRSS>>20, f.ColRSS>>20)
}

// runDataplane prints the data plane table for the benchmarks matching re, count runs each.
func runDataplane(self string, re *regexp.Regexp, count int) error {
	var todo []dataplaneBench
	for _, b := range dataplaneBenches {
		if re.MatchString(b.name) {
			todo = append(todo, b)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	flumed := filepath.Join(filepath.Dir(self), "flumed")
	if _, err := os.Stat(flumed); err != nil {
		return fmt.Errorf("the data plane benchmarks run %s: build it first (make bench does): %w", flumed, err)
	}
	dir, err := os.MkdirTemp("", "flumebench-dp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	input := filepath.Join(dir, "in.log")
	size, err := writeNumbered(input, dpLines)
	if err != nil {
		return err
	}
	pkiDir := filepath.Join(dir, "pki")
	if _, err := (pki.Init{Dir: pkiDir, Hosts: []string{"127.0.0.1"}}).Run(); err != nil {
		return fmt.Errorf("certificates for the TLS rows: %w", err)
	}
	fmt.Printf("\ndata plane: agent and collector as separate flumed processes, %d lines of 180 bytes, median of %d runs\n\n", dpLines, count)
	fmt.Printf("| %-58s | %-96s | %-52s |\n", "pipeline", "figures", "target")
	fmt.Printf("|%s|%s|%s|\n", strings.Repeat("-", 60), strings.Repeat("-", 98), strings.Repeat("-", 54))
	failed := false
	for _, b := range todo {
		var runs []dpFigures
		for i := range count {
			f, err := runDataplaneOnce(flumed, filepath.Join(dir, fmt.Sprintf("run%d", i)), input, size, b, pkiDir)
			if err != nil {
				fmt.Printf("| %-58s | failed: %v\n", b.name, err)
				failed = true
				break
			}
			runs = append(runs, f)
		}
		if len(runs) < count {
			continue
		}
		best := medianBy(runs)
		fmt.Printf("| %-58s | %-96s | %-52s |\n", b.name, best, b.target)
	}
	if failed {
		return errors.New("a data plane benchmark failed")
	}
	return nil
}

func medianBy(runs []dpFigures) dpFigures {
	sorted := append([]dpFigures(nil), runs...)
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if sorted[j].Seconds < sorted[i].Seconds {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	return sorted[len(sorted)/2]
}

// tlsArgs are the -D settings of a node with the certificates in pkiDir, when b uses TLS.
func tlsArgs(b dataplaneBench, pkiDir string) []string {
	if !b.tls {
		return nil
	}
	return []string{"-D", "flume.tls.ca=" + filepath.Join(pkiDir, "ca.pem"),
		"-D", "flume.tls.cert=" + filepath.Join(pkiDir, "node.pem"), "-D", "flume.tls.key=" + filepath.Join(pkiDir, "node-key.pem")}
}

func runDataplaneOnce(flumed, dir, input string, size int64, b dataplaneBench, pkiDir string) (dpFigures, error) {
	var f dpFigures
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return f, err
	}
	defer os.RemoveAll(dir)
	port, err := freeTCPPort()
	if err != nil {
		return f, err
	}
	out := filepath.Join(dir, "out")
	sinkDir := out
	args := append(tlsArgs(b, pkiDir), b.props...)
	var cluster *minihdfs.Cluster
	if b.hdfs {
		if cluster, err = minihdfs.Start(minihdfs.Options{Dir: filepath.Join(dir, "hdfs")}); err != nil {
			return f, err
		}
		defer cluster.Close()
		sinkDir = "hdfs://" + cluster.NameNodeAddr() + "/bench"
		args = append(args, "-D", "flume.hdfs.user=flume")
	}
	var colLog bytes.Buffer
	col := exec.Command(flumed, append([]string{"node", "-n", "collector", "-s", "--data-dir", filepath.Join(dir, "col"),
		"-c", fmt.Sprintf(`collector1 : collectorSource(%d) | collectorSink(%q, "data-", 1000, raw) ;`, port, sinkDir)},
		args...)...)
	col.Stdout, col.Stderr = &colLog, &colLog
	if err := col.Start(); err != nil {
		return f, err
	}
	defer func() { _ = col.Process.Kill(); _ = col.Wait() }()
	if err := waitListening(port, 10*time.Second); err != nil {
		return f, fmt.Errorf("collector: %w\n%s", err, colLog.String())
	}
	report := filepath.Join(dir, "agent-report.json")
	var agentLog bytes.Buffer
	agent := exec.Command(flumed, append([]string{"node", "-n", "agent", "-s", "--oneshot", "--data-dir", filepath.Join(dir, "agent"),
		"--report", report, "-c", fmt.Sprintf(`agent1 : text(%q) | %s ;`, input, fmt.Sprintf(b.sink, port))},
		tlsArgs(b, pkiDir)...)...)
	agent.Stdout, agent.Stderr = &agentLog, &agentLog
	start := time.Now()
	if err := agent.Start(); err != nil {
		return f, err
	}
	done := make(chan error, 1)
	go func() { done <- agent.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case err := <-done:
			if err != nil {
				return f, fmt.Errorf("agent: %w\n%s", err, agentLog.String())
			}
			break wait
		case <-tick.C:
			f.AgentRSS = max(f.AgentRSS, procHWM(agent.Process.Pid))
		}
	}
	f.Seconds = time.Since(start).Seconds()
	f.Lines, f.Bytes = dpLines, size
	f.ColRSS = procHWM(col.Process.Pid)
	_ = col.Process.Signal(syscall.SIGTERM)
	_ = col.Wait()
	rep, err := os.ReadFile(report)
	if err != nil {
		return f, fmt.Errorf("agent report: %w", err)
	}
	var vals map[string]int64
	if err := json.Unmarshal(rep, &vals); err != nil {
		return f, err
	}
	for k, v := range vals {
		switch {
		case strings.HasSuffix(k, "ack_latency_p50_us"):
			f.P50 = time.Duration(v) * time.Microsecond
		case strings.HasSuffix(k, "ack_latency_p99_us"):
			f.P99 = time.Duration(v) * time.Microsecond
		}
	}
	if cluster != nil {
		f.Delivered, f.Copies, err = countNumberedHDFS(cluster.NameNodeAddr(), "/bench", dpLines)
	} else {
		f.Delivered, f.Copies, err = countNumbered(out, dpLines)
	}
	if err != nil {
		return f, err
	}
	if f.Delivered != dpLines || f.Copies != dpLines {
		return f, fmt.Errorf("delivered %d distinct lines in %d copies, want %d once each\n%s", f.Delivered, f.Copies, dpLines, agentLog.String())
	}
	return f, nil
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitListening(port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %d not listening after %v", port, timeout)
		}
		time.Sleep(20 * time.Millisecond) // the pace of the dial attempts
	}
}

// procHWM returns a process's peak resident set size in bytes.
func procHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
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

// writeNumbered writes n numbered lines of 180 bytes and returns the file's size.
func writeNumbered(path string, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	pad := strings.Repeat("x", dpPad)
	for i := range n {
		fmt.Fprintf(w, "line %08d %s\n", i, pad)
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), f.Close()
}

// countNumberedHDFS is countNumbered for a directory of the test HDFS, read through the client.
func countNumberedHDFS(addr, dir string, n int) (distinct, copies int, err error) {
	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{addr}, User: "flume"})
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	seen := make([]bool, n)
	err = c.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := c.ReadFile(p)
		if err != nil {
			return err
		}
		d, k := countLines(b, seen)
		distinct, copies = distinct+d, copies+k
		return nil
	})
	return distinct, copies, err
}

// countLines counts the numbered lines of b, marking them in seen.
func countLines(b []byte, seen []bool) (distinct, copies int) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) < 13 {
			continue
		}
		i, err := strconv.Atoi(string(line[5:13]))
		if err != nil || i < 0 || i >= len(seen) {
			continue
		}
		copies++
		if !seen[i] {
			seen[i] = true
			distinct++
		}
	}
	return distinct, copies
}

// countNumbered returns how many distinct numbered lines the files under dir hold, and how many
// lines in all.
func countNumbered(dir string, n int) (distinct, copies int, err error) {
	seen := make([]bool, n)
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dd, k := countLines(b, seen)
		distinct, copies = distinct+dd, copies+k
		return nil
	})
	return distinct, copies, err
}
