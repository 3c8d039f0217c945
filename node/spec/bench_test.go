package spec

import (
	"fmt"
	"strings"
	"testing"
)

// benchSpec is a realistic multiconfig: 16 agents of four kinds and 4 collectors.
func benchSpec() string {
	var b strings.Builder
	b.WriteString("// web tier agents and their collectors\n")
	for i := range 16 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "web%02d : tail(\"/var/log/httpd/access_log\", startFromEnd=true) | "+
				"value(\"dc\", \"east\") agentE2EChain(\"collector1:35853\", \"collector2:35853\") ;\n", i)
		case 1:
			fmt.Fprintf(&b, "app%02d : tailDir(\"/var/log/app\", fileregex=\"^app-.*\\\\.log$\") | "+
				"{ batch(100, 1000) => { gzip => agentDFOSink(\"collector1\", 35853) } } ;\n", i)
		case 2:
			fmt.Fprintf(&b, "sys%02d : syslogTcp(5140) | < thriftSink(\"collector1\", 35853) ? "+
				"thriftSink(\"collector2\", 35853) ? null > ;\n", i)
		case 3:
			fmt.Fprintf(&b, "10.0.1.%d : exec(\"vmstat 5\", false, true, 0x3E8) | "+
				"regex(\"^(\\\\d+)\", 1, \"procs\") [console(avrojson), counter(\"vmstat\")] ;\n", i)
		}
	}
	for i := range 4 {
		fmt.Fprintf(&b, "collector%d : collectorSource(35853) | collector(30000) { "+
			"[ escapedCustomDfs(\"/var/flume/%%{dc}/%%Y-%%m-%%d/%%H00\", \"web-%%{host}-\", avrodata(\"snappy\")), "+
			"roll(60000, trigger=size(1048576)) { text(\"/var/flume/local/%%{rolltag}.log\", raw) } ] } ;\n", i)
	}
	return b.String()
}

func BenchmarkParseNodes(b *testing.B) {
	src := benchSpec()
	if nodes, err := ParseNodes(src); err != nil || len(nodes) != 20 {
		b.Fatalf("bench spec: %d nodes, %v", len(nodes), err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseNodes(src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormatNodes(b *testing.B) {
	nodes, err := ParseNodes(benchSpec())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = FormatNodes(nodes)
	}
}

func BenchmarkLexer(b *testing.B) {
	src := benchSpec()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		l := newLexer(src)
		for l.next().kind != tEOF {
		}
	}
}
