// Command flumebench measures Flume pipelines and prints a table of events/s, MB/s and peak
// memory. Each pipeline runs in a child process of its own, so the peak RSS it reports belongs
// to that pipeline alone.
//
//	flumebench                      # every pipeline
//	flumebench -run 'synth'         # pipelines whose name matches a regexp
//	flumebench -procs 1             # GOMAXPROCS of the children (default 1: one core)
//	flumebench -run 'control'       # only the control plane table (see control.go)
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// pipeline is one benchmark: a spec run to its end, and the number of events and body bytes it
// moves (known in advance, so the figures do not depend on counting inside the pipeline).
type pipeline struct {
	name   string
	spec   string // may hold {in} and {out}, replaced by files in a scratch directory
	events int64
	bytes  int64
	// prepare writes the input file, if the pipeline reads one.
	prepare func(path string) error
	// endless marks a source that never ends (tail, syslog): the run stops once the counter
	// named delivered holds every event.
	endless bool
	// feed, if set, runs beside an endless pipeline and produces its input (a syslog client).
	feed func(ctx context.Context, port int) error
}

const (
	synthEvents = 20_000_000
	synthSize   = 100
	textLines   = 2_000_000
	textSize    = 100
	decoEvents  = 3_000_000
)

const (
	tailLines    = 10_000_000
	dirFiles     = 1000
	dirLines     = 10_000
	syslogEvents = 1_000_000
)

var pipelines = []pipeline{
	{
		name:   "asciisynth | counter",
		spec:   fmt.Sprintf(`bench : asciisynth(%d, %d) | counter("delivered") ;`, synthEvents, synthSize),
		events: synthEvents, bytes: synthEvents * synthSize,
	},
	{
		name:   "text | text",
		spec:   `bench : text("{in}") | text("{out}") ;`,
		events: textLines, bytes: textLines * textSize,
		prepare: func(path string) error { return writeLines(path, textLines, textSize) },
	},
	{
		name:   "tail (1 file) | counter",
		spec:   `bench : tail("{in}") | counter("delivered") ;`,
		events: tailLines, bytes: tailLines * textSize, endless: true,
		prepare: func(path string) error { return writeLines(path, tailLines, textSize) },
	},
	{
		name:   "tailDir (1,000 files) | counter",
		spec:   `bench : tailDir("{in}") | counter("delivered") ;`,
		events: dirFiles * dirLines, bytes: dirFiles * dirLines * textSize, endless: true,
		prepare: func(path string) error { return writeDir(path, dirFiles, dirLines, textSize) },
	},
	{
		name:   "syslogTcp (RFC 5424, one connection) | counter",
		spec:   `bench : syslogTcp({port}) | counter("delivered") ;`,
		events: syslogEvents, bytes: syslogEvents * syslogSize, endless: true,
		feed: feedSyslog,
	},
	{
		name: "asciisynth | 5 decorators | counter",
		spec: fmt.Sprintf(`bench : asciisynth(%d, %d) | value("dc", "east") value("env", "prod") `+
			`regex("([a-f]+)", 1, "word") mask("env") digest("MD5", "md5") counter("delivered") ;`, decoEvents, synthSize),
		events: decoEvents, bytes: decoEvents * synthSize,
	},
	{
		name:   "asciisynth | batch(100) gzip gunzip unbatch | counter",
		spec:   fmt.Sprintf(`bench : asciisynth(%d, %d) | batch(100) gzip gunzip unbatch counter("delivered") ;`, decoEvents, synthSize),
		events: decoEvents, bytes: decoEvents * synthSize,
	},
}

// result is what a child reports to the parent, as JSON on its stdout.
type result struct {
	Name       string  `json:"name"`
	Seconds    float64 `json:"seconds"`
	Events     int64   `json:"events"`
	Bytes      int64   `json:"bytes"`
	PeakRSSKiB int64   `json:"peak_rss_kib"`
	Error      string  `json:"error,omitempty"`
}

