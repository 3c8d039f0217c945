package minihdfs

// WRITE_BLOCK. The DataNode opens the replica for the stage asked, connects the next DataNode
// of the pipeline (targets[0], passing it the rest), answers the op, and then receives packets:
//
//	[u32 4+len(checksums)+len(data)][u16 header length][PacketHeaderProto][checksums][data]
//
// Each packet is forwarded downstream first, its CRC32C per 512-byte chunk verified, its data
// stored, and an ack queued. A responder goroutine sends the acks upstream in order, each with
// this DataNode's status followed by the statuses the downstream ack carried. The last packet
// (empty, flagged last) finalizes the replica before it is acknowledged. A bad checksum answers
// ERROR_CHECKSUM and ends the write, as a real DataNode does; heartbeat packets (seqno -1) are
// forwarded and acknowledged without touching the replica.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
)

const heartbeatSeqno = -1

type packet struct {
	offset int64
	seqno  int64
	last   bool
	sums   []byte
	data   []byte
	raw    []byte // the whole packet as received, for forwarding
}

type ackItem struct {
	seqno  int64
	status string
}

func (d *DataNode) serveWrite(conn net.Conn, r *bufio.Reader) {
	op, err := readDelimited(r, "hadoop.hdfs.OpWriteBlockProto")
	if err != nil {
		d.log.Warn("datanode: bad write op", "err", err)
		return
	}
	blk := op.Msg("header").Msg("baseHeader").Msg("block")
	id := blk.Uint("blockId")
	cs := op.Msg("requestedChecksum")
	if cs.Enum("type") != "CHECKSUM_CRC32C" || cs.Uint("bytesPerChecksum") != chunkSize {
		_ = writeOpResponse(conn, "ERROR_UNSUPPORTED", fmt.Sprintf("only CRC32C checksums of %d bytes are supported, not %s of %d",
			chunkSize, cs.Enum("type"), cs.Uint("bytesPerChecksum")), nil)
		return
	}
	store := d.currentStore()
	ws := &writeSession{abort: func() { _ = conn.Close() }, done: make(chan struct{})}
	defer close(ws.done)
	rep, err := d.openForStage(store, op, ws)
	if err != nil {
		d.log.Info("datanode: write refused", "block", id, "stage", op.Enum("stage"), "err", err)
		_ = writeOpResponse(conn, "ERROR", err.Error(), nil)
		return
	}
	released := false
	defer func() {
		if !released {
			_ = store.release(rep, ws, false)
		}
	}()
	down, downR, badLink, err := d.connectDownstream(op)
	if err != nil {
		d.log.Info("datanode: pipeline setup failed", "block", id, "next", badLink, "err", err)
		_ = writeOpResponse(conn, "ERROR", err.Error(), func(m pm) { m.Set("firstBadLink", badLink) })
		return
	}
	if down != nil {
		defer d.untrack(down)
	}
	if op.Enum("stage") == "PIPELINE_CLOSE_RECOVERY" {
		released = true
		if err := store.release(rep, ws, true); err != nil {
			_ = writeOpResponse(conn, "ERROR", err.Error(), nil)
			return
		}
		_ = writeOpResponse(conn, "SUCCESS", "", nil)
		return
	}
	if err := writeOpResponse(conn, "SUCCESS", "", nil); err != nil {
		return
	}
	released = d.receive(conn, r, down, downR, store, rep, ws)
}

// openForStage opens the replica the way op's stage asks.
func (d *DataNode) openForStage(store *replicaStore, op pm, ws *writeSession) (*replica, error) {
	blk := op.Msg("header").Msg("baseHeader").Msg("block")
	id, gs := blk.Uint("blockId"), blk.Uint("generationStamp")
	latest := op.Uint("latestGenerationStamp")
	if latest == 0 {
		latest = gs
	}
	switch stage := op.Enum("stage"); stage {
	case "PIPELINE_SETUP_CREATE":
		return store.create(id, gs, ws)
	case "PIPELINE_SETUP_APPEND":
		return store.reopen(id, latest, int64(op.Uint("minBytesRcvd")), ws)
	case "PIPELINE_SETUP_APPEND_RECOVERY", "PIPELINE_SETUP_STREAMING_RECOVERY", "PIPELINE_CLOSE_RECOVERY":
		store.stopWriter(id)
		return store.reopen(id, latest, -1, ws)
	default:
		return nil, fmt.Errorf("block construction stage %s is not supported", stage)
	}
}

