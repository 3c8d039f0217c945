package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flumego/flume/internal/pki"
	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/master/client"
	"github.com/flumego/flume/node/plugin/plugintest"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/wire"
)

// The security scenarios (FAULTS.md rows 24 and 26) against real processes: three masters, a
// collector and an agent with TLS on every port and access control on, shipping a file end to
// end while strangers try every attack an outsider could. Each attack is refused with a clear
// error, nothing refused changes the state, the data arrives exactly once with no forged line
// among it, each refusal is logged once rather than per attempt, and the masters' memory stays
// flat.

// ctlWith runs flumectl against master 0 of e with the given TLS and token flags.
func ctlWith(e *masters, flags []string, args ...string) (string, error) {
	all := append(append([]string{"--master", e.admins[0], "--timeout", "3s"}, flags...), args...)
	out, err := exec.Command(filepath.Join(e.bin, "flumectl"), all...).CombinedOutput()
	return string(out), err
}

// refused fails the test unless flumectl failed and said every part of want.
func refused(t *testing.T, what, out string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted:\n%s", what, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("%s: the error does not say %q:\n%s", what, w, out)
		}
	}
	t.Logf("%s: refused: %s", what, firstLine(strings.TrimPrefix(strings.TrimSpace(out), "flumectl: ")))
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// members returns the leader's id and the term, as master i sees them.
func (e *masters) termAndLeader(i int) (leader string, term string) {
	out, err := e.ctl(i, "members", "-o", "json")
	if err != nil {
		return "", ""
	}
	var m struct {
		Members []struct {
			ID          string `json:"id"`
			RaftAddress string `json:"raftAddress"`
			Leader      bool   `json:"leader"`
		} `json:"members"`
		Term string `json:"term"`
	}
	if json.Unmarshal([]byte(out), &m) != nil {
		return "", ""
	}
	for _, mem := range m.Members {
		if mem.Leader {
			return mem.ID + "@" + mem.RaftAddress, m.Term
		}
	}
	return "", m.Term
}

// forgedVote is raft's wire form of a RequestVote for a much later term with
// LeadershipTransfer set, claiming to come from master from: a leader that decoded it would
// step down.
func forgedVote(t *testing.T, fromID, fromAddr string) []byte {
	t.Helper()
	req := raft.RequestVoteRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(fromID), Addr: []byte(fromAddr)},
		Term:      1 << 20, LastLogIndex: 1 << 40, LastLogTerm: 1 << 20, LeadershipTransfer: true,
	}
	var body []byte
	if err := codec.NewEncoderBytes(&body, &codec.MsgpackHandle{}).Encode(&req); err != nil {
		t.Fatal(err)
	}
	return append([]byte{1}, body...) // rpcRequestVote
}

// oversizedAppend is the start of an AppendEntries whose one entry announces a byte string of
// size bytes, followed by nothing yet: the data is streamed after it.
func oversizedAppend(size uint32) []byte {
	b := []byte{0, 0x81, 0xa7} // rpcAppendEntries; map of 1, key: string of 7
	b = append(b, "Entries"...)
	b = append(b, 0x91, 0x81, 0xa4) // array of 1: map of 1, key: string of 4
	b = append(b, "Data"...)
	b = append(b, 0xc6, byte(size>>24), byte(size>>16), byte(size>>8), byte(size)) // bin 32
	return b
}

