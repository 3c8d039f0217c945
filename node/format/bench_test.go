package format

import (
	"io"
	"testing"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/spec"
)

// benchBody is a 150-byte log line.
var benchBody = []byte(`192.168.1.10 - - [04/Mar/2010:05:06:07 -0800] "GET /index.html HTTP/1.1" 200 2326 ` +
	`"http://example.com/start" "Mozilla/5.0 (X11; Linux x86_64)" rt=0.04`)

// benchEvent returns an event as a collector sees it: a 150-byte body and two attributes.
func benchEvent() *event.Event {
	e := &event.Event{Body: benchBody, Timestamp: tsA, Priority: event.INFO, Host: "web-01.example.com"}
	_ = e.SetAttr("service", []byte("httpd"))
	_ = e.SetAttr("tailSrcFile", []byte("access.log"))
	return e
}

func BenchmarkFormats(b *testing.B) {
	if len(benchBody) != 150 {
		b.Fatalf("bench body is %d bytes", len(benchBody))
	}
	calls := []struct {
		name string
		call *spec.Call
	}{
		{"raw", &spec.Call{Name: "raw"}},
		{"debug", &spec.Call{Name: "debug"}},
		{"json", &spec.Call{Name: "json"}},
		{"log4j", &spec.Call{Name: "log4j"}},
		{"syslog", &spec.Call{Name: "syslog"}},
		{"avrojson", &spec.Call{Name: "avrojson"}},
		{"avrodata-null", &spec.Call{Name: "avrodata"}},
		{"avrodata-deflate", &spec.Call{Name: "avrodata", Args: []spec.Value{str("deflate")}}},
		{"avrodata-snappy", &spec.Call{Name: "avrodata", Args: []spec.Value{str("snappy")}}},
		{"avrodata-zstandard", &spec.Call{Name: "avrodata", Args: []spec.Value{str("zstandard")}}},
	}
	for _, c := range calls {
		b.Run(c.name, func(b *testing.B) {
			f := buildFormat(b, c.call)
			enc, err := f.NewEncoder(io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			e := benchEvent()
			b.ReportAllocs()
			b.SetBytes(150)
			// A different second per event would defeat the date cache; a collector's batch
			// mostly shares its second, so the benchmark moves the clock every 1000 events.
			for i := 0; b.Loop(); i++ {
				e.Timestamp = tsA + int64(i/1000)*1e9
				if err := enc.Encode(e); err != nil {
					b.Fatal(err)
				}
			}
			if err := enc.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
