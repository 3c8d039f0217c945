package syslog

import (
	"bytes"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
)

// FuzzParse runs arbitrary bytes through the parsing path of the sources: the TCP framer, in
// reads of every size, and the message parser. Neither may panic; the framer must cut the
// same frames however the bytes arrive, none over the size limit; every message must keep its
// bytes (the body is the frame after a valid PRI, or the whole frame) and carry the attributes
// its PRI gives.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n",
		`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] BOMAn application event log entry`,
		"<13>1 - - - - - -\n<13>2 x\n",
		"5 <13>a10 <13>b\nc\n",
		"<189>237: 000485: router1: *Jan  8 19:46:03.295: %LINEPROTO-5-UPDOWN: up\r\n",
		"<13>2024-02-05T22:14:15+02:00 host app[1]: msg",
		"<0>", "<191>", "<192>x", "<013>x", "no pri\n\n\n",
		"<13>1 2003-10-11T22:14:15Z h a - - [a@1 b=\"c\\\"d\"][e] m",
		"12345678901 x", "99999 <13>short",
	} {
		f.Add([]byte(seed))
	}
	const maxSize = 64
	f.Fuzz(func(t *testing.T, in []byte) {
		p := newParser(time.UTC)
		var m message
		whole := fuzzFrames(in, len(in)+1, maxSize)
		if byOne := fuzzFrames(in, 1, maxSize); !slices.Equal(byOne, whole) {
			t.Fatalf("frames read at once %q, read a byte at a time %q", whole, byOne)
		}
		for _, frame := range append(whole, string(in)) {
			p.parse([]byte(frame), 1, &m)
			checkMessage(t, []byte(frame), &m)
		}
	})
}

// fuzzFrames returns the frames of input read in chunks of chunk bytes, the remainder last.
func fuzzFrames(input []byte, chunk, maxSize int) []string {
	var out []string
	// A buffer just over the limit: the smallest that works, where compaction is most often
	// needed.
	fr := newFramerSize(0, maxSize, event.Truncate)
	for len(input) > 0 {
		sp := fr.space()
		n := copy(sp[:min(chunk, len(sp))], input)
		input = input[n:]
		fr.wrote(n)
		for frame, ok := fr.next(); ok; frame, ok = fr.next() {
			out = append(out, string(frame))
		}
	}
	if frame, _, ok := fr.remainder(); ok {
		out = append(out, string(frame))
	}
	return out
}

// checkMessage checks what parsing frame gave, and the event made of it.
func checkMessage(t *testing.T, frame []byte, m *message) {
	t.Helper()
	b := newBatch(nil)
	b.add(m, 1, "localhost")
	e := b.events()[0]
	fac, hasFac := e.Attr(AttrFacility)
	sev, hasSev := e.Attr(AttrSeverity)
	if m.pri < 0 {
		if !bytes.Equal(e.Body, frame) || m.err == "" || hasFac || hasSev {
			t.Fatalf("%q without a PRI: body %q, error %q, facility %v, severity %v", frame, e.Body, m.err, fac, sev)
		}
		return
	}
	prefix := "<" + strconv.Itoa(m.pri) + ">"
	if m.pri > maxPRI || !bytes.HasPrefix(frame, []byte(prefix)) || !bytes.Equal(e.Body, frame[len(prefix):]) {
		t.Fatalf("%q: PRI %d, body %q", frame, m.pri, e.Body)
	}
	if len(fac) != 1 || len(sev) != 1 || int(fac[0])*8+int(sev[0]) != m.pri || e.Priority != severityPriority[sev[0]] {
		t.Fatalf("%q: facility %v, severity %v, priority %v", frame, fac, sev, e.Priority)
	}
	if e.Timestamp == 0 {
		t.Fatalf("%q: no timestamp", frame)
	}
}
