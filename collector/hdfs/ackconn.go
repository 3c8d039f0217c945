package hdfs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The client's Flush sends the buffered data to the DataNode pipeline but does not wait for
// the pipeline to acknowledge it, which is what hflush promises. The backend watches each
// connection the client opens to a DataNode to write a block: it counts the packets written
// and the packets every DataNode of the pipeline acknowledged, so that Sync returns only once
// all that was written before it is acknowledged (hflush), or fails.
//
// Write side, after the op (2 bytes of version, the op 0x50 WRITE_BLOCK, and a varint-delimited
// OpWriteBlockProto): packets, each [u32 4+checksums+data][u16 header length][PacketHeaderProto,
// whose seqno is field 2, sfixed64][checksums][data]; a heartbeat has seqno -1. Read side: a
// varint-delimited BlockOpResponseProto, then varint-delimited PipelineAckProto messages:
// seqno (field 1, sint64) and a status per DataNode (field 2, SUCCESS = 0).

// opWriteBlock is DataTransferProtocol's WRITE_BLOCK op.
const opWriteBlock = 0x50

// ackTimeout bounds how long Sync waits for the pipeline's acknowledgements.
const ackTimeout = 60 * time.Second

// errNotAcked is returned when a connection ended before acknowledging what was written.
var errNotAcked = errors.New("the DataNode pipeline ended before acknowledging the data")

// ackConn is a DataNode connection whose writes and acknowledgements are counted.
type ackConn struct {
	net.Conn
	watch *watcher

	wmu sync.Mutex // the write side's parser
	w   streamParser

	rmu sync.Mutex // the read side's parser
	r   streamParser

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when acked or err change
	write   bool          // a WRITE_BLOCK connection
	sent    int64         // data packets written
	acked   int64         // data packets acknowledged by the whole pipeline
	err     error         // a failed acknowledgement, or the end of the connection
}

// watcher keeps the write connections of one client.
type watcher struct {
	mu    sync.Mutex
	conns map[*ackConn]struct{}
}

func newWatcher() *watcher { return &watcher{conns: map[*ackConn]struct{}{}} }

// dial wraps a dial function so that the connections it makes are watched.
func (wt *watcher) dial(d func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		ac := &ackConn{Conn: c, watch: wt, changed: make(chan struct{})}
		ac.w.write = true
		return ac, nil
	}
}

// mark returns how many packets each write connection has been sent so far.
func (wt *watcher) mark() map[*ackConn]int64 {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	m := make(map[*ackConn]int64, len(wt.conns))
	for c := range wt.conns {
		c.mu.Lock()
		if c.sent > c.acked {
			m[c] = c.sent
		}
		c.mu.Unlock()
	}
	return m
}

// wait returns once every connection of m has acknowledged its count, or with the first
// failure, or when ctx ends.
func (wt *watcher) wait(ctx context.Context, m map[*ackConn]int64) error {
	for c, n := range m {
		for {
			c.mu.Lock()
			acked, err, ch := c.acked, c.err, c.changed
			c.mu.Unlock()
			if acked >= n {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", c.RemoteAddr(), err)
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return fmt.Errorf("DataNode %s acknowledged %d of %d packets: %w", c.RemoteAddr(), acked, n, ctx.Err())
			}
		}
	}
	return nil
}

func (c *ackConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.wmu.Lock()
	c.w.feed(p[:n], c.onWritten)
	c.wmu.Unlock()
	return n, err
}

func (c *ackConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.rmu.Lock()
	c.r.feed(p[:n], c.onRead)
	c.rmu.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("%w: %v", errNotAcked, err))
	}
	return n, err
}

func (c *ackConn) Close() error {
	c.fail(errNotAcked)
	c.watch.mu.Lock()
	delete(c.watch.conns, c)
	c.watch.mu.Unlock()
	return c.Conn.Close()
}

// onWritten takes one unit of the write side: the op, then packet headers.
func (c *ackConn) onWritten(kind unit, b []byte) {
	switch kind {
	case unitOp:
		if len(b) >= 3 && b[2] == opWriteBlock {
			c.mu.Lock()
			c.write = true
			c.mu.Unlock()
			c.watch.mu.Lock()
			c.watch.conns[c] = struct{}{}
			c.watch.mu.Unlock()
		}
	case unitPacket:
		if seqno, ok := packetSeqno(b); ok && seqno >= 0 {
			c.mu.Lock()
			c.sent++
			c.mu.Unlock()
		}
	}
}