// stream sends head, then size bytes, to addr (over TLS when conf is set), until the peer cuts
// the connection; it returns what was sent.
func stream(addr string, conf *tls.Config, head []byte, size int64) (int64, error) {
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer raw.Close()
	var c net.Conn = raw
	_ = raw.SetDeadline(time.Now().Add(60 * time.Second))
	if conf != nil {
		tc := tls.Client(raw, conf)
		if err := tc.Handshake(); err != nil {
			return 0, err
		}
		c = tc
	}
	if _, err := c.Write(head); err != nil {
		return 0, err
	}
	chunk := make([]byte, 256<<10)
	var sent int64
	for sent < size {
		n, err := c.Write(chunk)
		sent += int64(n)
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// TestSecureClusterRefusesEveryStranger is FAULTS.md rows 24 and 26 in real processes.
func TestSecureClusterRefusesEveryStranger(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	d := newDataplaneOn(t, 3, 1, 100_000, true)
	e, sec := d.e, d.e.sec
	d.startAgent(d.chain("E2E"))
	d.waitWritten(0.05, 60*time.Second)
	rssBefore := make([]int64, 3)
	for i, p := range e.procs {
		rssBefore[i] = rss(p.Process.Pid)
	}
	configsBefore := e.mustCtl(0, "configs", "-o", "json")
	mappingsBefore := e.mustCtl(0, "mappings", "-o", "json")

	// Admins: TLS and tokens.
	other := newSecureSetup(t, e.bin) // a CA of its own
	if _, err := (pki.Issue{Dir: sec.dir, Role: pki.RoleClient, Name: "expired", Days: 1,
		Now: func() time.Time { return time.Now().AddDate(0, 0, -3) }}).Run(); err != nil {
		t.Fatal(err)
	}
	out, err := ctlWith(e, nil, "status")
	refused(t, "plaintext flumectl", out, err, "may require TLS")
	out, err = ctlWith(e, other.clientArgs("client", sec.admin), "status")
	refused(t, "a client certificate of another CA", out, err, "unknown authority")
	out, err = ctlWith(e, sec.clientArgs("client-expired", sec.admin), "status")
	refused(t, "an expired client certificate (flumectl checks it first)", out, err, "expired on")
	if err := presentCert(e.admins[0], sec, "client-expired"); err == nil {
		t.Fatal("the admin port took an expired client certificate")
	} else {
		t.Logf("an expired client certificate presented anyway: refused by the master: %v", err)
	}
	out, err = ctlWith(e, sec.clientArgs("", sec.admin), "status")
	refused(t, "no client certificate under mutual TLS", out, err, "tls handshake with master.flume")
	out, err = ctlWith(e, sec.clientArgs("client", ""), "status")
	refused(t, "no token", out, err, "give a token with the read role")
	out, err = ctlWith(e, sec.clientArgs("client", "NOTATOKENNOTATOKENNOTATOKEN"), "status")
	refused(t, "a wrong token", out, err, "not known to the masters")
	readTok := newToken(t, e, "read")
	out, err = ctlWith(e, sec.clientArgs("client", readTok), "config", "x", "null", "console")
	refused(t, "a read token configuring", out, err, "may not run config", "operator role")
	opTok := newToken(t, e, "operator")
	for _, argv := range [][]string{{"purgeAll"}, {"unmapAll"}, {"removemaster", "2"}} {
		out, err = ctlWith(e, sec.clientArgs("client", opTok), argv...)
		refused(t, "an operator token running "+argv[0], out, err, "admin role")
	}
	for _, argv := range [][]string{{"purgeAll"}, {"unmapAll"}, {"decommission", "agent1"}, {"config", "agent1", "null", "null"}} {
		out, err = ctlWith(e, sec.clientArgs("client", ""), argv...)
		refused(t, "no token running "+argv[0], out, err, "give a token")
	}
	acc := accessorOf(t, e, "operator")
	e.mustCtl(0, "acl", "revoke", acc)
	out, err = ctlWith(e, sec.clientArgs("client", opTok), "noop")
	refused(t, "a revoked token", out, err, "not known to the masters")

	// Commands on nodes: an operator may configure an exec source; the node refuses it.
	pwned := filepath.Join(t.TempDir(), "pwned")
	out, err = ctlWith(e, sec.clientArgs("client", ""), "config", "x", fmt.Sprintf(`exec("id > %s", shell=true)`, pwned), "null")
	refused(t, "exec pushed without a token", out, err, "give a token")
	opTok = newToken(t, e, "operator")
	ctlOp := func(args ...string) {
		if out, err := ctlWith(e, sec.clientArgs("client", opTok), args...); err != nil {
			t.Fatalf("operator %v: %v\n%s", args, err, out)
		}
	}
	ctlOp("config", "x", fmt.Sprintf(`exec("id > %s", shell=true)`, pwned), "null")
	ctlOp("map", "col1", "x")
	plugintest.Eventually(t, 20*time.Second, throttle(ctlPoll, func() bool {
		out, _ := e.ctl(0, "status")
		return regexp.MustCompile(`x\s+col1\s+\S+\s+ERROR .*flume.node.exec.allow`).MatchString(out)
	}), func() string { out, _ := e.ctl(0, "status"); return "the node did not refuse the exec source:\n" + out })
	if _, err := os.Stat(pwned); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the pushed command ran: %v", err)
	}
	t.Logf("exec pushed by an operator: refused by the node (flume.node.exec.allow), nothing ran")
	ctlOp("decommission", "x")

	// Nodes: a node under a name bound to another identity; a node without a certificate.
	fake := e.node("col1", sec.nodeArgs("agent1")...) // agent1's certificate, col1's name
	plugintest.Eventually(t, 20*time.Second, func() bool {
		return strings.Contains(fake.log.String(), "THE MASTER REFUSES THIS NODE") &&
			strings.Contains(fake.log.String(), "bound to cert:col1")
	}, func() string { return "the impostor was not refused:\n" + fake.log.String() })
	fake.kill()
	t.Logf("a node claiming col1 with agent1's certificate: %s", firstLine(fake.log.String()[strings.Index(fake.log.String(), "THE MASTER"):]))
	plain := &proc{t: t, bin: filepath.Join(e.bin, "flumed"), args: []string{"node", "-n", "col1", "--data-dir", t.TempDir(), "-s",
		"-D", "flume.master.servers=" + e.servers}}
	plain.start()
	plugintest.Eventually(t, 20*time.Second, func() bool {
		return strings.Contains(plain.log.String(), "may require TLS")
	}, func() string { return "the plaintext node was not refused:\n" + plain.log.String() })
	plain.kill()

	// The node service: another agent's chunks, another collector's commits.
	nodeAs := func(cert string) flumev1.NodeServiceClient {
		prov, err := tlsconf.Load(tlsconf.Files{CA: sec.path("ca.pem"), Cert: sec.path(cert + ".pem"), Key: sec.path(cert + "-key.pem")})
		if err != nil {
			t.Fatal(err)
		}
		peers := strings.Split(e.servers, ",")
		var addrs []string
		for _, p := range peers {
			host, port, _ := net.SplitHostPort(p)
			addrs = append(addrs, net.JoinHostPort(host, fmt.Sprint(atoi(port)-1)))
		}
		cl, err := client.New(client.Options{Addrs: addrs, Credentials: prov.ClientCredentials(tlsconf.MasterName)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cl.Close() })
		cc, _ := cl.Conn(addrs[0])
		return flumev1.NewNodeServiceClient(cc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = nodeAs("node-col1").Release(ctx, &flumev1.ReleaseRequest{Release: &flumev1.ReleaseChunks{Agent: "agent1", Epoch: 1, Through: math.MaxUint64}})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("col1 releasing every chunk of agent1: %v; want PermissionDenied", err)
	}
	t.Logf("Release{agent1, through=2^64-1} from col1: %s", status.Convert(err).Message())
	_, err = nodeAs("node-agent1").Commit(ctx, &flumev1.CommitRequest{Commit: &flumev1.CommitChunks{Collector: "col1",
		Chunks: []*flumev1.ChunkCommit{{Agent: "agent1", Epoch: 1, Seq: 999999}}}})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("agent1 committing as collector col1: %v; want PermissionDenied", err)
	}

	// The collector: batches from a stranger.
	colAddr := fmt.Sprintf("127.0.0.1:%d", d.ports[0])
	for _, c := range []struct {
		what  string
		creds func() *tlsconf.Provider
	}{
		{"plaintext", func() *tlsconf.Provider { return nil }},
		{"an admin client certificate", func() *tlsconf.Provider { return mustLoad(t, sec, "client") }},
		{"a node certificate of another CA", func() *tlsconf.Provider { return mustLoad(t, other, "node") }},
	} {
		opts := wire.ClientOptions{}
		if p := c.creds(); p != nil {
			opts.Credentials = p.ClientCredentials(tlsconf.NodeName)
		}
		cl, err := wire.Dial(ctx, colAddr, opts)
		if err == nil {
			_ = cl.Close()
			t.Fatalf("a stranger with %s connected to the collector", c.what)
		}
		t.Logf("batches to the collector with %s: refused (%v)", c.what, err)
	}

	// The raft port: forged votes, a stranger's certificate, a huge frame.
	leader, term := e.termAndLeader(0)
	lid, laddr, _ := strings.Cut(leader, "@")
	pace := time.NewTicker(100 * time.Millisecond) // 10 a second, as in the attack that cut writes by two thirds
	defer pace.Stop()
	for range 20 {
		<-pace.C
		if c, err := net.DialTimeout("tcp", laddr, time.Second); err == nil {
			_, _ = c.Write(forgedVote(t, "1", laddr))
			_ = c.Close()
		}
		_, _ = stream(laddr, mustLoad(t, sec, "node-col1").ClientConfig(tlsconf.MasterName), forgedVote(t, lid, laddr), 0)
	}
	if l2, t2 := e.termAndLeader(0); l2 != leader || t2 != term {
		t.Fatalf("forged votes moved the leader: %s term %s, then %s term %s", leader, term, l2, t2)
	}
	t.Logf("40 forged RequestVotes (plaintext and with a node certificate) to the leader: leader %s, term %s unchanged", lid, term)
	follower := 1
	if lid == "1" {
		follower = 2
	}
	fhost := strings.Split(e.servers, ",")[follower]
	h, p, _ := net.SplitHostPort(fhost)
	raftAddr := net.JoinHostPort(h, fmt.Sprint(atoi(p)+1))
	fpid := e.procs[follower].Process.Pid
	before := rss(fpid)
	sent, err := stream(raftAddr, nil, oversizedAppend(300<<20), 300<<20)
	after := rss(fpid)
	t.Logf("a 300 MB frame to follower %d's raft port: cut after %d bytes (%v); RSS %d MiB before, %d MiB after",
		follower, sent, err, before>>20, after>>20)
	if after-before > 32<<20 {
		t.Fatalf("the follower's RSS grew from %d MiB to %d MiB", before>>20, after>>20)
	}

	// Nothing refused changed the state, and everything was logged once per peer.
	if got := e.mustCtl(0, "mappings", "-o", "json"); got != mappingsBefore {
		t.Fatalf("mappings changed:\n%s\nwas:\n%s", got, mappingsBefore)
	}
	if got := e.mustCtl(0, "configs", "-o", "json"); !sameSubmitted(t, got, configsBefore) {
		t.Fatalf("configurations changed:\n%s\nwas:\n%s", got, configsBefore)
	}
	for i, l := range e.logs {
		n := strings.Count(l.String(), "refused")
		t.Logf("master %d: %d refusal lines logged; RSS %d MiB before the attacks, %d MiB after", i, n,
			rssBefore[i]>>20, rss(e.procs[i].Process.Pid)>>20)
		if n > 40 {
			t.Fatalf("master %d logged %d refusal lines: one per attempt?\n%s", i, n, l.String())
		}
		if grew := rss(e.procs[i].Process.Pid) - rssBefore[i]; grew > 48<<20 {
			t.Fatalf("master %d grew %d MiB during the attacks", i, grew>>20)
		}
	}
	ta := d.waitQuiet(120 * time.Second)
	d.check(ta, "shipping through the attacks", "")
}

// presentCert handshakes with the server at addr presenting certificate cert of s, whatever its
// dates, and reads until the server answers or refuses: nil if it took the certificate.
func presentCert(addr string, s *secureSetup, cert string) error {
	kp, err := tls.LoadX509KeyPair(s.path(cert+".pem"), s.path(cert+"-key.pem"))
	if err != nil {
		return err
	}
	p, err := tlsconf.LoadClient(tlsconf.Files{CA: s.path("ca.pem")})
	if err != nil {
		return err
	}
	conf := p.ClientConfig(tlsconf.MasterName)
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp, nil }
	conf.NextProtos = []string{"h2"}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1)) // a gRPC server speaks first: its settings, or the alert
	return err
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

