package minihdfs

// The Hadoop IPC server side, as the client speaks it (no SASL):
//
//	preamble:  "hrpc" version(9) serviceClass authProtocol(0 = none)
//	context:   [u32 len][delimited RpcRequestHeaderProto{callId -3}][delimited IpcConnectionContextProto]
//	call:      [u32 len][delimited RpcRequestHeaderProto][delimited RequestHeaderProto][delimited request]
//	reply:     [u32 len][delimited RpcResponseHeaderProto][delimited response, on SUCCESS only]
//
// Each connection is served by one goroutine that reads a call, answers it, and reads the
// next: the client keeps one call in flight per connection anyway.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
)

const (
	ipcVersion        = 9
	clientProtocol    = "org.apache.hadoop.hdfs.protocol.ClientProtocol"
	contextCallID     = -3
	pingCallID        = -4
	saslCallID        = -33
	maxIPCFrame       = 64 << 20 // ipc.maximum.data.length
	authProtocolNone  = 0
	rpcOpCloseConnect = "RPC_CLOSE_CONNECTION"
)

// call is what a handler knows of the caller.
type call struct {
	user    string // effective user from the connection context
	machine string // the client's IP address
	method  string
}

// dispatchFunc answers one call: the response message, or an error (a *remoteError names its
// Java class; any other error answers as an RpcServerException).
type dispatchFunc func(c *call, body []byte) (pm, error)

// ipcServer accepts IPC connections on one address. While refusing it has no listener at all,
// so connects fail the way they do against a NameNode that is down.
type ipcServer struct {
	log      *slog.Logger
	addr     string
	dispatch dispatchFunc

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	stopped  bool
	wg       sync.WaitGroup
	acceptWG sync.WaitGroup
}

// newIPCServer binds addr and starts accepting.
func newIPCServer(addr string, log *slog.Logger, d dispatchFunc) (*ipcServer, error) {
	s := &ipcServer{log: log, dispatch: d, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("namenode listen on %s: %w", addr, err)
	}
	s.addr = ln.Addr().String()
	s.startAccepting(ln)
	return s, nil
}

func (s *ipcServer) startAccepting(ln net.Listener) {
	s.ln = ln
	s.acceptWG.Add(1)
	go func() {
		defer s.acceptWG.Done()
		s.acceptLoop(ln)
	}()
}

func (s *ipcServer) acceptLoop(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			_ = conn.Close()
			continue
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(conn)
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
			_ = conn.Close()
		}()
	}
}

// dropConns closes every open connection now; with refuse it also closes the listener until
// resume is called.
func (s *ipcServer) dropConns(refuse bool) {
	if refuse {
		s.mu.Lock()
		ln := s.ln
		s.ln = nil
		s.mu.Unlock()
		if ln != nil {
			_ = ln.Close()
			s.acceptWG.Wait() // no connection accepted from here on
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Close()
	}
}

// resume listens again on the same address after dropConns(true).
func (s *ipcServer) resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil || s.stopped {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("namenode listen again on %s: %w", s.addr, err)
	}
	s.startAccepting(ln)
	return nil
}

// stop closes the listener and every connection and waits for their goroutines.
func (s *ipcServer) stop() {
	s.mu.Lock()
	s.stopped = true
	ln := s.ln
	s.ln = nil
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	s.acceptWG.Wait()
	s.wg.Wait()
}

func (s *ipcServer) serveConn(conn net.Conn) {
	r := bufio.NewReader(conn)
	var pre [7]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return
	}
	if string(pre[:4]) != "hrpc" || pre[4] != ipcVersion || pre[6] != authProtocolNone {
		s.log.Warn("namenode: refusing connection", "remote", conn.RemoteAddr().String(),
			"preamble", fmt.Sprintf("%q", pre[:]), "why", "only IPC version 9 without SASL is served")
		return
	}
	c := &call{}
	if host, _, err := net.SplitHostPort(conn.RemoteAddr().String()); err == nil {
		c.machine = host
	}
	for {
		frame, err := readFrame(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("namenode: connection ends", "remote", c.machine, "err", err)
			}
			return
		}
		if !s.serveFrame(conn, c, frame) {
			return
		}
	}
}