// onRead takes one varint-delimited message of the read side: the op's response, then acks.
func (c *ackConn) onRead(kind unit, b []byte) {
	if kind != unitMessage || !c.isWrite() {
		return
	}
	if c.r.messages == 1 {
		return // the BlockOpResponseProto: the client checks it
	}
	seqno, ok, bad := parseAck(b)
	switch {
	case bad != nil:
		c.fail(bad)
	case ok && seqno >= 0:
		c.mu.Lock()
		c.acked++
		c.signal()
		c.mu.Unlock()
	}
}

func (c *ackConn) isWrite() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.write
}

func (c *ackConn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		c.signal()
	}
}

// signal wakes the waiters; c.mu is held.
func (c *ackConn) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// packetSeqno reads the seqno of a PacketHeaderProto.
func packetSeqno(b []byte) (int64, bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		if num == 2 && typ == protowire.Fixed64Type {
			v, n := protowire.ConsumeFixed64(b)
			return int64(v), n >= 0
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return 0, false
		}
		b = b[n:]
	}
	return 0, false
}

// parseAck reads a PipelineAckProto: its seqno, and an error if a DataNode did not succeed.
func parseAck(b []byte) (seqno int64, ok bool, bad error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false, errors.New("unreadable pipeline acknowledgement")
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, false, errors.New("unreadable pipeline acknowledgement")
			}
			seqno, ok, b = protowire.DecodeZigZag(v), true, b[n:]
			continue
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n >= 0 && v != 0 {
				return seqno, ok, fmt.Errorf("a DataNode of the pipeline answered status %d", v)
			}
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			for len(v) > 0 && n >= 0 {
				s, m := protowire.ConsumeVarint(v)
				if m < 0 {
					break
				}
				if s != 0 {
					return seqno, ok, fmt.Errorf("a DataNode of the pipeline answered status %d", s)
				}
				v = v[m:]
			}
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return 0, false, errors.New("unreadable pipeline acknowledgement")
		}
		b = b[n:]
	}
	return seqno, ok, nil
}

// unit is what a streamParser hands on.
type unit int

const (
	unitOp      unit = iota // the write side's op: version, op code (the proto follows)
	unitPacket              // a packet's PacketHeaderProto
	unitMessage             // a varint-delimited message of the read side
)

// streamParser cuts a byte stream into units. The write side (packets set) is the op, its
// delimited proto, then packets; the read side is delimited messages.
type streamParser struct {
	write    bool   // the write side
	buf      []byte // bytes of the unit being gathered
	skip     int64  // bytes to pass over before the next unit
	messages int    // messages handed on (read side)
	stage    int    // write side: 0 op, 1 op proto, 2 packets
}

// feed parses p; emit gets each unit whole.
func (s *streamParser) feed(p []byte, emit func(unit, []byte)) {
	for len(p) > 0 {
		if s.skip > 0 {
			n := min(int64(len(p)), s.skip)
			p, s.skip = p[n:], s.skip-n
			continue
		}
		s.buf = append(s.buf, p[0])
		p = p[1:]
		if s.write {
			s.writeUnit(emit)
		} else {
			s.readUnit(emit)
		}
	}
}

// writeUnit advances the write side by the byte just gathered.
func (s *streamParser) writeUnit(emit func(unit, []byte)) {
	b := s.buf
	switch s.stage {
	case 0:
		if len(b) == 3 {
			emit(unitOp, b)
			s.stage, s.buf = 1, s.buf[:0]
		}
	case 1:
		if v, n := protowire.ConsumeVarint(b); n > 0 {
			s.skip, s.stage, s.buf = int64(v), 2, s.buf[:0]
		} else if len(b) > binary.MaxVarintLen64 {
			s.stage = 3 // not a stream this parser knows: ignore the rest
		}
	case 2:
		if len(b) < 6 {
			return
		}
		total := int64(binary.BigEndian.Uint32(b))
		hlen := int(binary.BigEndian.Uint16(b[4:]))
		if len(b) < 6+hlen {
			return
		}
		emit(unitPacket, b[6:6+hlen])
		s.skip, s.buf = total-4, s.buf[:0]
	default:
		s.buf = s.buf[:0]
	}
}

// readUnit advances the read side by the byte just gathered.
func (s *streamParser) readUnit(emit func(unit, []byte)) {
	v, n := protowire.ConsumeVarint(s.buf)
	if n < 0 {
		if len(s.buf) > binary.MaxVarintLen64 {
			s.buf = s.buf[:0]
		}
		return
	}
	if int64(len(s.buf)-n) < int64(v) {
		return
	}
	s.messages++
	emit(unitMessage, s.buf[n:])
	s.buf = s.buf[:0]
}
