package syslog

import (
	"bufio"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/sink"
)

// benchTCP is `syslogTcp | null` as the driver runs it, fed by a client that writes messages
// over one connection as fast as the source takes them. One op is one message of about 100
// bytes, which appendMsg appends to dst. The client allocates nothing per message, so the
// allocations reported are the source's.
func benchTCP(b *testing.B, appendMsg func(dst []byte, i int) []byte) {
	env := plugintest.NewEnv(nil, Register, sink.Register)
	s := openSource(b, env, "syslogTcp(0)")
	null := env.OpenSink(b, "null")
	c := dial(b, s, "tcp")
	n := b.N
	writer := plugintest.Go(func() error {
		w := bufio.NewWriterSize(c, 64<<10)
		var msg []byte
		for i := range n {
			msg = appendMsg(msg[:0], i)
			if _, err := w.Write(msg); err != nil {
				return err
			}
		}
		return w.Flush()
	})
	plugintest.BenchSource(b, s, null, int64(len(appendMsg(nil, 0))))
	b.StopTimer()
	if err := writer.Wait(b, time.Minute); err != nil {
		b.Fatal(err)
	}
}

var pad = strings.Repeat("x", 40)

// BenchmarkTCPToNullRFC3164 measures RFC 3164 messages, newline framed.
func BenchmarkTCPToNullRFC3164(b *testing.B) {
	benchTCP(b, func(dst []byte, i int) []byte {
		dst = append(dst, "<34>Oct 11 22:14:15 web1 sshd[4721]: message "...)
		dst = strconv.AppendInt(dst, int64(1e9+i), 10)
		dst = append(dst, ' ')
		dst = append(dst, pad...)
		return append(dst, '\n')
	})
}

// BenchmarkTCPToNullRFC5424 measures RFC 5424 messages, octet counted.
func BenchmarkTCPToNullRFC5424(b *testing.B) {
	const head = "<165>1 2003-10-11T22:14:15.003Z web1 app 4721 ID47 - message "
	size := len(head) + 10 + 1 + len(pad)
	benchTCP(b, func(dst []byte, i int) []byte {
		dst = strconv.AppendInt(dst, int64(size), 10)
		dst = append(dst, ' ')
		dst = append(dst, head...)
		dst = strconv.AppendInt(dst, int64(1e9+i), 10)
		dst = append(dst, ' ')
		return append(dst, pad...)
	})
}
