package minihdfs

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// DataTransferProtocol framing: [u16 version][u8 op][delimited Op...Proto].
const (
	dataTransferVersion = 0x1c
	opWriteBlock        = 0x50
	opReadBlock         = 0x51
	opBlockChecksum     = 0x55
	maxPacketData       = 64 << 10 // the largest packet payload accepted (dfs.client-write-packet-size)
	maxOpMessage        = 1 << 20
)

// DataNode is one DataNode of a Cluster. Its methods are safe for concurrent use. A killed
// DataNode keeps its replicas on disk; the NameNode still lists it as a location until
// it is back, as a real NameNode does until its heartbeat expires.
type DataNode struct {
	index int
	uuid  string
	dir   string
	log   *slog.Logger

	mu       sync.Mutex
	addr     string // bound address, kept across restarts
	store    *replicaStore
	ln       net.Listener
	conns    map[net.Conn]struct{}
	alive    bool
	dead     chan struct{} // closed when the current life ends
	wg       sync.WaitGroup
	dieArmed bool
	dieLeft  int64
	ackDelay time.Duration

	// restarted is called after a Restart: the NameNode retries what waited for this DataNode
	// (a real DataNode gets its recovery commands with the first heartbeat).
	restarted func()
}

// newDataNode prepares DataNode i under dir (its UUID is kept in dir) and starts it on addr.
func newDataNode(i int, dir, addr string, log *slog.Logger) (*DataNode, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create datanode directory: %w", err)
	}
	uuid, err := datanodeUUID(dir)
	if err != nil {
		return nil, err
	}
	d := &DataNode{index: i, uuid: uuid, dir: dir, addr: addr, conns: map[net.Conn]struct{}{},
		log: log.With("datanode", i)}
	if err := d.start(); err != nil {
		return nil, err
	}
	return d, nil
}

func datanodeUUID(dir string) (string, error) {
	p := filepath.Join(dir, "uuid")
	b, err := os.ReadFile(p)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read datanode uuid: %w", err)
	}
	var r [16]byte
	_, _ = rand.Read(r[:])
	r[6] = r[6]&0x0f | 0x40
	r[8] = r[8]&0x3f | 0x80
	id := fmt.Sprintf("%x-%x-%x-%x-%x", r[0:4], r[4:6], r[6:8], r[8:10], r[10:16])
	if err := os.WriteFile(p, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write datanode uuid: %w", err)
	}
	return id, nil
}

func (d *DataNode) start() error {
	store, err := openReplicaStore(d.dir)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", d.addr)
	if err != nil {
		return fmt.Errorf("datanode %d listen on %s: %w", d.index, d.addr, err)
	}
	d.mu.Lock()
	d.addr = ln.Addr().String()
	d.store, d.ln, d.alive, d.dead = store, ln, true, make(chan struct{})
	d.wg.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.wg.Done()
		d.acceptLoop(ln)
	}()
	return nil
}

// Addr is the DataNode's transfer address (host:port).
func (d *DataNode) Addr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addr
}

// UUID is the DataNode's id, as the NameNode lists it in block locations.
func (d *DataNode) UUID() string { return d.uuid }

// Alive reports whether the DataNode is running.
func (d *DataNode) Alive() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.alive
}

// Replicas is the number of replicas the DataNode holds on disk.
func (d *DataNode) Replicas() int { return d.currentStore().count() }

// Kill stops the DataNode the way a crash does: its listener and every open connection close
// at once, and what it had written stays on disk as it was. It returns once every goroutine of
// the DataNode has ended.
func (d *DataNode) Kill() {
	d.crash()
	d.wg.Wait()
}

// crash ends the current life without waiting (a handler calls it on itself).
func (d *DataNode) crash() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.alive {
		return
	}
	d.alive = false
	close(d.dead)
	_ = d.ln.Close()
	for c := range d.conns {
		_ = c.Close()
	}
}

// Restart kills the DataNode if it runs, then starts it again on the same address with the
// replicas it has on disk.
func (d *DataNode) Restart() error {
	d.Kill()
	if err := d.start(); err != nil {
		return err
	}
	if d.restarted != nil {
		d.restarted()
	}
	return nil
}

// DieAfter makes the DataNode crash (as Kill) once it has received k more bytes of block data:
// it stores exactly k of them and acknowledges none of the packet that crossed the limit.
// A negative k disarms it.
func (d *DataNode) DieAfter(k int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dieArmed, d.dieLeft = k >= 0, k
}

// SetAckDelay delays every pipeline acknowledgement this DataNode sends by delay (0: none).
func (d *DataNode) SetAckDelay(delay time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ackDelay = delay
}

// takeBudget accounts n received bytes against DieAfter: how many of them to keep, and
// whether to crash after keeping them.
func (d *DataNode) takeBudget(n int) (keep int, die bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.dieArmed {
		return n, false
	}
	if int64(n) < d.dieLeft {
		d.dieLeft -= int64(n)
		return n, false
	}
	keep = int(d.dieLeft)
	d.dieArmed, d.dieLeft = false, 0
	return keep, true
}