func main() {
	runPattern := flag.String("run", ".", "run the pipelines whose name matches this regexp")
	procs := flag.Int("procs", 1, "GOMAXPROCS for each pipeline")
	count := flag.Int("count", 3, "runs of each pipeline; the median run is reported")
	one := flag.String("one", "", "run the named pipeline or benchmark in this process, printing its figures as JSON")
	cpuProfile := flag.String("cpuprofile", "", "with -one: write a CPU profile of the run to this file")
	flag.Parse()
	if *one != "" {
		if *cpuProfile != "" {
			stop, err := startCPUProfile(*cpuProfile)
			if err != nil {
				fmt.Fprintln(os.Stderr, "flumebench: -cpuprofile:", err)
				os.Exit(2)
			}
			defer stop()
		}
		if runControlOne(*one) {
			return
		}
		r := runOne(*one)
		_ = json.NewEncoder(os.Stdout).Encode(r)
		if r.Error != "" {
			os.Exit(1)
		}
		return
	}
	re, err := regexp.Compile(*runPattern)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flumebench: -run:", err)
		os.Exit(2)
	}
	if *count < 1 {
		fmt.Fprintln(os.Stderr, "flumebench: -count must be 1 or more")
		os.Exit(2)
	}
	if err := runAll(re, *procs, *count); err != nil {
		fmt.Fprintln(os.Stderr, "flumebench:", err)
		os.Exit(1)
	}
}

func runAll(re *regexp.Regexp, procs, count int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("flumebench: %s, %s/%s, %d CPUs on the machine\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	if !slices.ContainsFunc(pipelines, func(p pipeline) bool { return re.MatchString(p.name) }) {
		if err := runDataplane(self, re, count); err != nil {
			return err
		}
		return runControl(self, re)
	}
	fmt.Printf("\npipelines: GOMAXPROCS=%d per pipeline, median of %d runs\n\n", procs, count)
	fmt.Printf("| %-56s | %12s | %10s | %9s | %13s |\n", "pipeline", "events/s", "MB/s", "seconds", "peak RSS MiB")
	fmt.Printf("|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 58), strings.Repeat("-", 14), strings.Repeat("-", 12),
		strings.Repeat("-", 11), strings.Repeat("-", 15))
	failed := false
	for _, p := range pipelines {
		if !re.MatchString(p.name) {
			continue
		}
		runs := make([]result, 0, count)
		for range count {
			r, err := runChild(self, p.name, procs)
			if err != nil {
				return err
			}
			if r.Error != "" {
				fmt.Printf("| %-56s | failed: %s\n", p.name, r.Error)
				failed = true
				break
			}
			runs = append(runs, r)
		}
		if len(runs) < count {
			continue
		}
		slices.SortFunc(runs, func(a, b result) int { return cmp.Compare(a.Seconds, b.Seconds) })
		r := runs[len(runs)/2]
		fmt.Printf("| %-56s | %12.0f | %10.1f | %9.2f | %13.1f |\n", strings.ReplaceAll(r.Name, "|", `\|`),
			float64(r.Events)/r.Seconds, float64(r.Bytes)/r.Seconds/1e6, r.Seconds, float64(r.PeakRSSKiB)/1024)
	}
	if failed {
		return fmt.Errorf("a pipeline failed")
	}
	if err := runDataplane(self, re, count); err != nil {
		return err
	}
	return runControl(self, re)
}

// runChild runs one pipeline in a child process and returns what it reports.
func runChild(self, name string, procs int) (result, error) {
	cmd := exec.Command(self, "-one", name)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(procs))
	cmd.Stderr = os.Stderr
	out, runErr := cmd.Output()
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("%s: no result (%v): %s", name, runErr, out)
	}
	return r, nil
}

func runOne(name string) result {
	r := result{Name: name}
	for _, p := range pipelines {
		if p.name != name {
			continue
		}
		secs, err := measure(p)
		if err != nil {
			r.Error = err.Error()
			return r
		}
		r.Seconds, r.Events, r.Bytes, r.PeakRSSKiB = secs, p.events, p.bytes, peakRSS()
		return r
	}
	r.Error = "no such pipeline"
	return r
}

