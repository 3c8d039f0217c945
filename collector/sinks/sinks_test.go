package sinks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"go.uber.org/goleak"

	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/internal/hadoop/seqfile"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/format"
	"github.com/flumego/flume/node/localcommit"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

// TestMain fails the package's tests if a roll timer outlives its sink's Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 11, 26, 10, 39, 15, 0, time.UTC)

// newEnv returns a build environment for the sinks; with log set, the node has that commit
// point and the sinks commit what they write.
func newEnv(props map[string]string, log commitpoint.Log) *plugintest.Env {
	env := plugintest.NewEnv(props, format.Register, Register)
	if log != nil {
		env.BuildContext.Commits = log
		env.BuildContext.PhysicalNode = "c1"
	}
	return env
}

func ev(body string, ts time.Time, host string) *event.Event {
	return &event.Event{Body: []byte(body), Timestamp: ts.UnixNano(), Priority: event.INFO, Host: host}
}

func appendAll(t testing.TB, s plugin.Sink, batches ...[]*event.Event) {
	t.Helper()
	for _, b := range batches {
		if err := s.Append(context.Background(), b); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}

func closeSink(t testing.TB, s plugin.Sink) {
	t.Helper()
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// tree returns every file under dir by slash-separated relative path, with its content.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// tagRe matches the roll tag, unique part and sequence a collectorSink file name ends with.
const tagRe = `[0-9]{8}-[0-9]{9}[+-][0-9]{4}\.[0-9]{13}\.[0-9]{8}`

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		spec  string
		props map[string]string
		col   int // column of the error, 0 to skip the check
		want  string
	}{
		{`collectorSink("/x")`, nil, 1, `missing argument "fileprefix"; usage: collectorSink("fsdir", "fileprefix"[, rollmillis=`},
		{`collectorSink("/x", "p", "-5")`, nil, 26, `argument rollmillis: want a duration (milliseconds or "10s"), got string "-5"`},
		{`collectorSink("/x", "p", 0)`, nil, 26, "collectorSink: argument rollmillis: must be more than 0"},
		{`collectorSink("hdfs://nn:http/flume/%Y/", "p")`, nil, 15, `argument fsdir: hdfs: "hdfs://nn:http/flume/%Y/p": port "http" of "nn:http" is not a TCP port`},
		{`collectorSink("hdfs:///flume/", "p")`, map[string]string{"flume.hdfs.conf.dir": "/nonexistent"}, 15,
			`argument fsdir: hdfs: "hdfs:///flume/p" names no NameNode, and fs.defaultFS is unset: no core-site.xml or hdfs-site.xml was found in /nonexistent`},
		{`collectorSink("/x", "p", 1000, nosuch)`, nil, 32, `unknown output format "nosuch"`},
		{`collectorSink("/x", "p", 1000, raw, 5)`, nil, 0, "too many arguments"},
		{`collectorSink("", "p")`, nil, 15, "argument fsdir: empty directory"},
		{`collectorSink("/x", "p")`, map[string]string{propFormat: "nosuch"}, 1, `unknown output format "nosuch"`},
		{`collectorSink("/x", "p")`, map[string]string{propCodec: "LzoCodec"}, 1, `flume.collector.dfs.compress.codec: unknown compression codec "LzoCodec"`},
		{`dfs("s3n://bucket/x")`, nil, 5, `unsupported scheme "s3n://"`},
		{`dfs("/x/%{host}/")`, nil, 5, "no file name"},
		{`customdfs("")`, nil, 11, "argument path: empty path"},
		{`formatDfs("/x", avrodata("lz4"))`, nil, 0, `unknown codec "lz4"`},
		{`escapedCustomDfs("/x/%Y", "../%{host}")`, nil, 18, `".." component`},
		{`escapedFormatDfs("hdfs://@nn/x", "f")`, nil, 18, "empty user before '@'"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			env := newEnv(tc.props, nil)
			_, err := env.BuildSink(t, tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("build error %v, want one containing %q", err, tc.want)
			}
			errs := spec.Errors(err)
			if len(errs) != 1 || errs[0].Line != 1 || (tc.col != 0 && errs[0].Col != tc.col) {
				t.Errorf("error %v is not positioned at 1:%d", err, tc.col)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	env := newEnv(nil, nil)
	got := plugintest.Names(t, env.Registry, plugin.KindSink)
	want := []string{"collectorSink", "customdfs", "dfs", "escapedCustomDfs", "escapedFormatDfs", "formatDfs"}
	if !slices.Equal(got, want) {
		t.Errorf("sinks %q, want %q", got, want)
	}
	e, _ := env.Registry.Lookup(plugin.KindSink, "escapedCustomDfs")
	if u := e.Usage(); u != `escapedCustomDfs("path"[, "file"[, format=flume.collector.output.format]])` {
		t.Errorf("usage %s", u)
	}
}

// collectorSink buckets events by their own time into directories, names files prefix + roll
// tag, and finalizes them every rollmillis without waiting for Close.
func TestCollectorSinkBucketsAndRolls(t *testing.T) {
	dir := t.TempDir()
	env := newEnv(nil, nil)
	s := env.OpenSink(t, fmt.Sprintf(`collectorSink("%s/%%Y-%%m-%%d/%%H00/", "%%{host}-", 50, raw)`, dir))
	h10, h11 := t0, t0.Add(time.Hour)
	appendAll(t, s, []*event.Event{ev("a", h10, "web1"), ev("b", h11, "web1"), ev("c", h10, "web2")})
	plugintest.Eventually(t, 5*time.Second, func() bool {
		files := tree(t, dir)
		return len(files) == 3 && !slices.ContainsFunc(keys(files), func(k string) bool { return strings.HasSuffix(k, ".tmp") })
	}, func() string { return fmt.Sprintf("files %q, want 3 finalized", keys(tree(t, dir))) })
	appendAll(t, s, []*event.Event{ev("d", h10, "web1")})
	closeSink(t, s)

	hourDir := func(ts time.Time) string { return ts.Local().Format("2006-01-02/1500") }
	want := map[string]string{ // directory/host -> contents, across rolls
		hourDir(h10) + "/web1-": "a\nd\n",
		hourDir(h11) + "/web1-": "b\n",
		hourDir(h10) + "/web2-": "c\n",
	}
	got := map[string]string{}
	re := regexp.MustCompile(`^(.*/web[12]-)` + tagRe + `$`)
	files := tree(t, dir)
	for _, name := range keys(files) { // names sort by opening time
		content := files[name]
		m := re.FindStringSubmatch(name)
		if m == nil {
			t.Fatalf("file %q is not named dir/host-tag", name)
		}
		got[m[1]] += content
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("contents %v, want %v", got, want)
	}
	if n := env.Counter("collectorSink.events_out"); n != 4 {
		t.Errorf("events_out = %d, want 4", n)
	}
	if n := env.Counter("collectorSink.files_finalized"); n != 4 {
		t.Errorf("files_finalized = %d, want 4", n)
	}
}

// Open finalizes what a killed run left, keeping it whole; files that are not the sink's
// stay as they are.
func TestOpenRecoversLeftovers(t *testing.T) {
	dir := t.TempDir()
	left := "web-20261126-103915123+0000.1234567890123.00000001"
	for name, content := range map[string]string{left + ".tmp": "old\n", "other.tmp": "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := newEnv(nil, nil)
	s := env.OpenSink(t, fmt.Sprintf(`collectorSink(%q, "web-", 60000, raw)`, dir))
	got := tree(t, dir)
	if got[left] != "old\n" || got["other.tmp"] != "x" || len(got) != 2 {
		t.Errorf("after Open: %q", keys(got))
	}
	closeSink(t, s)
}

func TestDfsSinks(t *testing.T) {
	tests := []struct {
		name string
		spec string // %[1]s is the directory
		want map[string]string
	}{
		{"dfs expands escapes", `dfs("%[1]s/%%{host}.log", raw)`,
			map[string]string{"web1.log": "a\nc\n", "web2.log": "b\n"}},
		{"customdfs keeps escapes", `customdfs("%[1]s/%%{host}.log", raw)`,
			map[string]string{"%{host}.log": "a\nb\nc\n"}},
		{"formatDfs", `formatDfs("%[1]s/out", format=raw)`,
			map[string]string{"out": "a\nb\nc\n"}},
		{"escapedCustomDfs", `escapedCustomDfs("%[1]s/%%{host}", "%%Y.txt", raw)`,
			map[string]string{"web1/" + t0.Local().Format("2006") + ".txt": "a\nc\n", "web2/" + t0.Local().Format("2006") + ".txt": "b\n"}},
		{"escapedFormatDfs without file", `escapedFormatDfs("%[1]s/%%{host}", format=raw)`,
			map[string]string{"web1": "a\nc\n", "web2": "b\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newEnv(nil, nil).OpenSink(t, fmt.Sprintf(tc.spec, dir))
			appendAll(t, s, []*event.Event{ev("a", t0, "web1"), ev("b", t0, "web2")}, []*event.Event{ev("c", t0, "web1")})
			closeSink(t, s)
			if got := tree(t, dir); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("files %v, want %v", got, tc.want)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// A dfs sink reopened never replaces the file it wrote before.
func TestDfsReopenKeepsTheFirstFile(t *testing.T) {
	dir := t.TempDir()
	s := newEnv(nil, nil).OpenSink(t, fmt.Sprintf(`customdfs("%s/out", raw)`, dir))
	appendAll(t, s, []*event.Event{ev("first", t0, "h")})
	closeSink(t, s)
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, []*event.Event{ev("second", t0, "h")})
	closeSink(t, s)
	want := map[string]string{"out": "first\n", "out.1": "second\n"}
	if got := tree(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files %v, want %v", got, want)
	}
}

// Without a format argument, the sinks write flume.collector.output.format (avrojson unless
// set), compressed per flume.collector.dfs.compress.codec.
func TestDefaultFormatAndCompression(t *testing.T) {
	tests := []struct {
		props  map[string]string
		format string
		ext    string
	}{
		{nil, "avrojson", ""},
		{map[string]string{propFormat: "json"}, "json", ""},
		{map[string]string{propCodec: "GzipCodec", propFormat: "raw"}, "raw", ".gz"},
		{map[string]string{propCodec: "gzip", propFormat: "debug"}, "debug", ".gz"},
	}
	for _, tc := range tests {
		t.Run(tc.format+tc.ext, func(t *testing.T) {
			dir := t.TempDir()
			env := newEnv(tc.props, nil)
			s := env.OpenSink(t, fmt.Sprintf(`dfs("%s/out")`, dir))
			evs := []*event.Event{ev("a", t0, "web1"), ev("b", t0, "web1")}
			appendAll(t, s, evs)
			closeSink(t, s)
			data := []byte(tree(t, dir)["out"+tc.ext])
			if tc.ext == ".gz" {
				gz, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				if data, err = io.ReadAll(gz); err != nil {
					t.Fatal(err)
				}
			}
			f, err := env.Registry.BuildFormat(env.BuildContext, &spec.Call{Name: tc.format})
			if err != nil {
				t.Fatal(err)
			}
			if want := plugintest.Encode(t, f, evs...); !bytes.Equal(data, want) {
				t.Errorf("file holds %q, want %q", data, want)
			}
		})
	}
}

func TestAppendBeforeOpen(t *testing.T) {
	s, err := newEnv(nil, nil).BuildSink(t, `collectorSink("/nonexistent/x", "p")`)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), []*event.Event{ev("a", t0, "h")}); !errors.Is(err, ErrNotOpen) {
		t.Errorf("Append before Open = %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("Close without Open = %v", err)
	}
	if s.(StoreSink).Writer() != nil {
		t.Error("Writer before Open")
	}
}

// openCommitLog opens a node's own commit point in a temporary directory.
func openCommitLog(t *testing.T) *localcommit.Log {
	t.Helper()
	log, err := localcommit.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = log.Close() })
	return log
}

// On a node with a commit point, a sink commits what it writes: a leftover file is cut to its
// committed length at Open; a batch returns once it is committed; a file is finished once all
// it holds is committed, and the commit point then forgets its length.
func TestCommittedSink(t *testing.T) {
	dir := t.TempDir()
	log := openCommitLog(t)
	ctx := context.Background()
	left := "web-20261126-103915123+0000.1234567890123.00000001"
	if err := os.WriteFile(filepath.Join(dir, left+".tmp"), []byte("committed\nuncommit"), 0o644); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, left)
	if _, err := log.Commit(ctx, "c1", []commitpoint.Commit{{Files: []commitpoint.FileLength{{File: key, Length: int64(len("committed\n"))}}}}); err != nil {
		t.Fatal(err)
	}
	s := newEnv(nil, log).OpenSink(t, fmt.Sprintf(`collectorSink(%q, "web-", 60000, raw)`, dir))
	appendAll(t, s, []*event.Event{ev("one", t0, "h")}, []*event.Event{ev("two", t0, "h")})
	lengths, err := log.FileLengths(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	var written string
	for f, n := range lengths {
		if f != key && n == int64(len("one\ntwo\n")) {
			written = f
		}
	}
	if written == "" {
		t.Fatalf("committed lengths %v: want the new file at %d bytes", lengths, len("one\ntwo\n"))
	}
	closeSink(t, s)
	got := tree(t, dir)
	if got[left] != "committed\n" || got[strings.TrimPrefix(written, dir+"/")] != "one\ntwo\n" || len(got) != 2 {
		t.Fatalf("files %q", got)
	}
	if lengths, err = log.FileLengths(ctx, "c1"); err != nil || len(lengths) != 0 {
		t.Errorf("committed lengths after Close %v, %v: want the finished files forgotten", lengths, err)
	}
}

// failingLog is a commit point that fails every commit while refuse is set.
type failingLog struct {
	commitpoint.Log
	mu     sync.Mutex
	refuse error
}

func (l *failingLog) Commit(ctx context.Context, collector string, chunks []commitpoint.Commit) (commitpoint.Outcome, error) {
	l.mu.Lock()
	err := l.refuse
	l.mu.Unlock()
	if err != nil {
		return commitpoint.Outcome{}, err
	}
	return l.Log.Commit(ctx, collector, chunks)
}

// A batch waits for its commit; a commit point that does not answer keeps the files open,
// and once it answers again everything is committed and finished.
func TestUncommittedFilesStayOpen(t *testing.T) {
	dir := t.TempDir()
	log := &failingLog{Log: openCommitLog(t), refuse: errors.New("master unreachable")}
	s := newEnv(nil, log).OpenSink(t, fmt.Sprintf(`collectorSink(%q, "web-", 20, raw)`, dir))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := s.Append(ctx, []*event.Event{ev("one", t0, "h")})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append while the commit point fails = %v, want it to wait until its context ends", err)
	}
	w := s.(StoreSink).Writer()
	if open := w.Open(); len(open) != 1 {
		t.Fatalf("open files %q, want the uncommitted one", open)
	}
	log.mu.Lock()
	log.refuse = nil
	log.mu.Unlock()
	plugintest.Eventually(t, 10*time.Second, func() bool { return len(w.Open()) == 0 },
		func() string { return fmt.Sprintf("files still open: %q", w.Open()) })
	closeSink(t, s)
	for name, content := range tree(t, dir) {
		if strings.HasSuffix(name, ".tmp") || content != "one\n" {
			t.Errorf("%s holds %q", name, content)
		}
	}
}

// A sink without a commit point sets aside, durably, the events whose names the storage refuses,
// writes the others, and says so in its condition; a dead letter keeps the event whole, bytes
// that are not UTF-8 in base64.
func TestDeadLettersWithoutCommitter(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "blocked"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := newEnv(nil, nil)
	env.BuildContext.PhysicalNode = "host/1"
	s := env.OpenSink(t, fmt.Sprintf(`collectorSink("%s/%%{tag}/", "web-", 60000, raw)`, dir))
	poison := ev("poison \xff", t0, "h\xfe")
	_ = poison.SetAttr("tag", []byte("blocked"))
	good := ev("good", t0, "h")
	_ = good.SetAttr("tag", []byte("ok"))
	appendAll(t, s, []*event.Event{good, poison})
	note := s.(plugin.Conditioner).Condition()
	if !strings.Contains(note, "dead letters: 1 event set aside in "+filepath.Join(dir, "dead-letter")) ||
		!strings.Contains(note, "not a directory") {
		t.Errorf("condition %q", note)
	}
	closeSink(t, s)
	files := tree(t, dir)
	var dead string
	for name, content := range files {
		switch {
		case strings.HasPrefix(name, "ok/web-"):
			if content != "good\n" {
				t.Errorf("%s holds %q", name, content)
			}
		case regexp.MustCompile(`^dead-letter/host_1-` + tagRe + `\.jsonl$`).MatchString(name):
			dead = content
		case name != "blocked":
			t.Errorf("unexpected file %s", name)
		}
	}
	var r struct {
		Sink, Reason, Priority string
		Timestamp              int64
		Host, Body             map[string]string
		Attrs                  [][2]string
	}
	if err := json.Unmarshal([]byte(dead), &r); err != nil {
		t.Fatalf("dead letter %q: %v", dead, err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	if r.Sink != "host/1" || r.Timestamp != t0.UnixNano() || r.Priority != "INFO" ||
		r.Body["base64"] != b64("poison \xff") || r.Host["base64"] != b64("h\xfe") ||
		fmt.Sprint(r.Attrs) != "[[tag blocked]]" || !strings.Contains(r.Reason, "refuses the file name") {
		t.Errorf("dead letter %s", dead)
	}
	if n := env.Counter("collectorSink.events_dead_lettered"); n != 1 {
		t.Errorf("events_dead_lettered = %d, want 1", n)
	}
}

// flume.collector.roll.bytes ends a file at a size, and the sink finalizes it within a second,
// long before its roll period; committed sinks do it once the file's data is committed.
func TestRollBytesFinalizesFullFiles(t *testing.T) {
	for _, committed := range []bool{false, true} {
		t.Run(fmt.Sprintf("committed=%v", committed), func(t *testing.T) {
			dir := t.TempDir()
			var log commitpoint.Log
			if committed {
				log = openCommitLog(t)
			}
			env := newEnv(map[string]string{propRollBytes: "20"}, log)
			s := env.OpenSink(t, fmt.Sprintf(`collectorSink(%q, "web-", 3600000, raw)`, dir))
			for i := range 10 {
				appendAll(t, s, []*event.Event{ev(fmt.Sprintf("line %d", i), t0, "h")}) // 7 bytes each
			}
			var finals []string
			plugintest.Eventually(t, 10*time.Second, func() bool {
				finals = finals[:0]
				for name := range tree(t, dir) {
					if !strings.HasSuffix(name, ".tmp") {
						finals = append(finals, name)
					}
				}
				return len(finals) == 3
			}, func() string { return fmt.Sprintf("finalized files %q, want 3 full ones", finals) })
			closeSink(t, s)
			var all []string
			for _, content := range tree(t, dir) {
				all = append(all, strings.Split(strings.TrimSuffix(content, "\n"), "\n")...)
			}
			slices.Sort(all)
			if len(all) != 10 {
				t.Errorf("lines %q, want 10", all)
			}
		})
	}
}

// The seqfile format writes Hadoop SequenceFiles of classic Flume's records, compressed by
// block or by record with a Hadoop codec, and a file cut at a roll stays valid; bad arguments
// say what is wrong.
func TestSeqfileOutput(t *testing.T) {
	for _, f := range []string{`seqfile`, `seqfile("gzip")`, `seqfile("BZip2Codec", compression="record")`, `seqfile("None")`, `seqfile("snappy")`} {
		t.Run(f, func(t *testing.T) {
			dir := t.TempDir()
			s := newEnv(nil, nil).OpenSink(t, fmt.Sprintf(`collectorSink(%q, "web-", 60000, %s)`, dir, f))
			appendAll(t, s, []*event.Event{ev("one", t0, "h1"), ev("two", t0, "h2")}, []*event.Event{ev("three", t0, "h3")})
			closeSink(t, s)
			files := tree(t, dir)
			if len(files) != 1 {
				t.Fatalf("files %q", keys(files))
			}
			for _, content := range files {
				r, err := seqfile.NewReader(strings.NewReader(content))
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for {
					_, v, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					e, err := seqfile.DecodeWriteableEvent(v)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, string(e.Body)+"@"+e.Host)
				}
				if want := []string{"one@h1", "two@h2", "three@h3"}; !slices.Equal(got, want) {
					t.Errorf("records %q, want %q", got, want)
				}
			}
		})
	}
	for _, tc := range []struct{ spec, want string }{
		{`collectorSink("/x", "p", 1000, seqfile("lzo"))`, `unknown compression codec "lzo"`},
		{`collectorSink("/x", "p", 1000, seqfile("gzip", compression="stream"))`, `unknown compression "stream"; want block, record or none`},
	} {
		if _, err := newEnv(nil, nil).BuildSink(t, tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.spec, err, tc.want)
		}
	}
}