func (d *DataNode) lifeState() (delay time.Duration, dead <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ackDelay, d.dead
}

func (d *DataNode) currentStore() *replicaStore {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.store
}

// track registers conn so that a crash closes it; it reports false (and closes conn) when the
// DataNode is already down.
func (d *DataNode) track(conn net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.alive {
		_ = conn.Close()
		return false
	}
	d.conns[conn] = struct{}{}
	return true
}

func (d *DataNode) untrack(conn net.Conn) {
	d.mu.Lock()
	delete(d.conns, conn)
	d.mu.Unlock()
	_ = conn.Close()
}

func (d *DataNode) acceptLoop(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		if !d.track(conn) {
			continue
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer d.untrack(conn)
			d.serveConn(conn)
		}()
	}
}

// dial opens a tracked connection to another DataNode (the next in a pipeline).
func (d *DataNode) dial(addr string) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if !d.track(conn) {
		return nil, errors.New("datanode is down")
	}
	return conn, nil
}

func (d *DataNode) serveConn(conn net.Conn) {
	r := bufio.NewReader(conn)
	var hdr [3]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return
	}
	if v := binary.BigEndian.Uint16(hdr[:2]); v != dataTransferVersion {
		d.log.Warn("datanode: unsupported data transfer version", "version", v)
		return
	}
	switch hdr[2] {
	case opWriteBlock:
		d.serveWrite(conn, r)
	case opReadBlock:
		d.serveRead(conn, r)
	case opBlockChecksum:
		d.serveChecksum(conn, r)
	default:
		_ = writeOpResponse(conn, "ERROR_UNSUPPORTED", fmt.Sprintf("operation 0x%x is not supported", hdr[2]), nil)
	}
}

// readDelimited reads a varint-length-prefixed message of type full.
func readDelimited(r *bufio.Reader, full string) (pm, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return pm{}, err
	}
	if n > maxOpMessage {
		return pm{}, fmt.Errorf("%s of %d bytes is too large", full, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return pm{}, err
	}
	return parseMsg(full, b)
}

// writeDelimited writes a varint-length-prefixed message.
func writeDelimited(w io.Writer, m pm) error {
	b, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.Name(), err)
	}
	_, err = w.Write(protowire.AppendBytes(nil, b))
	return err
}

// writeOpResponse answers an op. The client reads the first five bytes at once, so the reply
// always carries firstBadLink to be at least that long.
func writeOpResponse(w io.Writer, status, message string, extra func(pm)) error {
	resp := hdfsMsg("BlockOpResponseProto", "status", status, "firstBadLink", "")
	if message != "" {
		resp.Set("message", message)
	}
	if extra != nil {
		extra(resp)
	}
	return writeDelimited(w, resp)
}

// datanodeInfo is the DatanodeInfoProto the NameNode lists d under.
func (d *DataNode) datanodeInfo() pm {
	host, portStr, _ := net.SplitHostPort(d.Addr())
	port, _ := strconv.Atoi(portStr)
	id := hdfsMsg("DatanodeIDProto", "ipAddr", host, "hostName", host, "datanodeUuid", d.uuid,
		"xferPort", port, "infoPort", 0, "ipcPort", 0)
	return hdfsMsg("DatanodeInfoProto", "id", id, "capacity", uint64(1)<<40,
		"remaining", uint64(1)<<40, "adminState", "NORMAL")
}

// What the NameNode asks of a DataNode directly, in place of heartbeats, block reports and
// the inter-DataNode recovery protocol.

var errDataNodeDown = errors.New("datanode is down")

// replica reports what the DataNode holds of block id, from its last known state when it is
// down (as the NameNode knows it from the last block report).
func (d *DataNode) replica(id uint64) (replicaInfo, bool) { return d.currentStore().info(id) }

// recoverReplica stops any write on block id and reports the replica: the first step of
// block recovery.
func (d *DataNode) recoverReplica(id uint64) (replicaInfo, bool, error) {
	if !d.Alive() {
		return replicaInfo{}, false, errDataNodeDown
	}
	s := d.currentStore()
	s.stopWriter(id)
	info, ok := s.info(id)
	return info, ok, nil
}

// commitRecovery cuts block id to length, gives it generation stamp gs and finalizes it.
func (d *DataNode) commitRecovery(id, gs uint64, length int64) error {
	if !d.Alive() {
		return errDataNodeDown
	}
	return d.currentStore().recoverTo(id, gs, length)
}

// removeReplicas deletes replicas of deleted blocks; a DataNode that is down keeps them (ids are
// never handed out again, so they are only dead weight).
func (d *DataNode) removeReplicas(ids []uint64) {
	if !d.Alive() {
		return
	}
	s := d.currentStore()
	for _, id := range ids {
		s.remove(id)
	}
}
