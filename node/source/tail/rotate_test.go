package tail

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// underLoad follows a log that writeLoad writes and rotates, restarting the source every few
// hundred events, gracefully or as by a crash, and returns what was delivered and the lines
// written.
func underLoad(t *testing.T, path string, rotate func(w *logWriter) func()) (*flowSim, []string) {
	const total, every, rate = 30000, 3000, 15000
	w := newLogWriter(t, path)
	wait := writeLoad(w, total, every, rate, rotate(w))
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	finished := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	d := &flowSim{t: t, env: logTo(t, newEnv(fastPoll)), spec: tailSpec(path, "")}
	rng := rand.New(rand.NewPCG(1, 2))
	for !finished() {
		until := len(d.got) + 200 + rng.IntN(2000)
		d.run(func() bool { return len(d.got) >= until || finished() }, rng.IntN(2) == 0)
	}
	<-done
	want := numbered(0, w.seq)
	deadline := time.Now().Add(20 * time.Second)
	d.run(func() bool { return len(d.got) >= len(want) || time.Now().After(deadline) }, true)
	return d, want
}

func TestTailRenameRotationUnderLoadWithRestartsLosesAndRepeatsNothing(t *testing.T) {
	path := logPath(t)
	d, want := underLoad(t, path, func(w *logWriter) func() { return w.renameRotate })
	checkOnce(t, d.got, want)
	if d.runs < 5 {
		t.Errorf("only %d runs: the restarts were not exercised", d.runs)
	}
	if n := d.env.Counter("tail.rotations"); n == 0 {
		t.Error("no rotation seen")
	}
}

func TestTailCopyTruncateUnderLoadWithRestartsReadsTheCopy(t *testing.T) {
	path := logPath(t)
	d, want := underLoad(t, path, func(w *logWriter) func() { return w.copyTruncate })
	// The writer copies and truncates with no write in between: the copy holds every line,
	// so nothing is lost, and nothing may come twice.
	checkOnce(t, d.got, want)
	if n := d.env.Counter("tail.bytes_lost_truncated"); n != 0 {
		t.Errorf("bytes_lost_truncated = %d, want 0", n)
	}
	if n := d.env.Counter("tail.truncations"); n == 0 {
		t.Error("no truncation seen")
	}
}

// bigLog writes n numbered lines of 9 bytes to path: more than one read buffer.
func bigLog(t *testing.T, path string, n int) int64 {
	t.Helper()
	var b []byte
	for i := range n {
		b = fmt.Appendf(b, "%08d\n", i)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return int64(len(b))
}

// TestTailTruncationCountsTheBytesItCannotRead truncates a file in place while most of it is
// still unread: what was delivered of the old content and the count of lost bytes make up the
// old size exactly, and the new content follows whole.
func TestTailTruncationCountsTheBytesItCannotRead(t *testing.T) {
	for _, copied := range []bool{false, true} {
		t.Run(fmt.Sprintf("copy %v", copied), func(t *testing.T) {
			path := logPath(t)
			size := bigLog(t, path, 100000)
			e := newEnv(fastPoll)
			r := &reader{t: t, s: e.OpenSource(t, tailSpec(path, ""))}
			r.until(1000) // one read buffer is read, most of the file is not
			if copied {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path+".1", data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			appendTo(t, path, "new 1\nnew 2\n")
			var old []string
			got := r.untilLast("new 2")
			if b := string(got[len(got)-2].Body); b != "new 1" {
				t.Fatalf("event before the last %q, want new 1", b)
			}
			var delivered int64
			for _, ev := range got[:len(got)-2] {
				old = append(old, string(ev.Body))
				if len(ev.Body) == 8 {
					delivered += 9
				} else {
					delivered += int64(len(ev.Body)) // the fragment the truncation cut
				}
			}
			lost := e.Counter("tail.bytes_lost_truncated")
			if delivered+lost != size {
				t.Fatalf("delivered %d bytes and lost %d of %d", delivered, lost, size)
			}
			if copied {
				if lost != 0 {
					t.Errorf("lost %d bytes with a copy at hand", lost)
				}
				checkOnce(t, old, numberedFmt("%08d", 0, 100000))
			} else if lost == 0 {
				t.Error("nothing counted lost")
			}
		})
	}
}

func numberedFmt(format string, from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf(format, i))
	}
	return out
}

