package javatime

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func mustCompile(tb testing.TB, pattern string) *Layout {
	tb.Helper()
	l, err := Compile(pattern)
	if err != nil {
		tb.Fatalf("Compile(%q): %v", pattern, err)
	}
	return l
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		pattern string
		want    string
	}{
		{"yyyy-MM-ddTHH:mm", "letter 'T' at offset 10"},
		{"yyyy q", "letter 'q' at offset 5"},
		{"HH:mm 'at", "quote at offset 6 is not closed"},
		{"'", "quote at offset 0 is not closed"},
		{"XXXX", "'X' repeated 4 times at offset 0"},
		{"b", "letter 'b' at offset 0"},
	}
	for _, tc := range cases {
		t.Run(tc.pattern, func(t *testing.T) {
			_, err := Compile(tc.pattern)
			if !errors.Is(err, ErrPattern) {
				t.Fatalf("Compile(%q) = %v, want ErrPattern", tc.pattern, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	utc := time.Date(2010, 7, 29, 12, 0, 5, 7_000_000, time.UTC) // a Thursday
	pst := time.Date(2010, 1, 2, 0, 30, 0, 0, time.FixedZone("PST", -8*3600))
	india := time.Date(2010, 7, 29, 13, 5, 9, 0, time.FixedZone("", 5*3600+1800))
	cases := []struct {
		pattern string
		t       time.Time
		want    string
	}{
		{"yyyy-MM-dd HH:mm:ss.SSS", utc, "2010-07-29 12:00:05.007"},
		{"EEE, d MMM yyyy HH:mm:ss Z", utc, "Thu, 29 Jul 2010 12:00:05 +0000"},
		{"EEEE MMMM yy", utc, "Thursday July 10"},
		{"y yyy yyyyy G", utc, "2010 2010 02010 AD"},
		{"S SS SSSS", utc, "7 07 0007"},
		{"D DDDD w W F u", utc, "210 0210 31 5 5 4"},
		{"h:mm a k K", pst, "12:30 AM 24 0"},
		{"h:mm a k K H", india, "1:05 PM 13 1 13"},
		{"z zzzz Z X XX XXX", pst, "PST Pacific Standard Time -0800 -08 -0800 -08:00"},
		{"z X XX XXX", india, "GMT+05:30 +05 +0530 +05:30"},
		{"z X", utc, "UTC Z"},
		{"'o''clock' h, '''quoted'''", pst, "o'clock 12, 'quoted'"},
		{"yyyyMMdd'T'HHmmss", utc, "20100729T120005"},
		{"YYYY-ww", time.Date(2010, 12, 31, 0, 0, 0, 0, time.UTC), "2011-01"},
		{"YYYY-ww", time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC), "2011-01"},
		{"YYYY-ww", time.Date(2011, 1, 2, 0, 0, 0, 0, time.UTC), "2011-02"},
		{"yyyy G", time.Date(0, 3, 1, 0, 0, 0, 0, time.UTC), "0001 BC"},
		{"MM LLL LLLL", utc, "07 Jul July"},
	}
	for _, tc := range cases {
		t.Run(tc.pattern, func(t *testing.T) {
			if got := mustCompile(t, tc.pattern).Format(tc.t); got != tc.want {
				t.Errorf("Format = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	utc := time.UTC
	date := func(y int, m time.Month, d, h, mi, s, ms int) time.Time {
		return time.Date(y, m, d, h, mi, s, ms*int(time.Millisecond), utc)
	}
	cases := []struct {
		pattern, value string
		want           time.Time
	}{
		{"yyyy-MM-dd HH:mm", "2010-07-29 12:00", date(2010, 7, 29, 12, 0, 0, 0)},
		{"yyyyMMddHHmmssSSS", "20100729120005007", date(2010, 7, 29, 12, 0, 5, 7)},
		{"dd/MMM/yyyy:HH:mm:ss Z", "29/Jul/2010:12:00:05 -0700", date(2010, 7, 29, 19, 0, 5, 0)},
		{"EEE MMM d HH:mm:ss yyyy", "Thu Jul 29 12:00:05 2010", date(2010, 7, 29, 12, 0, 5, 0)},
		{"EEEE, MMMM d", "thursday, JULY 29", date(1970, 7, 29, 0, 0, 0, 0)},
		{"MMM d HH:mm:ss", "Jul 29 12:00:05", date(1970, 7, 29, 12, 0, 5, 0)},
		{"yyyy-MM-dd", "2010-13-01", date(2011, 1, 1, 0, 0, 0, 0)},
		{"yyyy-MM-dd", "2010-02-30", date(2010, 3, 2, 0, 0, 0, 0)},
		{"yyyy-MM-dd", "2010- 7- 9", date(2010, 7, 9, 0, 0, 0, 0)},
		{"yy-MM-dd", "10-07-29", date(2010, 7, 29, 0, 0, 0, 0)},
		{"yy-MM-dd", "49-07-29", date(2049, 7, 29, 0, 0, 0, 0)},
		{"yy-MM-dd", "50-07-29", date(1950, 7, 29, 0, 0, 0, 0)},
		{"yy-MM-dd", "2010-07-29", date(2010, 7, 29, 0, 0, 0, 0)},
		{"y-MM-dd", "5-07-29", date(5, 7, 29, 0, 0, 0, 0)},
		{"yyyy G", "0001 BC", date(0, 1, 1, 0, 0, 0, 0)},
		{"hh:mm a", "12:30 AM", date(1970, 1, 1, 0, 30, 0, 0)},
		{"hh:mm a", "01:05 pm", date(1970, 1, 1, 13, 5, 0, 0)},
		{"hh:mm", "12:30", date(1970, 1, 1, 0, 30, 0, 0)},
		{"KK:mm a", "11:59 PM", date(1970, 1, 1, 23, 59, 0, 0)},
		{"HH:mm a", "13:00 AM", date(1970, 1, 1, 13, 0, 0, 0)},
		{"k:mm", "24:10", date(1970, 1, 1, 0, 10, 0, 0)},
		{"HH:mm", "24:10", date(1970, 1, 2, 0, 10, 0, 0)},
		{"D yyyy", "210 2010", date(2010, 7, 29, 0, 0, 0, 0)},
		{"YYYY ww EEE", "2011 01 Fri", date(2010, 12, 31, 0, 0, 0, 0)},
		{"yyyy ww u", "2010 31 4", date(2010, 7, 29, 0, 0, 0, 0)},
		{"yyyy-MM F EEE", "2010-07 5 Thu", date(2010, 7, 29, 0, 0, 0, 0)},
		{"yyyy-MM W EEE", "2010-07 5 Thu", date(2010, 7, 29, 0, 0, 0, 0)},
		{"EEE", "Wed", date(1969, 12, 31, 0, 0, 0, 0)},
		{"yyyy-MM-dd'T'HH:mm:ssX", "2010-07-29T12:00:05Z", date(2010, 7, 29, 12, 0, 5, 0)},
		{"yyyy-MM-dd'T'HH:mm:ssX", "2010-07-29T12:00:05+05", date(2010, 7, 29, 7, 0, 5, 0)},
		{"yyyy-MM-dd'T'HH:mm:ssXX", "2010-07-29T12:00:05-0130", date(2010, 7, 29, 13, 30, 5, 0)},
		{"yyyy-MM-dd'T'HH:mm:ssXXX", "2010-07-29T12:00:05+05:30", date(2010, 7, 29, 6, 30, 5, 0)},
		{"HH:mm z", "12:00 PST", date(1970, 1, 1, 20, 0, 0, 0)},
		{"HH:mm z", "12:00 Pacific Daylight Time", date(1970, 1, 1, 19, 0, 0, 0)},
		{"HH:mm z", "12:00 GMT+05:30", date(1970, 1, 1, 6, 30, 0, 0)},
		{"HH:mm z", "12:00 GMT", date(1970, 1, 1, 12, 0, 0, 0)},
		{"HH:mm Z", "12:00 -08:00", date(1970, 1, 1, 20, 0, 0, 0)},
		{"HH:mm Z", "12:00 UTC", date(1970, 1, 1, 12, 0, 0, 0)},
		{"''HH'h'", "'12h", date(1970, 1, 1, 12, 0, 0, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.pattern+"/"+tc.value, func(t *testing.T) {
			l := mustCompile(t, tc.pattern).WithTwoDigitYearStart(1950)
			got, err := l.Parse(tc.value, utc)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.value, err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("Parse(%q) = %v, want %v", tc.value, got, tc.want)
			}
			if got.Location() != utc {
				t.Errorf("result in %v, want it in the given location", got.Location())
			}
		})
	}
}

func TestParseInLocation(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no zone database: %v", err)
	}
	got, err := mustCompile(t, "yyyy-MM-dd HH:mm").Parse("2010-07-29 12:00", ny)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2010, 7, 29, 16, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Parse in New York = %v, want %v", got, want)
	}
}

func TestTwoDigitYearDefaultWindow(t *testing.T) {
	// The default window starts 80 years before now, as SimpleDateFormat's does.
	start := time.Now().Year() - 80
	l := mustCompile(t, "yy")
	for _, v := range []int{0, 1, 49, 50, 99, start % 100, (start + 99) % 100} {
		got, err := l.Parse(appendNumString(v), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if y := got.Year(); y < start || y >= start+100 || y%100 != v {
			t.Errorf("yy %02d parsed as %d, want the year ending in %02d within [%d, %d)", v, y, v, start, start+100)
		}
	}
}

func appendNumString(v int) string { return string(appendNum(nil, v, 2)) }

func TestParseMismatch(t *testing.T) {
	cases := []struct {
		pattern, value, want string
	}{
		{"yyyy-MM-dd", "2010/07/29", `at offset 4: want "-"`},
		{"yyyy-MM-dd", "", "at offset 0: want field yyyy"},
		{"yyyy-MM-dd", "abc", "at offset 0: want field yyyy"},
		{"MMM dd", "Jux 29", "at offset 0: want field MMM"},
		{"yyyy-MM-dd", "2010-07-29x", `extra text "x"`},
		{"HH:mm X", "12:00 +5", "want field X"},
		{"yyyy", "99999999999", "want field yyyy"},
	}
	for _, tc := range cases {
		t.Run(tc.pattern+"/"+tc.value, func(t *testing.T) {
			_, err := mustCompile(t, tc.pattern).Parse(tc.value, time.UTC)
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("Parse(%q) = %v, want ErrMismatch", tc.value, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestParsePrefixIgnoresTrailingText(t *testing.T) {
	got, n, err := mustCompile(t, "yyyy-MM-dd").ParsePrefix("2010-07-29 and more", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if n != len("2010-07-29") || !got.Equal(time.Date(2010, 7, 29, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ParsePrefix = %v, %d", got, n)
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	patterns := []string{
		"yyyy-MM-dd HH:mm:ss.SSS", "yyyyMMddHHmmssSSS", "EEE, d MMM yyyy hh:mm:ss a Z",
		"EEEE MMMM dd yyyy kk:mm:ss.SSS XXX", "yyyy DDD HH:mm:ss.SSS zzzz", "YYYY ww u HH:mm:ss.SSS X",
		"yyyy-MM W EEE K:mm:ss.SSS a", "yyyy-MM F E H:m:s.S",
	}
	zones := []*time.Location{time.UTC, time.FixedZone("PST", -8*3600), time.FixedZone("", 5*3600+1800)}
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range patterns {
		l := mustCompile(t, p)
		for range 300 {
			loc := zones[r.IntN(len(zones))]
			want := time.Unix(r.Int64N(4e9)-1e9, int64(r.IntN(1000))*int64(time.Millisecond)).In(loc)
			if strings.Contains(p, "X") && loc.String() == "" {
				continue // X writes hours only: the offset's minutes do not survive
			}
			if !strings.Contains(p, "S") {
				want = want.Truncate(time.Second)
			}
			s := l.Format(want)
			got, err := l.Parse(s, loc)
			if err != nil {
				t.Fatalf("%q: Parse(%q): %v", p, s, err)
			}
			if !got.Equal(want) {
				t.Fatalf("%q: %v formats as %q, which parses as %v", p, want, s, got)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("yyyy-MM-dd HH:mm:ss", "2010-07-29 12:00:05")
	f.Add("EEE, d MMM yyyy HH:mm:ss Z", "Thu, 29 Jul 2010 12:00:05 +0000")
	f.Add("YYYY ww EEE z", "2011 01 Fri GMT+05:30")
	f.Add("yyyyMMdd'T'HHmmssXXX", "20100729T120005-07:00")
	f.Fuzz(func(t *testing.T, pattern, value string) {
		l, err := Compile(pattern)
		if err != nil {
			if !errors.Is(err, ErrPattern) {
				t.Fatalf("Compile error %v does not wrap ErrPattern", err)
			}
			return
		}
		_ = l.Format(time.Unix(1_280_404_805, 0).UTC())
		if _, n, err := l.ParsePrefix(value, time.UTC); err != nil {
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("Parse error %v does not wrap ErrMismatch", err)
			}
		} else if n > len(value) {
			t.Fatalf("ParsePrefix read %d of %d bytes", n, len(value))
		}
	})
}

func BenchmarkParse(b *testing.B) {
	l := mustCompile(b, "dd/MMM/yyyy:HH:mm:ss Z")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Parse("29/Jul/2010:12:00:05 -0700", time.UTC); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendFormat(b *testing.B) {
	l := mustCompile(b, "yyyy-MM-dd HH:mm:ss.SSS")
	t := time.Date(2010, 7, 29, 12, 0, 5, 7_000_000, time.UTC)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = l.AppendFormat(buf[:0], t)
	}
}
