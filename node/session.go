package node

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flumego/flume/master/client"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/retry"
	"github.com/flumego/flume/node/spec"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// SessionConfig configures a node's session with the masters. Zero durations take the node's
// properties (flume.config.heartbeat.period, flume.agent.heartbeat.backoff,
// flume.node.heartbeat.backoff.ceiling) or their defaults.
//
// The backoff between attempts is short by default (250 ms growing to 1 s): while no master
// leads, nothing the node runs changes, but once a majority is back the node must report to
// the new leader within a second or two, and a long ceiling would leave it unreported (LOST)
// for up to the ceiling. An attempt costs little: a refused connection, or one stream to a
// master that answers at once that it is not the leader. The waits are jittered, so the
// nodes that lost the masters together do not all come back in the same instant.
type SessionConfig struct {
	// Client dials the masters' node service; its addresses are the masters to try. The
	// session moves it to the masters the ensemble announces. The caller owns it.
	Client *client.Client
	// Host is the host the node reports; the host name by default.
	Host string
	// HeartbeatPeriod is the time between two heartbeats.
	HeartbeatPeriod time.Duration
	// Backoff is the first wait after a failed attempt; it doubles up to BackoffCeiling. Each
	// wait is shortened by a random fraction of up to redialJitter.
	Backoff, BackoffCeiling time.Duration
}

// Session keeps a node's session with the leading master: it reports the node's logical nodes
// and runs what the leader assigns. While no master is reachable the node keeps running what
// it runs.
type Session struct {
	n        *Node
	cfg      SessionConfig
	instance string

	mu     sync.Mutex
	leader string           // the master of the current session, empty between sessions
	chokes map[string]int64 // the choke limits last applied
}

// NewSession returns a session for node n; Run runs it.
func NewSession(n *Node, cfg SessionConfig) *Session {
	if cfg.Host == "" {
		cfg.Host = event.Hostname()
	}
	ms := func(name string, def int64) time.Duration {
		return time.Duration(n.propInt(name, def)) * time.Millisecond
	}
	if cfg.HeartbeatPeriod <= 0 {
		cfg.HeartbeatPeriod = ms("flume.config.heartbeat.period", 1000)
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = ms("flume.agent.heartbeat.backoff", DefaultSessionBackoff.Milliseconds())
	}
	if cfg.BackoffCeiling <= 0 {
		cfg.BackoffCeiling = ms("flume.node.heartbeat.backoff.ceiling", DefaultSessionBackoffCeiling.Milliseconds())
	}
	var id [8]byte
	_, _ = crand.Read(id[:])
	return &Session{n: n, cfg: cfg, instance: hex.EncodeToString(id[:])}
}

// Leader returns the address of the master the session is with, empty when there is none.
func (s *Session) Leader() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}

// Defaults of the session's backoff (flume.agent.heartbeat.backoff and
// flume.node.heartbeat.backoff.ceiling); see SessionConfig.
const (
	DefaultSessionBackoff        = 250 * time.Millisecond
	DefaultSessionBackoffCeiling = time.Second
)

// errRefused is a session the master refused; the reason is in the error.
var errRefused = errors.New("refused")

// redialJitter is the largest fraction by which a wait between two attempts is shortened.
const redialJitter = 0.5

// refusedCeiling caps the wait after a master refused the node (another live process has its
// name, or its identity may not run the name) when it is above the backoff ceiling: a try
// soon after would most likely be refused again, and each refusal is logged by both sides.
const refusedCeiling = 30 * time.Second