// connectDownstream sets up the rest of the pipeline; on failure it names the bad link.
func (d *DataNode) connectDownstream(op pm) (net.Conn, *bufio.Reader, string, error) {
	targets := op.List("targets")
	if len(targets) == 0 {
		return nil, nil, "", nil
	}
	id := targets[0].Msg("id")
	addr := net.JoinHostPort(id.Str("ipAddr"), strconv.FormatUint(id.Uint("xferPort"), 10))
	conn, err := d.dial(addr)
	if err != nil {
		return nil, nil, addr, fmt.Errorf("connect to the next datanode %s: %w", addr, err)
	}
	fwd := pm{proto.Clone(op.m.Interface()).ProtoReflect()}
	fwd.m.Clear(fwd.field("targets"))
	fwd.Set("targets", targets[1:])
	var buf bytes.Buffer
	buf.Write([]byte{0, dataTransferVersion, opWriteBlock})
	if err := writeDelimited(&buf, fwd); err != nil {
		d.untrack(conn)
		return nil, nil, addr, err
	}
	r := bufio.NewReader(conn)
	_, err = conn.Write(buf.Bytes())
	var resp pm
	if err == nil {
		resp, err = readDelimited(r, "hadoop.hdfs.BlockOpResponseProto")
	}
	if err == nil && resp.Enum("status") != "SUCCESS" {
		bad := resp.Str("firstBadLink")
		if bad == "" {
			bad = addr
		}
		d.untrack(conn)
		return nil, nil, bad, fmt.Errorf("the next datanode %s answered %s: %s", addr, resp.Enum("status"), resp.Str("message"))
	}
	if err != nil {
		d.untrack(conn)
		return nil, nil, addr, fmt.Errorf("set up the next datanode %s: %w", addr, err)
	}
	return conn, r, "", nil
}

// receive stores packets until the last one or an error, and reports whether it finalized
// (and so released) the replica.
func (d *DataNode) receive(up net.Conn, r *bufio.Reader, down net.Conn, downR *bufio.Reader,
	store *replicaStore, rep *replica, ws *writeSession) (released bool) {
	acks := make(chan ackItem, 16)
	respDone := make(chan struct{})
	go func() {
		defer close(respDone)
		d.respond(up, downR, acks)
	}()
	finish := sync.OnceFunc(func() {
		close(acks)
		<-respDone
	})
	defer finish()
	defer func() {
		if !released && down != nil {
			_ = down.Close() // the write failed: pending downstream acks are moot
		}
	}()
	for {
		p, err := readPacket(r)
		if err != nil {
			return false
		}
		if down != nil {
			_, _ = down.Write(p.raw) // a failure shows as a missing downstream ack
		}
		if p.seqno == heartbeatSeqno {
			acks <- ackItem{seqno: p.seqno, status: "SUCCESS"}
			continue
		}
		if err := verifySums(p); err != nil {
			d.log.Warn("datanode: checksum error, ending the write", "block", rep.id, "seqno", p.seqno, "err", err)
			acks <- ackItem{seqno: p.seqno, status: "ERROR_CHECKSUM"}
			finish()
			lingerClose(up)
			return false
		}
		if err := d.storePacket(store, rep, p); err != nil {
			if err != errCrashed {
				d.log.Warn("datanode: write failed", "block", rep.id, "err", err)
			}
			return false
		}
		if p.last {
			if err := store.release(rep, ws, true); err != nil {
				d.log.Error("datanode: finalize failed", "block", rep.id, "err", err)
				return true
			}
			acks <- ackItem{seqno: p.seqno, status: "SUCCESS"}
			return true
		}
		acks <- ackItem{seqno: p.seqno, status: "SUCCESS"}
	}
}

var errCrashed = fmt.Errorf("datanode crashed on purpose")

