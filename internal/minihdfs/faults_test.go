package minihdfs

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/colinmarc/hdfs/v2"

	"github.com/flumego/flume/internal/testwait"
)

func TestStandbyExceptionSendsTheClientToTheNextNameNode(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	// With the same NameNode listed twice, the client's failover lands on a working one.
	two := newClient(t, c, c.NameNodeAddr(), c.NameNodeAddr())
	c.FailCalls(CallFault{Exception: StandbyException, Times: 1, Methods: []string{"getFileInfo"}})
	if _, err := two.Stat("/"); err != nil {
		t.Fatalf("stat with a second namenode to fail over to: %v", err)
	}
	// With one NameNode, the client has nowhere to go and gives up.
	one := newClient(t, c)
	c.FailCalls(CallFault{Exception: StandbyException, Methods: []string{"getFileInfo"}})
	_, err := one.Stat("/")
	if err == nil || !strings.Contains(err.Error(), StandbyException) {
		t.Fatalf("stat against a standby namenode: %v, want an error naming %s", err, StandbyException)
	}
	c.ClearCallFault()
	if _, err := newClient(t, c).Stat("/"); err != nil {
		t.Fatalf("stat after the fault cleared: %v", err)
	}
}

func TestRetriableExceptionSurfacesWithItsClass(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	c.FailCalls(CallFault{Exception: RetriableException, Times: 2, Methods: []string{"create", "mkdirs"}})
	if err := cl.Mkdir("/d", 0o755); exception(err) != RetriableException {
		t.Fatalf("mkdir: %v, want %s", err, RetriableException)
	}
	if _, err := cl.CreateFile("/f", 1, 1<<20, 0o644); exception(err) != RetriableException {
		t.Fatalf("create: %v, want %s", err, RetriableException)
	}
	writeFile(t, cl, "/f", 1<<20, []byte("ok"), 2)
	if _, err := cl.Truncate("/f", 0); exception(err) != RpcNoSuchMethodException {
		t.Fatalf("truncate: %v, want %s", err, RpcNoSuchMethodException)
	}
}

func TestDroppedAndRefusedNameNodeConnections(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	if _, err := cl.Stat("/"); err != nil {
		t.Fatal(err)
	}
	c.DropConnections(false)
	if _, err := cl.Stat("/"); err == nil {
		t.Fatalf("stat on a dropped connection succeeded")
	}
	if _, err := newClient(t, c).Stat("/"); err != nil {
		t.Fatalf("a new connection after the drop: %v", err)
	}
	c.DropConnections(true)
	if _, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{c.NameNodeAddr()}, User: "flume"}); err == nil {
		t.Fatalf("connected while the namenode refuses connections")
	}
	if err := c.AcceptConnections(); err != nil {
		t.Fatal(err)
	}
	if _, err := newClient(t, c).Stat("/"); err != nil {
		t.Fatalf("after accepting again: %v", err)
	}
}

func TestSpaceQuotaRefusesBlocksPastIt(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	if err := cl.MkdirAll("/q/in", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.SetQuota("/q", 100<<10); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cl, "/q/in/small", 64<<10, []byte("fits"), 10)
	w, err := cl.CreateFile("/q/in/big", 1, 64<<10, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	// The first block reserves a full 64 KiB next to the 4 bytes already there: fits.
	if _, err := w.Write(make([]byte, 64<<10)); err != nil {
		t.Fatalf("first block: %v", err)
	}
	if _, err := w.Write([]byte("x")); exception(err) != DSQuotaExceededException {
		t.Fatalf("write into a second block: %v, want %s", err, DSQuotaExceededException)
	}
	_ = w.Close()
	cs, err := cl.GetContentSummary("/q")
	if err != nil || cs.SpaceQuota() != 100<<10 {
		t.Fatalf("content summary: quota %d, %v", cs.SpaceQuota(), err)
	}
	if err := cl.Rename("/q/in/small", "/elsewhere"); err != nil {
		t.Fatalf("renaming out of the quota: %v", err)
	}
	if err := c.SetQuota("/q", 0); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cl, "/q/in/more", 64<<10, make([]byte, 200<<10), 64<<10)
}