// TestTailResumesAfterRotationWhileDown rotates the log, in several ways, between two runs:
// the second run finds the file the position names where it went, reads it on from the
// position, then what came after it, in order.
func TestTailResumesAfterRotationWhileDown(t *testing.T) {
	write := func(t *testing.T, path string, from, to int) {
		t.Helper()
		appendTo(t, path, joinLines(numbered(from, to)))
	}
	rename := func(t *testing.T, from, to string) {
		t.Helper()
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		down func(t *testing.T, path string) // between the runs; lines 100 on
	}{
		{"rename and create", func(t *testing.T, path string) {
			write(t, path, 100, 150)
			rename(t, path, path+".1")
			write(t, path+".1", 150, 160) // the writer had not reopened yet
			write(t, path, 160, 200)
		}},
		{"two rotations", func(t *testing.T, path string) {
			write(t, path, 100, 150)
			rename(t, path, path+".1")
			write(t, path, 150, 200)
			rename(t, path+".1", path+".2")
			rename(t, path, path+".1")
			write(t, path, 200, 250)
		}},
		{"dated rotation, name not yet back", func(t *testing.T, path string) {
			write(t, path, 100, 150)
			rename(t, path, path+"-20240101")
		}},
		{"copytruncate", func(t *testing.T, path string) {
			write(t, path, 100, 150)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+".1", data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			write(t, path, 150, 200)
		}},
		{"two copytruncates", func(t *testing.T, path string) {
			for i, to := range []int{150, 200} {
				write(t, path, to-50, to)
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				copyTo := fmt.Sprintf("%s.%d", path, i+1)
				if err := os.WriteFile(copyTo, data, 0o644); err != nil {
					t.Fatal(err)
				}
				// The rotations were a minute apart.
				then := time.Now().Add(time.Duration(i-2) * time.Minute)
				if err := os.Chtimes(copyTo, then, then); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
			}
			write(t, path, 200, 250)
		}},
		{"appended only", func(t *testing.T, path string) {
			write(t, path, 100, 130)
		}},
	}
	for _, tt := range tests {
		for _, graceful := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s graceful %v", tt.name, graceful), func(t *testing.T) {
				path := logPath(t)
				write(t, path, 0, 100)
				d := &flowSim{t: t, env: newEnv(fastPoll), spec: tailSpec(path, "")}
				d.run(func() bool { return len(d.got) >= 100 }, graceful)
				tt.down(t, path)
				want := numbered(0, countLines(t, filepath.Dir(path)))
				deadline := time.Now().Add(10 * time.Second)
				d.run(func() bool { return len(d.got) >= len(want) || time.Now().After(deadline) }, graceful)
				if !slices.Equal(d.got, want) {
					checkOnce(t, d.got, want)
					t.Fatalf("all lines once, but out of order: %q", d.got)
				}
			})
		}
	}
}

