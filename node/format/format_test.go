package format

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

// TestMain fixes the local zone, which dates are rendered in, so expected bytes do not depend
// on the machine, and checks that no compressor leaves a goroutine behind.
func TestMain(m *testing.M) {
	time.Local = time.FixedZone("PST", -8*60*60)
	goleak.VerifyTestMain(m)
}

// 2010-03-04 05:06:07.123456789 PST.
const tsA = 1267707967123456789

// eventA has attributes (set out of name order), a priority other than INFO, and a body with
// non-ASCII characters, one outside the BMP, quotes, a tab and a backslash.
func eventA(t testing.TB) *event.Event {
	t.Helper()
	e := &event.Event{
		Body:      []byte("héllo \"wörld\"\t😀 \\ /"),
		Timestamp: tsA,
		Priority:  event.WARN,
		Host:      "web-01",
	}
	for _, a := range []event.Attr{
		{Key: "service", Value: []byte("sshd")},
		{Key: "app", Value: []byte("ünïcode")},
		{Key: "bin", Value: []byte{0x00, 0xFF}},
		{Key: "num", Value: []byte{0, 0, 1, 0}},
	} {
		if err := e.SetAttr(a.Key, a.Value); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// eventB has a binary body (an invalid byte, control characters, a valid é, DEL), no host,
// no attributes, and a timestamp 1.5 ms before 1970.
func eventB() *event.Event {
	return &event.Event{
		Body:      []byte{'a', 0xFF, 0x01, '\n', 0xC3, 0xA9, 0x7F},
		Timestamp: -1_500_000,
		Priority:  event.FATAL,
	}
}

// buildFormat builds the format called by c through a registry filled by Register.
func buildFormat(t testing.TB, c *spec.Call) plugin.Format {
	t.Helper()
	r := plugin.NewRegistry()
	Register(r)
	f, err := r.BuildFormat(&plugin.BuildContext{}, c)
	if err != nil {
		t.Fatalf("build %s: %v", c.Name, err)
	}
	return f
}

func TestLineFormatsExactBytes(t *testing.T) {
	year := &spec.Call{Name: "syslog", Args: []spec.Value{{Kind: spec.KindInt, Int: 2010}}}
	tests := []struct {
		call   *spec.Call
		a, b   string
		nameIs string
	}{
		{
			call: &spec.Call{Name: "raw"},
			a:    "héllo \"wörld\"\t😀 \\ /\n",
			b:    "a\xff\x01\n\xc3\xa9\x7f\n",
		},
		{
			call: &spec.Call{Name: "default"},
			a:    "héllo \"wörld\"\t😀 \\ /\n",
			b:    "a\xff\x01\n\xc3\xa9\x7f\n",
		},
		{
			call: &spec.Call{Name: "debug"},
			a: `web-01 [WARN Thu Mar 04 05:06:07 PST 2010] { app : ünïcode } { bin : \u0000\xFF } ` +
				`{ num : 256 } { service : sshd } h\u00E9llo \"w\u00F6rld\"\t\uD83D\uDE00 \\ /` + "\n",
			b: ` [FATAL Wed Dec 31 15:59:59 PST 1969] a\uFFFD\u0001\n\u00E9` + "\x7f\n",
		},
		{
			call: &spec.Call{Name: "json"},
			a: `{"body":"héllo \"wörld\"\t😀 \\ /","timestamp":1267707967123,"pri":"WARN",` +
				`"nanos":1267707967123456789,"host":"web-01","fields":{"service":"sshd",` +
				`"app":"ünïcode","bin":"\u0000` + "\uFFFD" + `","num":"\u0000\u0000\u0001\u0000"}}` + "\n",
			b: `{"body":"a` + "\uFFFD" + `\u0001\né` + "\x7f" +
				`","timestamp":-2,"pri":"FATAL","nanos":-1500000,"host":"","fields":{}}` + "\n",
		},
		{
			call: &spec.Call{Name: "log4j"},
			a:    `2010-03-04T05:06:07:-08:00 WARN log4j: h\u00E9llo \"w\u00F6rld\"\t\uD83D\uDE00 \\ /` + "\n",
			b:    `1969-12-31T15:59:59:-08:00 FATAL log4j: a\uFFFD\u0001\n\u00E9` + "\x7f\n",
		},
		{
			call: &spec.Call{Name: "syslog"},
			a:    "Mar 04 05:06:07 web-01 sshd: héllo \"wörld\"\t😀 \\ /\n",
			b:    "Dec 31 15:59:59  a\xff\x01\n\xc3\xa9\x7f\n",
		},
		{
			call:   year,
			nameIs: "syslog(2010)",
			a:      "Mar 04 05:06:07 web-01 sshd: héllo \"wörld\"\t😀 \\ /\n",
			b:      "Dec 31 15:59:59  a\xff\x01\n\xc3\xa9\x7f\n",
		},
		{
			call: &spec.Call{Name: "avrojson"},
			a: `{"timestamp":1267707967123,"priority":"WARN","body":"h` + "\u00c3\u00a9" + `llo \"w` +
				"\u00c3\u00b6" + `rld\"\t` + "\u00f0\u009f\u0098\u0080" + ` \\ /",` +
				`"nanos":1267707967123456789,"host":"web-01","fields":{"service":"sshd","app":"` +
				"\u00c3\u00bcn\u00c3\u00afcode" + `","bin":"\u0000` + "\u00ff" +
				`","num":"\u0000\u0000\u0001\u0000"}}` + "\n",
			b: `{"timestamp":-2,"priority":"FATAL","body":"a` + "\u00ff" + `\u0001\n` + "\u00c3\u00a9\x7f" +
				`","nanos":-1500000,"host":"","fields":{}}` + "\n",
		},
	}
	for _, tt := range tests {
		name := tt.nameIs
		if name == "" {
			name = tt.call.Name
		}
		t.Run(name, func(t *testing.T) {
			f := buildFormat(t, tt.call)
			if got := string(plugintest.Encode(t, f, eventA(t))); got != tt.a {
				t.Errorf("event A:\n got %q\nwant %q", got, tt.a)
			}
			if got := string(plugintest.Encode(t, f, eventB())); got != tt.b {
				t.Errorf("event B:\n got %q\nwant %q", got, tt.b)
			}
			// One encoder, several events: the lines follow each other, and state kept between
			// events (date caches, scratch space) does not leak from one event into the next.
			if got, want := string(plugintest.Encode(t, f, eventA(t), eventB(), eventA(t))), tt.a+tt.b+tt.a; got != want {
				t.Errorf("three events:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestDebugAttributeValues(t *testing.T) {
	tests := []struct {
		name  string
		value []byte
		want  string
	}{
		{"text", []byte("plain text"), "plain text"},
		{"empty", []byte{}, ""},
		{"one byte", []byte{0xC8}, "200"},
		{"one printable byte is text", []byte("7"), "7"},
		{"int32", []byte{0xFF, 0xFF, 0xFF, 0xFE}, "-2"},
		{"int64", []byte{0, 0, 0, 0, 0, 0, 0x01, 0x00}, "256"},
		{"four printable bytes are text", []byte("abcd"), "abcd"},
		{"binary", []byte{'x', 0x00, 0xFE, '\t', 0xC2, 0x85}, `x\u0000\xFE\t\u0085`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &event.Event{Body: []byte("b"), Host: "h", Priority: event.INFO}
			if err := e.SetAttr("k", tt.value); err != nil {
				t.Fatal(err)
			}
			got := string(plugintest.Encode(t, buildFormat(t, &spec.Call{Name: "debug"}), e))
			want := "h [INFO Wed Dec 31 16:00:00 PST 1969] { k : " + tt.want + " } b\n"
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestAvroJSONMapsInvalidPriorityToInfo(t *testing.T) {
	e := &event.Event{Body: []byte("x"), Priority: event.Priority(42)}
	got := string(plugintest.Encode(t, buildFormat(t, &spec.Call{Name: "avrojson"}), e))
	want := `{"timestamp":0,"priority":"INFO","body":"x","nanos":0,"host":"","fields":{}}` + "\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// failWriter fails every write.
type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestEncoderErrors(t *testing.T) {
	for _, name := range []string{"raw", "debug", "json", "log4j", "syslog", "avrojson", "avrodata", "avro"} {
		t.Run(name, func(t *testing.T) {
			f := buildFormat(t, &spec.Call{Name: name})
			if _, err := f.NewEncoder(nil); !errors.Is(err, ErrNilWriter) {
				t.Errorf("NewEncoder(nil) = %v, want ErrNilWriter", err)
			}
			enc, err := f.NewEncoder(failWriter{})
			if err != nil {
				t.Fatal(err)
			}
			err = enc.Encode(eventB())
			if err == nil {
				err = enc.Flush() // a container format writes on Flush
			}
			if !errors.Is(err, errDiskFull) {
				t.Errorf("write to a failing writer: %v, want errDiskFull", err)
			}
			_ = enc.Close()
			if err := enc.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := enc.Encode(eventB()); !errors.Is(err, ErrClosed) {
				t.Errorf("Encode after Close = %v, want ErrClosed", err)
			}
			if err := enc.Flush(); !errors.Is(err, ErrClosed) {
				t.Errorf("Flush after Close = %v, want ErrClosed", err)
			}
		})
	}
}

func TestLineEncoderWritesOneLinePerWrite(t *testing.T) {
	var w countingWriter
	enc, err := buildFormat(t, &spec.Call{Name: "json"}).NewEncoder(&w)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := enc.Encode(eventA(t)); err != nil {
			t.Fatal(err)
		}
	}
	if w.writes != 3 {
		t.Errorf("%d writes for 3 events, want 3", w.writes)
	}
}

type countingWriter struct{ writes int }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return len(p), nil
}
