package minihdfs

import (
	"bufio"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/flumego/flume/internal/testwait"
)

// rawCall makes one ClientProtocol call on a connection of its own, framed as HDFS.md
// describes. The client has no recoverLease and no fsync; this reaches them.
func rawCall(t *testing.T, addr, method string, req pm) (pm, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	frame := func(msgs ...pm) []byte {
		var payload []byte
		for _, m := range msgs {
			b, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			payload = protowire.AppendBytes(payload, b)
		}
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
	}
	rpcHeader := func(id int) pm {
		return commonMsg("RpcRequestHeaderProto", "rpcKind", "RPC_PROTOCOL_BUFFER", "rpcOp", "RPC_FINAL_PACKET",
			"callId", id, "clientId", []byte("raw-test-client!"))
	}
	out := []byte("hrpc\x09\x00\x00")
	out = append(out, frame(rpcHeader(contextCallID), commonMsg("IpcConnectionContextProto",
		"userInfo", commonMsg("UserInformationProto", "effectiveUser", "flume"), "protocol", clientProtocol))...)
	out = append(out, frame(rpcHeader(1), commonMsg("RequestHeaderProto", "methodName", method,
		"declaringClassProtocolName", clientProtocol, "clientProtocolVersion", 1), req)...)
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	reply, err := readFrame(bufio.NewReader(conn))
	if err != nil {
		t.Fatalf("read reply to %s: %v", method, err)
	}
	hb, rest, _ := consumeDelimited(reply)
	hdr, err := parseMsg("hadoop.common.RpcResponseHeaderProto", hb)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Enum("status") != "SUCCESS" {
		return pm{}, &remoteError{class: hdr.Str("exceptionClassName"), msg: hdr.Str("errorMsg")}
	}
	rb, _, _ := consumeDelimited(rest)
	resp, err := parseMsg("hadoop.hdfs."+methodResponse[method], rb)
	if err != nil {
		t.Fatal(err)
	}
	return resp, nil
}

var methodResponse = map[string]string{"recoverLease": "RecoverLeaseResponseProto", "fsync": "FsyncResponseProto"}

func TestFsyncLengthAndRecoverLease(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	a, abandonA := doomedClient(t, c)
	b := newClient(t, c)
	w := startWriter(t, c, a, "/f", 1<<20, []byte("synced bytes"))
	defer w.Close()
	if _, err := rawCall(t, c.NameNodeAddr(), "fsync", hdfsMsg("FsyncRequestProto", "src", "/f",
		"client", "someone-else", "lastBlockLength", 12)); exception(err) != LeaseExpiredException {
		t.Fatalf("fsync by a client that does not hold the lease: %v", err)
	}
	if _, err := rawCall(t, c.NameNodeAddr(), "fsync", hdfsMsg("FsyncRequestProto", "src", "/f",
		"client", a.Name(), "lastBlockLength", 12)); err != nil {
		t.Fatal(err)
	}
	if got := size(t, b, "/f"); got != 12 {
		t.Fatalf("size after fsync with the length: %d, want 12", got)
	}
	abandonA()
	// recoverLease does not wait for the soft limit: false while the block is recovered,
	// true once the file is closed.
	recover := func() (bool, error) {
		resp, err := rawCall(t, c.NameNodeAddr(), "recoverLease", hdfsMsg("RecoverLeaseRequestProto", "src", "/f",
			"clientName", "recoverer"))
		return resp.Valid() && resp.Bool("result"), err
	}
	testwait.Until(t, wait, "recoverLease to report /f closed", func() bool {
		closed, err := recover()
		if err != nil {
			t.Fatalf("recoverLease: %v", err)
		}
		return closed
	})
	if got := readAll(t, b, "/f"); string(got) != "synced bytes" {
		t.Fatalf("after recoverLease: %q", got)
	}
	if _, err := rawCall(t, c.NameNodeAddr(), "recoverLease", hdfsMsg("RecoverLeaseRequestProto", "src", "/nope",
		"clientName", "recoverer")); exception(err) != FileNotFoundException {
		t.Fatalf("recoverLease of a missing file: %v", err)
	}
}