// storePacket writes the part of p's data the replica does not hold yet.
func (d *DataNode) storePacket(store *replicaStore, rep *replica, p packet) error {
	have, _ := store.info(rep.id)
	if p.offset > have.Length {
		return fmt.Errorf("packet at offset %d leaves a hole after %d bytes", p.offset, have.Length)
	}
	data := p.data
	if skip := have.Length - p.offset; skip > 0 {
		if skip >= int64(len(data)) {
			return nil
		}
		data = data[skip:]
	}
	keep, die := d.takeBudget(len(data))
	if keep > 0 {
		if err := store.write(rep, have.Length, data[:keep]); err != nil {
			return err
		}
	}
	if die {
		d.log.Info("datanode: crashing after the bytes it was allowed", "block", rep.id)
		d.crash()
		return errCrashed
	}
	return nil
}

// respond sends the queued acks upstream in order, merged with the downstream acks.
func (d *DataNode) respond(up net.Conn, downR *bufio.Reader, acks <-chan ackItem) {
	failed := false
	for a := range acks {
		if failed {
			continue
		}
		replies := []string{a.status}
		if downR != nil && a.status == "SUCCESS" {
			ack, err := readDelimited(downR, "hadoop.hdfs.PipelineAckProto")
			if err != nil || ack.Int("seqno") != a.seqno {
				replies = append(replies, "ERROR")
			} else {
				replies = append(replies, ack.Enums("reply")...)
			}
		}
		delay, dead := d.lifeState()
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-dead:
				t.Stop()
				failed = true // a dead DataNode acknowledges nothing more
				continue
			}
		}
		msg := hdfsMsg("PipelineAckProto", "seqno", a.seqno, "reply", replies)
		if err := writeDelimited(up, msg); err != nil {
			failed = true
			continue
		}
		for _, s := range replies {
			failed = failed || s != "SUCCESS"
		}
	}
}

func readPacket(r *bufio.Reader) (packet, error) {
	var lens [6]byte
	if _, err := io.ReadFull(r, lens[:]); err != nil {
		return packet{}, err
	}
	payload := int(binary.BigEndian.Uint32(lens[:4]))
	hlen := int(binary.BigEndian.Uint16(lens[4:]))
	if payload < 4 || payload > maxPacketData+maxPacketData/chunkSize*4+4 {
		return packet{}, fmt.Errorf("packet payload of %d bytes is out of bounds", payload)
	}
	raw := make([]byte, 6+hlen+payload-4)
	copy(raw, lens[:])
	if _, err := io.ReadFull(r, raw[6:]); err != nil {
		return packet{}, err
	}
	h, err := parseMsg("hadoop.hdfs.PacketHeaderProto", raw[6:6+hlen])
	if err != nil {
		return packet{}, err
	}
	body := raw[6+hlen:]
	dataLen := int(h.Int("dataLen"))
	if dataLen < 0 || dataLen > maxPacketData || dataLen > len(body) {
		return packet{}, fmt.Errorf("packet data length %d is out of bounds (payload %d, at most %d)", dataLen, len(body), maxPacketData)
	}
	sums := body[:len(body)-dataLen]
	if len(sums) != (dataLen+chunkSize-1)/chunkSize*4 {
		return packet{}, fmt.Errorf("packet has %d checksum bytes for %d data bytes", len(sums), dataLen)
	}
	return packet{offset: h.Int("offsetInBlock"), seqno: h.Int("seqno"), last: h.Bool("lastPacketInBlock"),
		sums: sums, data: body[len(sums):], raw: raw}, nil
}

// verifySums checks the CRC32C of each chunk of p (chunks start at the packet's start).
func verifySums(p packet) error {
	for i := 0; i*chunkSize < len(p.data); i++ {
		chunk := p.data[i*chunkSize : min((i+1)*chunkSize, len(p.data))]
		want := binary.BigEndian.Uint32(p.sums[i*4:])
		if got := crc32.Checksum(chunk, castagnoli); got != want {
			return fmt.Errorf("chunk %d at block offset %d: checksum %08x, packet says %08x", i, p.offset+int64(i*chunkSize), got, want)
		}
	}
	return nil
}

// lingerClose ends a write that failed while its connection still works: it stops sending,
// and reads what the client still sends for a moment before closing, so that closing does not
// reset the connection before the client has read the last ack.
func lingerClose(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.Copy(io.Discard, conn)
	_ = conn.Close()
}