// Run keeps the session until ctx ends: it tries the masters in turn (in a random order),
// follows redirections to the leader, and backs off between failed attempts. It returns
// nil when ctx ends; the logical nodes keep running, the caller stops them.
func (s *Session) Run(ctx context.Context) error {
	if s.cfg.Client == nil || len(s.cfg.Client.Addrs()) == 0 {
		return errors.New("no master to connect to")
	}
	var order []string
	b := retry.Backoff{Initial: s.cfg.Backoff, Max: s.cfg.BackoffCeiling, Jitter: redialJitter}
	refused := retry.Backoff{Initial: s.cfg.Backoff, Max: max(s.cfg.BackoffCeiling, refusedCeiling), Jitter: redialJitter}
	next, redirect := 0, ""
	for ctx.Err() == nil {
		if known := s.cfg.Client.Addrs(); !sameSet(known, order) {
			// The ensemble changed (a master joined or left): try its masters from now on.
			order = known
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		addr := redirect
		if addr == "" {
			addr = order[next%len(order)]
			next++
		}
		conn, err := s.cfg.Client.Conn(addr)
		if err != nil {
			s.n.log.Error("bad master address", "master", addr, "err", err)
			continue
		}
		leader, established, err := s.session(ctx, flumev1.NewNodeServiceClient(conn), addr)
		if c := status.Code(err); c == codes.Unauthenticated || c == codes.PermissionDenied {
			err = fmt.Errorf("%w: %s", errRefused, status.Convert(err).Message())
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case leader != "" && redirect == "":
			s.n.log.Info("master is not the leader", "master", addr, "leader", leader)
			redirect = leader
			continue // go to the leader at once
		case established:
			s.n.log.Warn("session with the master ended", "master", addr, "err", err)
			b.Reset()
			refused.Reset()
			redirect = ""
			continue // try again at once, the leader may have moved
		}
		backoff := &b
		switch {
		case errors.Is(err, errRefused):
			s.n.log.Error("THE MASTER REFUSES THIS NODE", "master", addr, "err", err)
			backoff = &refused
		case err != nil:
			s.n.log.Warn("cannot reach the master", "err", s.cfg.Client.Explain(addr, err))
		}
		redirect = ""
		wait, _ := backoff.Next() // no cumulative cap: a node never gives up on its masters
		if retry.Wait(ctx, wait) != nil {
			return nil
		}
	}
	return nil
}

// session runs one session with a master. It returns the leader's address when the master is
// not the leader, and whether the session was established (an assignment was received).
func (s *Session) session(ctx context.Context, cl flumev1.NodeServiceClient, addr string) (leader string, established bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cl.Session(ctx)
	if err != nil {
		return "", false, err
	}
	hello := &flumev1.Hello{Physical: s.n.cfg.Name, Host: s.cfg.Host, Instance: s.instance}
	if err := stream.Send(&flumev1.SessionRequest{Msg: &flumev1.SessionRequest_Hello{Hello: hello}}); err != nil {
		return "", false, err
	}
	first, err := stream.Recv()
	if err != nil {
		return "", false, err
	}
	switch m := first.GetMsg().(type) {
	case *flumev1.SessionResponse_NotLeader:
		if m.NotLeader.GetLeader() == "" {
			return "", false, errors.New("the masters are electing a leader")
		}
		return m.NotLeader.GetLeader(), false, nil
	case *flumev1.SessionResponse_Refusal:
		return "", false, fmt.Errorf("%w: %s", errRefused, m.Refusal.GetReason())
	case *flumev1.SessionResponse_Assignment:
		s.setLeader(addr)
		defer s.setLeader("")
		s.n.log.Info("session with the leader", "master", addr)
		s.apply(m.Assignment)
	default:
		return "", false, fmt.Errorf("the master's first answer is %T, want an assignment", m)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the only sender from here on
		defer wg.Done()
		defer cancel()
		s.heartbeats(ctx, stream)
	}()
	defer wg.Wait()
	defer cancel()
	for {
		resp, err := stream.Recv()
		if err != nil {
			return "", true, err
		}
		if a := resp.GetAssignment(); a != nil {
			s.apply(a)
		}
	}
}

func (s *Session) setLeader(addr string) {
	s.mu.Lock()
	s.leader = addr
	s.mu.Unlock()
}

// heartbeats reports the logical nodes at once and then every heartbeat period, until ctx
// ends or the stream breaks.
func (s *Session) heartbeats(ctx context.Context, stream flumev1.NodeService_SessionClient) {
	tick := time.NewTicker(s.cfg.HeartbeatPeriod)
	defer tick.Stop()
	for {
		hb := &flumev1.Heartbeat{Statuses: s.statuses()}
		if err := stream.Send(&flumev1.SessionRequest{Msg: &flumev1.SessionRequest_Heartbeat{Heartbeat: hb}}); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// statuses returns the status of every logical node, sorted by name.
func (s *Session) statuses() []*flumev1.LogicalStatus {
	st, vs := s.n.Statuses(), s.n.Versions()
	out := make([]*flumev1.LogicalStatus, 0, len(st))
	for name, ls := range st {
		// flow.State numbers its states as classic Flume and LogicalNodeState do.
		l := &flumev1.LogicalStatus{Node: name, State: flumev1.LogicalNodeState(ls.State), Version: vs[name],
			Events: ls.Events, Note: ls.Note}
		prefix := name + "."
		for _, m := range s.n.Metrics().Sub(name).Snapshot() {
			l.Metrics = append(l.Metrics, &flumev1.Metric{Name: strings.TrimPrefix(m.Name, prefix), Value: m.Value})
		}
		if ls.Err != nil {
			l.Error = ls.Err.Error()
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetNode() < out[j].GetNode() })
	return out
}

// apply runs an assignment: each logical node's translated spec, and the choke limits.
func (s *Session) apply(a *flumev1.NodeAssignment) {
	assigned := make([]Assigned, 0, len(a.GetNodes()))
	for _, t := range a.GetNodes() {
		as := Assigned{Name: t.GetNode(), Version: t.GetVersion()}
		if t.GetSource() != "" || t.GetSink() != "" {
			as.Def, as.Err = parseTranslated(t)
		}
		assigned = append(assigned, as)
	}
	s.n.Apply(assigned)
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.chokes {
		if _, ok := a.GetChokes()[id]; !ok {
			s.n.Chokes().SetLimit(id, 0)
		}
	}
	for id, kbps := range a.GetChokes() {
		s.n.Chokes().SetLimit(id, kbps)
	}
	s.chokes = a.GetChokes()
	if ms := a.GetMasters(); len(ms) > 0 && !sameSet(ms, s.cfg.Client.Addrs()) {
		s.cfg.Client.SetAddrs(ms)
	}
}

// Masters returns the node service addresses of the masters the session tries: those the
// ensemble announced last, or the configured ones.
func (s *Session) Masters() []string { return s.cfg.Client.Addrs() }

// parseTranslated parses the source and sink of a translated configuration.
func parseTranslated(t *flumev1.TranslatedConfig) (*spec.NodeDef, error) {
	src, err := spec.ParseSource(t.GetSource())
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", t.GetSource(), err)
	}
	sink, err := spec.ParseSink(t.GetSink())
	if err != nil {
		return nil, fmt.Errorf("sink %q: %w", t.GetSink(), err)
	}
	return &spec.NodeDef{Name: t.GetNode(), Source: src, Sink: sink}, nil
}

// sameSet reports whether a and b hold the same addresses, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