// measure builds the pipeline and times it from the first Open to the last Close.
func measure(p pipeline) (float64, error) {
	dir, err := os.MkdirTemp("", "flumebench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	if p.prepare != nil {
		if err := p.prepare(in); err != nil {
			return 0, fmt.Errorf("prepare input: %w", err)
		}
	}
	port, err := freeTCPPort()
	if err != nil {
		return 0, err
	}
	text := strings.NewReplacer("{in}", in, "{out}", out, "{port}", strconv.Itoa(port)).Replace(p.spec)
	defs, err := spec.ParseNodes(text)
	if err != nil {
		return 0, err
	}
	m := metrics.NewRegistry()
	f, err := flow.Build(&plugin.BuildContext{Registry: builtin.Registry(), Stdout: io.Discard, Metrics: m}, defs[0])
	if err != nil {
		return 0, err
	}
	d := flow.NewDriver(f, flow.DriverOptions{})
	start := time.Now()
	if p.endless {
		return runEndless(p, d, m, start, port)
	}
	if err := d.Run(context.Background()); err != nil {
		return 0, err
	}
	secs := time.Since(start).Seconds()
	return secs, checkDelivered(p, m, out)
}

// runEndless runs a pipeline whose source never ends until it delivered every event.
func runEndless(p pipeline, d *flow.Driver, m *metrics.Registry, start time.Time, port int) (float64, error) {
	d.Start()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feedErr := make(chan error, 1)
	if p.feed != nil {
		go func() { feedErr <- p.feed(ctx, port) }()
	}
	delivered := func() int64 {
		for _, v := range m.Snapshot() {
			if strings.HasSuffix(v.Name, ".delivered") {
				return v.Value
			}
		}
		return 0
	}
	deadline := time.Now().Add(5 * time.Minute)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for delivered() < p.events {
		select {
		case <-d.Done():
			return 0, fmt.Errorf("the pipeline ended after %d of %d events: %v", delivered(), p.events, d.Status().Err)
		case err := <-feedErr:
			if err != nil {
				return 0, fmt.Errorf("feeding the pipeline: %w", err)
			}
			feedErr = nil
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d of %d events after 5 minutes", delivered(), p.events)
		}
	}
	secs := time.Since(start).Seconds()
	cancel()
	sctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	_ = d.Stop(sctx)
	if n := delivered(); n != p.events {
		return 0, fmt.Errorf("delivered %d events, want %d", n, p.events)
	}
	return secs, nil
}

// checkDelivered checks that everything reached the end of the pipeline: the counter at its end
// sink, or the output file, so that a pipeline that loses events cannot post a figure.
func checkDelivered(p pipeline, m *metrics.Registry, out string) error {
	if strings.Contains(p.spec, "{out}") {
		st, err := os.Stat(out)
		if err != nil {
			return err
		}
		if st.Size() != p.bytes {
			return fmt.Errorf("wrote %d bytes, want %d", st.Size(), p.bytes)
		}
		return nil
	}
	for _, v := range m.Snapshot() {
		if strings.HasSuffix(v.Name, ".delivered") {
			if v.Value != p.events {
				return fmt.Errorf("delivered %d events, want %d", v.Value, p.events)
			}
			return nil
		}
	}
	return fmt.Errorf("no delivered counter at the end of the pipeline")
}

// writeLines writes n lines of size bytes (newline included) of printable text.
func writeLines(path string, n, size int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	line := make([]byte, size)
	for i := 0; i < n; i++ {
		for j := range line[:size-1] {
			line[j] = byte('a' + (i+j)%26)
		}
		line[size-1] = '\n'
		if _, err := w.Write(line); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// peakRSS returns the process's peak resident set size in KiB (VmHWM), or 0 where unknown.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// startCPUProfile profiles the process into path until the returned function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