// serveFrame handles one frame and reports whether the connection goes on.
func (s *ipcServer) serveFrame(conn net.Conn, c *call, frame []byte) bool {
	hb, rest, err := consumeDelimited(frame)
	if err != nil {
		s.log.Warn("namenode: bad frame", "remote", c.machine, "err", err)
		return false
	}
	hdr, err := parseMsg("hadoop.common.RpcRequestHeaderProto", hb)
	if err != nil {
		s.log.Warn("namenode: bad request header", "remote", c.machine, "err", err)
		return false
	}
	callID := hdr.Int("callId")
	switch {
	case callID == contextCallID:
		cb, _, err := consumeDelimited(rest)
		if err != nil {
			return false
		}
		ctx, err := parseMsg("hadoop.common.IpcConnectionContextProto", cb)
		if err != nil {
			s.log.Warn("namenode: bad connection context", "remote", c.machine, "err", err)
			return false
		}
		c.user = ctx.Msg("userInfo").Str("effectiveUser")
		return true
	case callID == pingCallID:
		return true
	case callID == saslCallID:
		s.log.Warn("namenode: SASL is not served", "remote", c.machine)
		return false
	case hdr.Enum("rpcOp") == rpcOpCloseConnect:
		return false
	}
	resp, err := s.answer(c, rest)
	out, merr := replyFrame(hdr, resp, err)
	if merr != nil {
		s.log.Error("namenode: cannot encode reply", "method", c.method, "err", merr)
		out, _ = replyFrame(hdr, pm{}, rerr(RpcServerException, "encode reply: %v", merr))
	}
	_, err = conn.Write(out)
	return err == nil
}

// answer decodes the request header and runs the call.
func (s *ipcServer) answer(c *call, rest []byte) (pm, error) {
	rb, rest, err := consumeDelimited(rest)
	if err != nil {
		return pm{}, rerr(RpcServerException, "read request header: %v", err)
	}
	rh, err := parseMsg("hadoop.common.RequestHeaderProto", rb)
	if err != nil {
		return pm{}, rerr(RpcServerException, "%v", err)
	}
	c.method = rh.Str("methodName")
	if p := rh.Str("declaringClassProtocolName"); p != clientProtocol {
		return pm{}, &remoteError{class: RpcNoSuchProtocolException,
			msg: fmt.Sprintf("Unknown protocol: %s", p), detail: "ERROR_NO_SUCH_PROTOCOL"}
	}
	body, _, err := consumeDelimited(rest)
	if err != nil && len(rest) > 0 {
		return pm{}, rerr(RpcServerException, "read request of %s: %v", c.method, err)
	}
	return s.dispatch(c, body)
}

// replyFrame encodes the reply to the call with header hdr.
func replyFrame(hdr pm, resp pm, callErr error) ([]byte, error) {
	rh := commonMsg("RpcResponseHeaderProto",
		"callId", uint32(hdr.Int("callId")),
		"serverIpcVersionNum", ipcVersion,
		"clientId", hdr.Bytes("clientId"),
		"retryCount", hdr.Int("retryCount"))
	if callErr != nil {
		var re *remoteError
		if !errors.As(callErr, &re) {
			re = rerr(RpcServerException, "%v", callErr)
		}
		detail := re.detail
		if detail == "" {
			detail = "ERROR_APPLICATION"
		}
		rh.Set("status", "ERROR").Set("exceptionClassName", re.class).
			Set("errorMsg", re.msg).Set("errorDetail", detail)
		resp = pm{}
	} else {
		rh.Set("status", "SUCCESS")
	}
	hb, err := rh.Marshal()
	if err != nil {
		return nil, err
	}
	payload := protowire.AppendBytes(nil, hb)
	if resp.Valid() {
		b, err := resp.Marshal()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", resp.Name(), err)
		}
		payload = protowire.AppendBytes(payload, b)
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(payload)), uint32(len(payload)))
	return append(out, payload...), nil
}

func readFrame(r *bufio.Reader) ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n > maxIPCFrame {
		return nil, fmt.Errorf("frame of %d bytes is over the %d byte limit", n, maxIPCFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// consumeDelimited splits a varint-length-prefixed message off b.
func consumeDelimited(b []byte) (msg, rest []byte, err error) {
	m, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return nil, nil, fmt.Errorf("bad length-delimited message: %w", protowire.ParseError(n))
	}
	return m, b[n:], nil
}