func mustLoad(t *testing.T, s *secureSetup, cert string) *tlsconf.Provider {
	t.Helper()
	p, err := tlsconf.Load(tlsconf.Files{CA: s.path("ca.pem"), Cert: s.path(cert + ".pem"), Key: s.path(cert + "-key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newToken creates a token of role as the admin and returns its secret.
func newToken(t *testing.T, e *masters, role string) string {
	t.Helper()
	out := e.mustCtl(0, "acl", "create", "--role", role, "--description", "test "+role, "-o", "json")
	var tok struct{ Secret string }
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &tok); err != nil || tok.Secret == "" {
		t.Fatalf("acl create: %v\n%s", err, out)
	}
	return tok.Secret
}

// accessorOf returns the accessor of the newest token of role.
func accessorOf(t *testing.T, e *masters, role string) string {
	t.Helper()
	var list struct {
		Tokens []struct {
			Accessor, Role string
			Created        string
		}
	}
	if err := json.Unmarshal([]byte(e.mustCtl(0, "acl", "list", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	acc := ""
	for _, tok := range list.Tokens {
		if strings.EqualFold(tok.Role, "TOKEN_ROLE_"+role) {
			acc = tok.Accessor
		}
	}
	if acc == "" {
		t.Fatalf("no %s token in %+v", role, list)
	}
	return acc
}

// sameSubmitted reports whether two `configs -o json` outputs hold the same submitted
// configurations (translations may move their versions).
func sameSubmitted(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y struct{ Submitted []json.RawMessage }
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return fmt.Sprint(x.Submitted) == fmt.Sprint(y.Submitted)
}

// TestOversizedRaftFrameIsCutOff: on a plaintext ensemble, where anyone who reaches the raft
// port can talk to it, a frame that announces 300 MB and streams it is cut off at the cap on
// one message; the follower's memory stays bounded and the ensemble keeps working.
func TestOversizedRaftFrameIsCutOff(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	e := newEnsemble(t, buildBinaries(t), 3)
	var leader string
	plugintest.Eventually(t, 20*time.Second, throttle(ctlPoll, func() bool { leader, _ = e.termAndLeader(0); return leader != "" }),
		func() string { return "no leader" })
	lid, _, _ := strings.Cut(leader, "@")
	follower := 1
	if lid == "1" {
		follower = 2
	}
	h, p, _ := net.SplitHostPort(strings.Split(e.servers, ",")[follower])
	raftAddr := net.JoinHostPort(h, fmt.Sprint(atoi(p)+1))
	pid := e.procs[follower].Process.Pid
	before := rss(pid)
	var peak int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // sample the follower's RSS while the frame streams
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if r := rss(pid); r > peak {
				peak = r
			}
			select {
			case <-tick.C:
			case <-stop:
				return
			}
		}
	}()
	start := time.Now()
	sent, err := stream(raftAddr, nil, oversizedAppend(300<<20), 300<<20)
	cutAfter := time.Since(start)
	if err == nil {
		t.Fatalf("the follower read all 300 MB of one frame")
	}
	plugintest.Eventually(t, 10*time.Second, func() bool { return rss(pid)-before < 16<<20 },
		func() string { return fmt.Sprintf("RSS %d MiB after, %d MiB before", rss(pid)>>20, before>>20) })
	close(stop)
	<-done
	after := rss(pid)
	e.mustCtl(follower, "config", "after", "null", "console") // the ensemble still works, through the follower
	t.Logf("a frame announcing 300 MB to follower %d's plaintext raft port: cut after %d MiB sent in %v; RSS %d MiB before, peak %d MiB, %d MiB after",
		follower, sent>>20, cutAfter.Round(time.Millisecond), before>>20, peak>>20, after>>20)
	if peak-before > 160<<20 {
		t.Fatalf("the follower's RSS peaked %d MiB above its start", (peak-before)>>20)
	}
}

// TestDaemonsRefusePlaintextOffLoopback: a master or node asked to listen on every interface
// without TLS refuses to start and says what to do; with --insecure it starts and warns.
func TestDaemonsRefusePlaintextOffLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	bin := buildBinaries(t)
	port := freeBlock(t, []string{"127.0.0.1"})
	servers := fmt.Sprintf("127.0.0.1:%d", port)
	for _, c := range []struct {
		what string
		args []string
	}{
		{"master", []string{"master", "--serverid", "0", "--data-dir", t.TempDir(), "-D", "flume.master.servers=" + servers, "--bind", "0.0.0.0"}},
		{"node", []string{"node", "-n", "n1", "--data-dir", t.TempDir(), "-D", "flume.master.servers=" + servers, "--bind", "0.0.0.0", "-D", "flume.node.status.port=0"}},
	} {
		out, err := exec.Command(filepath.Join(bin, "flumed"), c.args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "without TLS") ||
			!strings.Contains(string(out), "--insecure") || !strings.Contains(string(out), "flume.tls.cert") {
			t.Fatalf("%s bound to 0.0.0.0 without TLS: %v\n%s", c.what, err, out)
		}
		t.Logf("%s on 0.0.0.0 without TLS: %s", c.what, firstLine(string(out)))
		p := &proc{t: t, bin: filepath.Join(bin, "flumed"), args: append(c.args, "--insecure")}
		p.start()
		plugintest.Eventually(t, 20*time.Second, func() bool { return strings.Contains(p.log.String(), "RUNNING INSECURE") },
			func() string { return c.what + " with --insecure did not warn:\n" + p.log.String() })
		p.kill()
	}
}

// TestCertificatesReloadWithoutDroppingSessions: a master's certificate is reissued, once
// picked up by the file watch and once on SIGHUP; the node's session goes on, new clients get
// the new certificate.
func TestCertificatesReloadWithoutDroppingSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	bin := buildBinaries(t)
	sec := newSecureSetup(t, bin, "n1")
	e := newSecureEnsemble(t, bin, 1, sec)
	n := e.node("n1")
	plugintest.Eventually(t, 20*time.Second, func() bool { return strings.Contains(n.log.String(), "session with the leader") },
		func() string { return "no session:\n" + n.log.String() })
	serial := func() string {
		p := mustLoad(t, sec, "client")
		c, err := tls.Dial("tcp", e.admins[0], func() *tls.Config {
			conf := p.ClientConfig(tlsconf.MasterName)
			conf.NextProtos = []string{"h2"}
			return conf
		}())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	first := serial()
	for _, how := range []string{"file change", "SIGHUP"} {
		// Issue into a directory of its own, then move the files over the master's: the
		// master sees the whole new pair at once, as with a Kubernetes secret.
		tmp := t.TempDir()
		for _, f := range []string{"ca.pem", "ca-key.pem"} {
			b, err := os.ReadFile(sec.path(f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(tmp, f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := (pki.Issue{Dir: tmp, Role: pki.RoleMaster, Name: tlsconf.MasterName}).Run(); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"master.pem", "master-key.pem"} {
			if err := os.Rename(filepath.Join(tmp, f), sec.path(f)); err != nil {
				t.Fatal(err)
			}
		}
		if how == "SIGHUP" {
			if err := e.procs[0].Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			plugintest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(e.logs[0].String(), "SIGHUP: certificates reloaded") },
				func() string { return "no reload on SIGHUP:\n" + e.logs[0].String() })
		}
		var now string
		plugintest.Eventually(t, 10*time.Second, throttle(ctlPoll, func() bool { now = serial(); return now != first }),
			func() string { return how + ": the master still serves the old certificate\n" + e.logs[0].String() })
		t.Logf("%s: the master serves certificate %s instead of %s", how, now, first)
		first = now
	}
	if strings.Contains(n.log.String(), "session with the master ended") {
		t.Fatalf("the node's session was dropped by a reload:\n%s", n.log.String())
	}
	e.mustCtl(0, "status")
}