// countLines counts the distinct numbered lines in the files of dir.
func countLines(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range splitLines(string(data)) {
			seen[l] = true
		}
	}
	return len(seen)
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// TestTailInodeReuseIsNotTakenForTheOldFile replaces the file between two runs by one that
// may have its inode (deleted and created again; rewritten in place): the second run must read
// the new file from its start, not from the old offset.
func TestTailInodeReuseIsNotTakenForTheOldFile(t *testing.T) {
	for _, how := range []string{"delete and create", "rewrite in place"} {
		t.Run(how, func(t *testing.T) {
			path := logPath(t)
			appendTo(t, path, joinLines(numberedFmt("old %04d", 0, 100)))
			d := &flowSim{t: t, env: newEnv(fastPoll), spec: tailSpec(path, "")}
			d.run(func() bool { return len(d.got) >= 100 }, false)
			before, _ := os.Stat(path)
			if how == "delete and create" {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(path, []byte(joinLines(numberedFmt("new %04d", 0, 200))), 0o644); err != nil {
				t.Fatal(err)
			}
			after, _ := os.Stat(path)
			t.Logf("inode reused: %v", idOf(before) == idOf(after))
			d.run(func() bool { return len(d.got) >= 300 }, false)
			checkOnce(t, d.got, append(numberedFmt("old %04d", 0, 100), numberedFmt("new %04d", 0, 200)...))
		})
	}
}

// TestTailDeleteAndCreateWhileRunning deletes the followed file and creates it again at once:
// the old file is read to its end, the new one from its start.
func TestTailDeleteAndCreateWhileRunning(t *testing.T) {
	path := logPath(t)
	appendTo(t, path, joinLines(numbered(0, 10)))
	r := &reader{t: t, s: newEnv(fastPoll).OpenSource(t, tailSpec(path, ""))}
	r.until(10)
	appendTo(t, path, joinLines(numbered(10, 20))) // not read yet when the file goes
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, joinLines(numbered(20, 30)))
	if got := r.until(30); !slices.Equal(got, numbered(0, 30)) {
		t.Fatalf("got %q", got)
	}
}

// TestTailResumesAfterTruncationKeepingTheHead truncates the file between two runs and writes
// its first lines again: the head (fingerprint) is the same, the file is shorter than the
// position. The rest of the old lines comes from the copy, then the file from its start.
func TestTailResumesAfterTruncationKeepingTheHead(t *testing.T) {
	path := logPath(t)
	appendTo(t, path, joinLines(numbered(0, 100)))
	d := &flowSim{t: t, env: newEnv(fastPoll), spec: tailSpec(path, "")}
	d.run(func() bool { return len(d.got) >= 100 }, false)
	appendTo(t, path, joinLines(numbered(100, 150)))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".1", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(joinLines(numbered(0, 50))), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	d.run(func() bool { return len(d.got) >= 200 || time.Now().After(deadline) }, false)
	want := append(numbered(0, 150), numbered(0, 50)...)
	if !slices.Equal(d.got, want) {
		t.Fatalf("got %d lines %q, want %d", len(d.got), d.got, len(want))
	}
}

// TestTailTwoCopyTruncatesBetweenLooks rotates by copytruncate twice before the source looks
// at the file again: the first copy holds the rest of what was read, the second what was
// written between the truncations, which the source never saw in the file itself. Both are
// read, in order, then the file.
func TestTailTwoCopyTruncatesBetweenLooks(t *testing.T) {
	for _, scheme := range []string{"numbered", "logrotate"} {
		t.Run(scheme, func(t *testing.T) {
			path := logPath(t)
			appendTo(t, path, joinLines(numbered(0, 10)))
			r := &reader{t: t, s: newEnv(fastPoll).OpenSource(t, tailSpec(path, ""))}
			r.until(10)
			copyTruncate := func(n int) {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				copyTo := fmt.Sprintf("%s.%d", path, n)
				if scheme == "logrotate" {
					// logrotate shifts the older copies up, keeping their times.
					if n == 2 {
						if err := os.Rename(path+".1", path+".2"); err != nil {
							t.Fatal(err)
						}
					}
					copyTo = path + ".1"
				}
				if err := os.WriteFile(copyTo, data, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
			}
			appendTo(t, path, joinLines(numbered(10, 20)))
			copyTruncate(1)
			appendTo(t, path, joinLines(numbered(20, 30)))
			copyTruncate(2)
			appendTo(t, path, joinLines(numbered(30, 40)))
			if got := r.until(40); !slices.Equal(got, numbered(0, 40)) {
				t.Fatalf("got %q", got)
			}
		})
	}
}