func TestAccessRulesRefuseLikePermissions(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	for _, d := range []string{"/ro/sub", "/secret", "/rw"} {
		if err := cl.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, cl, "/ro/f", 1<<20, []byte("read me"), 10)
	writeFile(t, cl, "/rw/f", 1<<20, []byte("move me"), 10)
	c.SetAccess("/ro", AccessReadOnly)
	c.SetAccess("/secret", AccessDenied)

	if got := readAll(t, cl, "/ro/f"); string(got) != "read me" {
		t.Fatalf("read under a read-only path: %q", got)
	}
	checks := map[string]error{}
	_, checks["create"] = cl.Create("/ro/new")
	checks["mkdir"] = cl.Mkdir("/ro/d", 0o755)
	checks["remove"] = cl.Remove("/ro/f")
	checks["rename into"] = cl.Rename("/rw/f", "/ro/g")
	checks["rename out"] = cl.Rename("/ro/f", "/rw/g")
	_, checks["append"] = cl.Append("/ro/f")
	checks["chmod"] = cl.Chmod("/ro/f", 0o600)
	_, checks["stat denied"] = cl.Stat("/secret")
	_, checks["readdir denied"] = cl.ReadDir("/secret")
	for what, err := range checks {
		if !isPermission(err) {
			t.Errorf("%s: %v, want permission denied", what, err)
		}
	}
	c.SetAccess("/ro", AccessNormal)
	if err := cl.Remove("/ro/f"); err != nil {
		t.Fatalf("remove after the rule went: %v", err)
	}
}

func TestSlowAcksSlowTheWriter(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	const delay = 150 * time.Millisecond
	c.DataNode(0).SetAckDelay(delay)
	w, err := cl.CreateFile("/slow", 1, 1<<20, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Two packets (the data and the empty last one), each acknowledged after delay.
	if took := time.Since(start); took < 2*delay {
		t.Fatalf("close took %v with acks delayed by %v each", took, delay)
	}
}

func TestCompleteAnswersFalseUntilTheBlockIsReported(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	c.FailCompletes(2)
	w, err := cl.CreateFile("/f", 1, 1<<20, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	tries := 0
	testwait.UntilNil(t, wait, "close", func() error {
		tries++
		err := w.Close()
		if err != nil && !hdfs.IsErrReplicating(err) {
			t.Fatalf("close: %v, want ErrReplicating or success", err)
		}
		return err
	})
	if tries != 3 || size(t, cl, "/f") != 3 {
		t.Fatalf("closed after %d tries with size %d, want 3 tries and 3 bytes", tries, size(t, cl, "/f"))
	}
}

// corruptingDialer flips the last byte of the second write on each DataNode connection: the
// first data packet's payload, after the write op.
type corruptingDialer struct{}

func (d *corruptingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &corruptingConn{Conn: conn}, nil
}

type corruptingConn struct {
	net.Conn
	writes int
}

func (c *corruptingConn) Write(b []byte) (int, error) {
	c.writes++
	if c.writes == 2 && len(b) > 0 {
		b = append([]byte(nil), b...)
		b[len(b)-1] ^= 0xff
	}
	return c.Conn.Write(b)
}

func TestBadChecksumFailsTheWrite(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	var d corruptingDialer
	cl, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{c.NameNodeAddr()}, User: "flume",
		DatanodeDialFunc: d.dial})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	w, err := cl.CreateFile("/bad", 1, 1<<20, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(3000, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "ERROR_CHECKSUM") {
		t.Fatalf("close after a corrupted packet: %v, want an ERROR_CHECKSUM ack", err)
	}
	if got, err := c.ReadStored("/bad"); err != nil || len(got) != 0 {
		t.Fatalf("the datanode stored %d bytes of a corrupted packet (%v)", len(got), err)
	}
}
