package format

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

// asText is the text Java's new String(b) (and our replacement) reads from b: every byte that
// is not part of valid UTF-8 is U+FFFD.
func asText[T bytestring](b T) string { return string([]rune(string(b))) }

func fuzzEvent(t *testing.T, body []byte, host, key string, value []byte) *event.Event {
	e := &event.Event{Body: body, Host: host, Timestamp: 1, Priority: event.DEBUG}
	if err := e.SetAttr(key, value); err != nil {
		t.Fatal(err)
	}
	return e
}

func addSeeds(f *testing.F) {
	f.Add([]byte("plain"), "host", "k", []byte("v"))
	f.Add([]byte{0, 0xFF, '"', '\\', '\n', 0xC3, 0xA9, 0x7F}, "h\xffst", "k\x01", []byte{0xFE, 0x80})
	f.Add([]byte("😀 \xf0\x9f\x98"), "", "", []byte{})
}

// FuzzJSON checks that json writes valid JSON that decodes to the event's text.
func FuzzJSON(f *testing.F) {
	addSeeds(f)
	format := jsonFormat()
	f.Fuzz(func(t *testing.T, body []byte, host, key string, value []byte) {
		line := plugintest.Encode(t, format, fuzzEvent(t, body, host, key, value))
		if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("not one line: %q", line)
		}
		var v struct {
			Body   string            `json:"body"`
			Host   string            `json:"host"`
			Fields map[string]string `json:"fields"`
		}
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("invalid JSON %q: %v", line, err)
		}
		if v.Body != asText(body) || v.Host != asText(host) || v.Fields[asText(key)] != asText(value) {
			t.Fatalf("decoded %+v from %q", v, line)
		}
	})
}

// FuzzAvroJSON checks that avrojson loses no byte of a body or attribute value.
func FuzzAvroJSON(f *testing.F) {
	addSeeds(f)
	format := avroJSONFormat()
	f.Fuzz(func(t *testing.T, body []byte, host, key string, value []byte) {
		line := plugintest.Encode(t, format, fuzzEvent(t, body, host, key, value))
		if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("not one line: %q", line)
		}
		r := recordFromAvroJSON(t, line)
		if !bytes.Equal(r.Body, body) || r.Host != asText(host) || !bytes.Equal(r.Fields[asText(key)], value) {
			t.Fatalf("decoded %+v from %q", r, line)
		}
	})
}

// FuzzLog4j checks that the escaped body is one ASCII line that unescapes to the body's text.
func FuzzLog4j(f *testing.F) {
	addSeeds(f)
	format := log4jFormat()
	f.Fuzz(func(t *testing.T, body []byte, host, key string, value []byte) {
		line := string(plugintest.Encode(t, format, fuzzEvent(t, body, host, key, value)))
		const prefix = "1969-12-31T16:00:00:-08:00 DEBUG log4j: "
		if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, "\n") {
			t.Fatalf("line %q", line)
		}
		escaped := line[len(prefix) : len(line)-1]
		for i := 0; i < len(escaped); i++ {
			if c := escaped[i]; c < 0x20 || c > 0x7F {
				t.Fatalf("byte %#x in escaped body %q", c, escaped)
			}
		}
		if got := unescapeJava(t, escaped); got != asText(body) {
			t.Fatalf("unescaped %q, want %q", got, asText(body))
		}
	})
}

// FuzzDebug checks that any event gives one line in the debug format and that the body, as
// in log4j, unescapes to the body's text.
func FuzzDebug(f *testing.F) {
	addSeeds(f)
	format := buildFormat(f, &spec.Call{Name: "debug"})
	f.Fuzz(func(t *testing.T, body []byte, host, key string, value []byte) {
		line := string(plugintest.Encode(t, format, fuzzEvent(t, body, host, key, value)))
		if !strings.HasSuffix(line, "\n") {
			t.Fatalf("line %q", line)
		}
		escaped := appendJavaEscaped(nil, body)
		if !strings.HasSuffix(line, string(escaped)+"\n") {
			t.Fatalf("line %q does not end with the escaped body", line)
		}
	})
}

// unescapeJava reverses escapeJava: \uXXXX (surrogate pairs joined), \b \t \n \f \r \" \\.
func unescapeJava(t *testing.T, s string) string {
	t.Helper()
	var units []uint16
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			units = append(units, uint16(c))
			continue
		}
		i++
		if i >= len(s) {
			t.Fatalf("trailing backslash in %q", s)
		}
		switch s[i] {
		case 'u':
			if i+5 > len(s) {
				t.Fatalf("short \\u escape in %q", s)
			}
			n, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil || strings.ToUpper(s[i+1:i+5]) != s[i+1:i+5] {
				t.Fatalf("bad \\u escape %q in %q", s[i+1:i+5], s)
			}
			units = append(units, uint16(n))
			i += 4
		case 'b':
			units = append(units, '\b')
		case 't':
			units = append(units, '\t')
		case 'n':
			units = append(units, '\n')
		case 'f':
			units = append(units, '\f')
		case 'r':
			units = append(units, '\r')
		case '"', '\\':
			units = append(units, uint16(s[i]))
		default:
			t.Fatalf("unknown escape \\%c in %q", s[i], s)
		}
	}
	return string(utf16.Decode(units))
}
