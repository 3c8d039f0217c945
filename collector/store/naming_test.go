package store

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestAppendTag(t *testing.T) {
	pst := time.FixedZone("PST", -8*3600)
	tests := []struct {
		name   string
		at     time.Time
		unique uint64
		seq    uint64
		want   string
	}{
		{"utc", t0, 1234567890123, 21, "20261126-103915123+0000.1234567890123.00000021"},
		{"zone", t0.In(pst), 42, 1, "20261126-023915123-0800.0000000000042.00000001"},
		{"seq wraps at 8 digits", t0, 7, 100_000_003, "20261126-103915123+0000.0000000000007.00000003"},
		{"whole second", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 0, 0, "20260102-030405000+0000.0000000000000.00000000"},
	}
	re := regexp.MustCompile("^" + tagPattern + "$")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendTag(nil, tc.at, tc.unique, tc.seq))
			if got != tc.want {
				t.Errorf("tag %q, want %q", got, tc.want)
			}
			if !re.MatchString(got) {
				t.Errorf("tag %q does not match the recovery pattern", got)
			}
			// Names sort by opening time: a later time sorts after.
			later := string(appendTag(nil, tc.at.Add(time.Millisecond), tc.unique, tc.seq))
			if later <= got {
				t.Errorf("tag %q of a later time sorts before %q", later, got)
			}
		})
	}
}

func TestFileNames(t *testing.T) {
	tests := []struct {
		name     string
		tpl      string
		exact    bool
		suffix   string
		compress string
		want     string // regexp of the root-relative final name
	}{
		{"prefix", "web-", false, "", "", `^web-20261126-103915123\+0000\.[0-9]{13}\.00000001$`},
		{"suffix", "web-", false, ".log", "", `^web-20261126-103915123\+0000\.[0-9]{13}\.00000001\.log$`},
		{"gzip", "web-", false, ".log", CompressGzip, `^web-.*\.00000001\.log\.gz$`},
		{"zstd", "web-", false, "", CompressZstd, `^web-.*\.00000001\.zst$`},
		{"no prefix", "", false, "", "", `^20261126-103915123\+0000\.[0-9]{13}\.00000001$`},
		{"dirs", "%Y/%m/%{host}-", false, "", "", `^2026/11/web1-20261126-.*\.00000001$`},
		{"exact", "out.txt", true, "", "", `^out\.txt$`},
		{"exact escaped", "%{host}/%Y.log", true, "", CompressGzip, `^web1/2026\.log\.gz$`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(dir, tc.tpl)
			o.Exact, o.Suffix, o.Compress = tc.exact, tc.suffix, tc.compress
			w := openWriter(t, o)
			spans := mustWrite(t, w, batch("a", 2, t0))
			if len(spans) != 1 || !regexp.MustCompile(tc.want).MatchString(spans[0].File) {
				t.Fatalf("spans %+v, want one file matching %s", spans, tc.want)
			}
			if got := w.Open(); len(got) != 1 || got[0] != spans[0].File+".tmp" {
				t.Errorf("Open() = %q, want [%s.tmp]", got, spans[0].File)
			}
			if _, err := w.Roll(); err != nil {
				t.Fatal(err)
			}
			if got := names(tree(t, dir)); len(got) != 1 || got[0] != spans[0].File {
				t.Errorf("after Roll files %q, want [%s]", got, spans[0].File)
			}
		})
	}
}

// Two Writers on one root and template, as two processes would be, never pick one name.
func TestTwoWritersPickDifferentNames(t *testing.T) {
	dir := t.TempDir()
	a := openWriter(t, testOptions(dir, "web-"))
	b := openWriter(t, testOptions(dir, "web-"))
	sa := mustWrite(t, a, batch("a", 1, t0))
	sb := mustWrite(t, b, batch("b", 1, t0))
	if sa[0].File == sb[0].File {
		t.Fatalf("both writers named their file %q", sa[0].File)
	}
	_, errA := a.Close()
	_, errB := b.Close()
	if err := errors.Join(errA, errB); err != nil {
		t.Fatal(err)
	}
	got := tree(t, dir)
	if got[sa[0].File] != "a-0\n" || got[sb[0].File] != "b-0\n" {
		t.Errorf("files %v", got)
	}
}

// A taken exact name gets ".1": nothing is replaced, neither a file from before nor one this
// Writer finalized.
func TestExactNameCollision(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir, "out.txt")
	o.Exact = true
	w := openWriter(t, o)
	mustWrite(t, w, batch("first", 1, t0))
	if _, err := w.Roll(); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w, batch("second", 1, t0))
	if _, err := w.Roll(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"out.txt": "first-0\n", "out.txt.1": "second-0\n"}
	if got := tree(t, dir); !equalMaps(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr error
		wantMsg string
	}{
		{"plain", Options{Path: "/data/%{host}/log-"}, nil, ""},
		{"file url", Options{Path: "file:///data/%Y-%m-%d/%H00/web-"}, nil, ""},
		{"relative", Options{Path: "out/x-"}, nil, ""},
		{"hdfs", Options{Path: "hdfs://nn:8020/flume/%Y/"}, ErrHDFS, "an hdfs:// path needs an HDFS backend"},
		{"other scheme", Options{Path: "s3n://bucket/x/"}, ErrScheme, `unsupported scheme "s3n://"`},
		{"empty", Options{Path: ""}, ErrBadPath, "empty path"},
		{"dotdot", Options{Path: "/data/%Y/../../etc/x"}, ErrBadPath, `".." component`},
		{"dotdot literal after root", Options{Path: "/data/%Y/a/../x"}, ErrBadPath, `".." component`},
		{"exact without name", Options{Path: "/data/%Y/", Exact: true}, ErrBadPath, "no file name"},
		{"compression", Options{Path: "/d/x", Compress: "lzo"}, ErrCompress, `"lzo"`},
		{"suffix separator", Options{Path: "/d/x", Suffix: "/y"}, ErrBadPath, "separator"},
		{"negative max open", Options{Path: "/d/x", MaxOpen: -1}, ErrBadOption, "max open"},
		{"nul", Options{Path: "/d/x\x00y"}, ErrBadPath, "NUL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Validate = %v, want %v containing %q", err, tc.wantErr, tc.wantMsg)
			}
		})
	}
}

func TestRoot(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/data/%Y-%m-%d/%H00/web-", "/data"},
		{"/data/web-%Y", "/data"},
		{"/data/logs/", "/data/logs"},
		{"file:///a/b/x-", "/a/b"},
		{"file://tmp/flume/collected/", "/tmp/flume/collected"},
		{"%{host}/x", "."},
		{"rel/dir/%{host}", "rel/dir"},
		{"/%Y/x", "/"},
		{"/data/100%%/x", "/data/100%"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, err := Options{Path: tc.path}.Root()
			if err != nil || got != tc.want {
				t.Errorf("Root(%q) = %q, %v; want %q", tc.path, got, err, tc.want)
			}
		})
	}
}
