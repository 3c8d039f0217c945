package raftstore

import (
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// raft's rpc types, the first byte of every request on its wire (net_transport.go).
const (
	rpcAppendEntries byte = iota
	rpcRequestVote
	rpcInstallSnapshot
	rpcTimeoutNow
	rpcRequestPreVote
)

// rpcName names an rpc type for logs; -1 is unknown.
func rpcName(t int) string {
	switch t {
	case int(rpcAppendEntries):
		return "AppendEntries"
	case int(rpcRequestVote):
		return "RequestVote"
	case int(rpcInstallSnapshot):
		return "InstallSnapshot"
	case int(rpcTimeoutNow):
		return "TimeoutNow"
	case int(rpcRequestPreVote):
		return "RequestPreVote"
	case -1:
		return "unknown"
	}
	return "type " + strconv.Itoa(t)
}

// readCap bounds the bytes a connection reads between two of its own writes.
//
// raft's NetworkTransport decodes whatever arrives: a msgpack header announcing a 300 MB
// byte string makes it allocate, chunk by chunk, as long as data comes. It answers every
// request it has read with one write, so "between two writes" is one request on an accepted
// connection (and one response on a dialled one). The budget is the message cap, or the
// snapshot cap for an InstallSnapshot, whose snapshot data streams to disk through the same
// reader after its header.
//
// The type of a request is its first byte. On an accepted connection a peer that is not
// pipelining sends exactly one request and waits for its response, so the first byte read
// after a write, or the very first byte of the connection, is the type. On a pipelined
// AppendEntries connection raft's 256 KiB read-ahead may already hold the start of the next
// request when the response goes out, so the first byte read next is somewhere inside it;
// that can only give that one request the snapshot budget, never take budget away.
//
// Read and Write may run in different goroutines (raft pipelines on dialled connections),
// hence the mutex.
type readCap struct {
	message  int64 // budget of a request or response
	snapshot int64 // budget of an InstallSnapshot request; 0: none (dialled side)

	mu    sync.Mutex
	read  int64 // bytes read since the last write
	limit int64 // budget of the current message
	fresh bool  // nothing read since the last write: the next byte is an rpc type
	rpc   int   // rpc type of the current request, -1 unknown
}

func (r *readCap) init(message, snapshot int64) {
	r.message, r.snapshot = message, snapshot
	r.reset()
}

// reset starts a new budget; called on every write.
func (r *readCap) reset() {
	r.mu.Lock()
	r.read, r.limit, r.fresh, r.rpc = 0, r.message, true, -1
	r.mu.Unlock()
}

// clip shortens p to what is left of the budget; false when nothing is left, which means
// the reader wants more than the cap allows.
func (r *readCap) clip(p []byte) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	left := r.limit - r.read
	if left <= 0 {
		return nil, false
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	return p, true
}

// count charges the bytes just read, and on the first byte after a write takes the rpc
// type from it. A reset between clip and count charges those bytes to the new budget,
// which only ever makes it stricter by less than one read.
func (r *readCap) count(p []byte) {
	if len(p) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fresh && r.snapshot > 0 {
		r.rpc = int(p[0])
		if p[0] == rpcInstallSnapshot {
			r.limit = r.snapshot
		}
	}
	r.fresh = false
	r.read += int64(len(p))
}

// state is the budget that was passed and the rpc it was for, for the log.
func (r *readCap) state() (limit int64, rpc int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.limit, r.rpc
}

// overCap closes a connection that read its whole budget and asked for more, and logs it
// once per remote IP and quiet period.
func (c *trackedConn) overCap() {
	limit, rpc := c.cap.state()
	_ = c.Close()
	if c.layer.down.Load() {
		return
	}
	what := "request"
	if !c.inbound {
		what = "response"
	}
	c.layer.refuse.Refuse("raft cap "+c.ip, "raft connection closed: "+what+" over the size cap",
		"peer", c.peer, "rpc", rpcName(rpc), "cap", limit)
	returnMemory()
}

// releasePending is set while a release of memory is scheduled.
var releasePending atomic.Bool

// returnMemory gives back to the operating system, a second after a cut, the memory an
// oversized message made raft's decoder allocate: by then raft's reader has dropped it, but
// the Go runtime would keep the pages for minutes, and a member the cap protected would still
// look as large as the message made it. Cuts happen only when a peer misbehaves; at most one
// release is pending at a time.
func returnMemory() {
	if releasePending.CompareAndSwap(false, true) {
		time.AfterFunc(time.Second, func() {
			debug.FreeOSMemory()
			releasePending.Store(false)
		})
	}
}
