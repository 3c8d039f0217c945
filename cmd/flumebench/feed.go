package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// syslogSize is the size of a syslog message of the syslog pipeline, newline included.
const syslogSize = 120

// feedSyslog connects to the syslog source on port and writes syslogEvents RFC 5424 messages
// of syslogSize bytes, newline-framed.
func feedSyslog(ctx context.Context, port int) error {
	var conn net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond) // the pace of connection attempts while the source opens
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	w := bufio.NewWriterSize(conn, 256<<10)
	head := "<165>1 2026-11-26T10:00:00.000Z host1 app 1234 ID47 - "
	pad := strings.Repeat("m", syslogSize-len(head)-1-8)
	for i := range syslogEvents {
		if _, err := fmt.Fprintf(w, "%s%08d%s\n", head, i, pad); err != nil {
			return err
		}
	}
	return w.Flush()
}

// writeDir writes files files of lines lines each of size bytes into dir.
func writeDir(dir string, files, lines, size int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range files {
		if err := writeLines(filepath.Join(dir, fmt.Sprintf("app-%04d.log", i)), lines, size); err != nil {
			return err
		}
	}
	return nil
}
