package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/master/state"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// sessions serves NodeService: the sessions of physical nodes with the leader, and the soft
// status table their heartbeats fill. Only the leader serves sessions; the table lives in its
// memory alone and starts empty at each change of leadership, when every session on this
// master ends and the nodes reconnect to the new leader. Until a node's first heartbeat to
// the new leader, its logical nodes are UNKNOWN: the leader has not seen their state, and
// says so rather than show a state it has not been told.
type sessions struct {
	flumev1.UnimplementedNodeServiceServer
	m *Master

	ctx    context.Context // ends when the master closes
	cancel context.CancelFunc
	wg     sync.WaitGroup // the leadership watcher, the handlers and their receivers

	mu       sync.Mutex
	lastID   uint64                   // the last session id given out
	physical map[string]*physicalSoft // by physical node
	// leaderSince is when this master last became leader: nodes it has not heard from count
	// as LOST one heartbeat window after it.
	leaderSince time.Time
	// seq orders the reports of nodes and the purges: it grows by one at each.
	seq uint64
	// purged holds the logical nodes purge removed from the table, with the seq of the
	// purge: each stays out of the table until its physical node reports again, although
	// it is still mapped.
	purged map[string]uint64
}

// physicalSoft is what the leader knows of one physical node from its session.
type physicalSoft struct {
	host, instance string
	session        uint64 // the id of the session that last registered
	lastSeen       time.Time
	seen           uint64             // the seq of the node's last report (registration or heartbeat)
	reported       bool               // a heartbeat came since this master became leader
	end            context.CancelFunc // ends the session; nil once it has ended
	// logical holds the statuses of the last heartbeat, by logical node.
	logical map[string]*flumev1.LogicalStatus
}

func newSessions(m *Master) *sessions {
	ctx, cancel := context.WithCancel(context.Background())
	return &sessions{m: m, ctx: ctx, cancel: cancel, physical: map[string]*physicalSoft{}, purged: map[string]uint64{}}
}

// start watches the leadership: when this master stops leading, the table is emptied and the
// sessions end, so nodes move to the new leader. Events that keep or give this master the lead
// end nothing: a node that registered meanwhile keeps its session.
func (s *sessions) start() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		leading := false
		for ev := range s.m.store.WatchLeader(s.ctx) {
			if leading && !ev.Self {
				s.reset()
			}
			if !leading && ev.Self {
				s.mu.Lock()
				s.leaderSince = s.m.cfg.Now()
				s.mu.Unlock()
			}
			leading = ev.Self
		}
	}()
}

// close ends every session and waits for the goroutines of the service. The gRPC server has
// been stopped before, so no new session begins.
func (s *sessions) close() {
	s.cancel()
	s.reset()
	s.wg.Wait()
}

// reset ends every session and forgets every node.
func (s *sessions) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.physical {
		if p.end != nil {
			p.end()
		}
	}
	clear(s.physical)
	clear(s.purged)
}

// maxHelloField bounds the names a node sends: they are kept in memory and in the replicated
// state.
const maxHelloField = 256

// window is how long a physical node may stay silent before its logical nodes are LOST.
func (s *sessions) window() time.Duration {
	return s.m.cfg.HeartbeatPeriod * time.Duration(s.m.cfg.HeartbeatMissedMax)
}

// Session is one physical node's session: a Hello, then heartbeats; the master answers with
// the node's assignment and pushes every change of it.
func (s *sessions) Session(stream flumev1.NodeService_SessionServer) error {
	s.wg.Add(1)
	defer s.wg.Done()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	hello := first.GetHello()
	if hello.GetPhysical() == "" || hello.GetInstance() == "" {
		return status.Error(codes.InvalidArgument, "a session begins with a Hello naming the physical node and its instance")
	}
	if len(hello.GetPhysical()) > maxHelloField || len(hello.GetHost()) > maxHelloField || len(hello.GetInstance()) > maxHelloField {
		return status.Errorf(codes.InvalidArgument, "a Hello field is longer than %d bytes", maxHelloField)
	}
	// A consistent read, not just IsLeader: a master that has just been elected may not have
	// applied everything its predecessor committed yet, and an assignment read from that state
	// could send a node back to a configuration it already left.
	if err := s.m.store.ConsistentRead(stream.Context()); err != nil {
		return stream.Send(&flumev1.SessionResponse{Msg: &flumev1.SessionResponse_NotLeader{
			NotLeader: &flumev1.NotLeader{Leader: s.leaderNodeAddr()}}})
	}
	if err := s.bind(stream.Context(), hello.GetPhysical()); err != nil {
		return err
	}
	ctx, end := context.WithCancel(stream.Context())
	defer end()
	id, reason := s.register(hello, end)
	if reason != "" {
		s.m.log.Warn("node session refused", "physical", hello.GetPhysical(), "host", hello.GetHost(), "reason", reason)
		return stream.Send(&flumev1.SessionResponse{Msg: &flumev1.SessionResponse_Refusal{
			Refusal: &flumev1.Refusal{Reason: reason}}})
	}
	defer s.unregister(hello.GetPhysical(), id)
	s.m.log.Info("node session", "physical", hello.GetPhysical(), "host", hello.GetHost(), "instance", hello.GetInstance())
	if err := s.adopt(ctx, hello); err != nil {
		return toStatus(err)
	}
	return s.serve(ctx, stream, hello.GetPhysical(), id)
}

// bind checks that the caller may run physical node name, and binds the name to the caller
// the first time an identified caller claims it. An anonymous caller (access control off, no
// client certificate) may run only a name that is bound to no identity, and binds nothing.
func (s *sessions) bind(ctx context.Context, name string) error {
	id := callerOf(ctx)
	var err error
	var bound bool
	s.m.fsm.read(func(st *state.State) {
		err = checkBinding(st, name, id)
		_, bound = st.Binding(name)
	})
	if err != nil {
		s.m.refuse(ctx, "node name "+name+" "+id.name, "session as "+name)
		return err
	}
	if bound || id.anonymous() {
		return nil
	}
	rec, err := s.m.apply(ctx, &flumev1.Command{Origin: "node " + name, Argv: []string{"bindnode", name, id.name},
		Op: &flumev1.Command_BindNode{BindNode: &flumev1.BindNode{Physical: name, Identity: id.name}}})
	if err != nil {
		return toStatus(fmt.Errorf("bind physical node %s: %w", name, err))
	}
	if rec.GetState() == flumev1.CommandState_COMMAND_STATE_FAILED {
		s.m.refuse(ctx, "node name "+name+" "+id.name, "session as "+name)
		return status.Errorf(codes.PermissionDenied, "%s; %s may not run it", rec.GetMessage(), id)
	}
	s.m.log.Info("physical node name bound", "physical", name, "identity", id.name)
	return nil
}

// leaderNodeAddr returns the node service address of the leader, empty when none is known.
func (s *sessions) leaderNodeAddr() string {
	id, _ := s.m.store.Leader()
	if p, ok := s.m.peer(id); ok && id != "" {
		return p.Node
	}
	return ""
}

// register records a node's session. It returns why the session is refused: another live
// process already has the physical node's name. A session of the same process (a reconnect)
// or of a process that went silent replaces the old one.
func (s *sessions) register(h *flumev1.Hello, end context.CancelFunc) (id uint64, refusal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.m.cfg.Now()
	p := s.physical[h.GetPhysical()]
	if p != nil && p.end != nil && p.instance != h.GetInstance() && now.Sub(p.lastSeen) <= s.window() {
		return 0, fmt.Sprintf("physical node %s is already connected from host %s (another process with the same name?)",
			h.GetPhysical(), p.host)
	}
	if p == nil {
		p = &physicalSoft{}
		s.physical[h.GetPhysical()] = p
	}
	if p.end != nil {
		p.end()
	}
	s.lastID++
	s.seq++
	p.host, p.instance, p.session, p.lastSeen, p.seen, p.end = h.GetHost(), h.GetInstance(), s.lastID, now, s.seq, end
	return s.lastID, ""
}

// purge forgets the statuses of the logical nodes names, as classic purge and purgeAll did: a
// LOST or DECOMMISSIONED node leaves the table, a live one appears again at its next
// heartbeat. A purged logical node that is still mapped stays out of the table until its
// physical node reports again. A physical node left without statuses and without a session
// is forgotten too.
func (s *sessions) purge(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	for _, name := range names {
		s.purged[name] = s.seq
	}
	for phys, p := range s.physical {
		for _, name := range names {
			delete(p.logical, name)
		}
		if len(p.logical) == 0 && p.end == nil {
			delete(s.physical, phys)
		}
	}
}

// listed returns the logical nodes in the table of st: every mapped one, and every one a node
// reports. st is read under the state's lock.
func (s *sessions) listed(st *state.State) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, mp := range st.Mappings() {
		seen[mp.GetLogical()] = true
	}
	for _, p := range s.physical {
		for name := range p.logical {
			seen[name] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// unregister notes that a session ended; the node's statuses stay, to become LOST.
func (s *sessions) unregister(physical string, id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.physical[physical]; p != nil && p.session == id {
		p.end = nil
	}
}

// adopt brings the replicated state in line with a node that said hello: its host, and the
// logical node named after it, which every physical node has (classic Flume).
func (s *sessions) adopt(ctx context.Context, h *flumev1.Hello) error {
	var hostKnown, mapped bool
	s.m.fsm.read(func(st *state.State) {
		host, ok := st.Host(h.GetPhysical())
		hostKnown = ok && host == h.GetHost()
		_, mapped = st.PhysicalOf(h.GetPhysical())
	})
	origin := "node " + h.GetPhysical()
	if !hostKnown && h.GetHost() != "" {
		cmd := &flumev1.Command{Origin: origin, Argv: []string{"setnodehost", h.GetPhysical(), h.GetHost()},
			Op: &flumev1.Command_SetNodeHost{SetNodeHost: &flumev1.SetNodeHost{Physical: h.GetPhysical(), Host: h.GetHost()}}}
		if err := s.propose(ctx, cmd); err != nil {
			return err
		}
	}
	if !mapped {
		cmd := &flumev1.Command{Origin: origin, Argv: []string{"map", h.GetPhysical(), h.GetPhysical()},
			Op: &flumev1.Command_MapNode{MapNode: &flumev1.MapNode{Physical: h.GetPhysical(), Logical: h.GetPhysical()}}}
		if err := s.propose(ctx, cmd); err != nil {
			return err
		}
	}
	return nil
}

// propose applies a command through raft on this master, the leader. A command the state
// refuses is logged: it does not end the session.
func (s *sessions) propose(ctx context.Context, cmd *flumev1.Command) error {
	rec, err := s.m.apply(ctx, cmd)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd.GetArgv()[0], err)
	}
	if rec.GetState() == flumev1.CommandState_COMMAND_STATE_FAILED {
		s.m.log.Warn("node command failed", "argv", cmd.GetArgv(), "err", rec.GetMessage())
	}
	return nil
}

// serve pushes the node's assignment and takes its heartbeats until the session ends: the
// node leaves, another session replaces it, or this master stops leading.
func (s *sessions) serve(ctx context.Context, stream flumev1.NodeService_SessionServer, physical string, id uint64) error {
	reqs := make(chan *flumev1.SessionRequest)
	recvErr := make(chan error, 1)
	s.wg.Add(1)
	go func() { // ends when the stream does, at the latest when this handler returns
		defer s.wg.Done()
		for {
			req, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case reqs <- req:
			case <-ctx.Done():
				return
			}
		}
	}()
	tick := time.NewTicker(s.m.cfg.HeartbeatPeriod)
	defer tick.Stop()
	// The assignment is rebuilt only when the state changes, not on every heartbeat: with
	// thousands of nodes, heartbeats are the hot path. The change signal is taken before the
	// state is read, so a change in between wakes the loop again.
	var sent *flumev1.NodeAssignment
	changed := s.m.fsm.changes()
	rebuild := true
	for {
		if rebuild {
			rebuild = false
			if a := s.assignment(physical); sent == nil || !proto.Equal(a, sent) {
				if err := stream.Send(&flumev1.SessionResponse{Msg: &flumev1.SessionResponse_Assignment{Assignment: a}}); err != nil {
					return err
				}
				sent = a
			}
		}
		select {
		case <-changed:
			changed, rebuild = s.m.fsm.changes(), true
		case req := <-reqs:
			s.heartbeat(physical, id, req.GetHeartbeat())
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case <-tick.C:
			if !s.m.store.IsLeader() {
				return status.Error(codes.Unavailable, "this master is no longer the leader")
			}
		case <-ctx.Done():
			return status.Error(codes.Unavailable, "session ended by the master")
		}
	}
}

// assignment returns what physical node name must run.
func (s *sessions) assignment(name string) *flumev1.NodeAssignment {
	a := &flumev1.NodeAssignment{}
	s.m.fsm.read(func(st *state.State) {
		for _, l := range st.LogicalOn(name) {
			t, ok := st.Translated(l)
			if !ok {
				t = &flumev1.TranslatedConfig{Node: l} // mapped, not configured: it idles
			}
			a.Nodes = append(a.Nodes, t)
		}
		a.Chokes = st.Chokes(name)
		a.Masters = s.m.nodeAddrs(st)
	})
	return a
}

// heartbeat records a node's report: the logical nodes it no longer reports are forgotten.
func (s *sessions) heartbeat(physical string, id uint64, hb *flumev1.Heartbeat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.physical[physical]
	if p == nil || p.session != id {
		return
	}
	s.seq++
	p.lastSeen, p.seen, p.reported = s.m.cfg.Now(), s.seq, true
	if hb == nil {
		return
	}
	p.logical = make(map[string]*flumev1.LogicalStatus, len(hb.GetStatuses()))
	for _, st := range hb.GetStatuses() {
		p.logical[st.GetNode()] = st
	}
}

// statuses returns the table joined with the mappings, sorted by logical node. A logical
// node reported by a silent physical node is LOST; one reported by a physical node it is no
// longer mapped to is DECOMMISSIONED. A mapped one its physical node has not reported is
// UNKNOWN within one heartbeat window of this master taking the lead, when the node has not
// had time to report to it; after that it is HELLO when its physical node is connected and
// LOST when it is not. A purged one is left out until its physical node reports again.
func (s *sessions) statuses(st *state.State, withMetrics bool) []*flumev1.NodeStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.m.cfg.Now()
	byLogical := map[string]*flumev1.NodeStatus{}
	hiding := map[string]bool{} // the purge marks still in force
	// hidden reports whether the purge of logical node name is newer than the last report of
	// its physical node p (nil: never connected to this leader).
	hidden := func(name string, p *physicalSoft) bool {
		mark, ok := s.purged[name]
		if ok && (p == nil || p.seen <= mark) {
			hiding[name] = true
			return true
		}
		return false
	}
	// Within one heartbeat window of taking the lead, a node may still be on its way to this
	// master: what it runs is unknown here, not HELLO.
	waiting := now.Sub(s.leaderSince) <= s.window()
	for _, phys := range slices.Sorted(maps.Keys(s.physical)) {
		p := s.physical[phys]
		lost := now.Sub(p.lastSeen) > s.window()
		host := p.host
		if h, ok := st.Host(phys); ok {
			host = h
		}
		for name, ls := range p.logical {
			ns := &flumev1.NodeStatus{Logical: name, Physical: phys, Host: host, State: ls.GetState(),
				Version: ls.GetVersion(), LastSeen: p.lastSeen.UnixNano(), Error: ls.GetError(), Note: ls.GetNote()}
			if withMetrics {
				ns.Metrics = ls.GetMetrics()
			}
			if mp, ok := st.PhysicalOf(name); !ok || mp != phys {
				ns.State = flumev1.LogicalNodeState_LOGICAL_NODE_STATE_DECOMMISSIONED
			} else if lost {
				ns.State = flumev1.LogicalNodeState_LOGICAL_NODE_STATE_LOST
			}
			if old, dup := byLogical[name]; !dup || old.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_DECOMMISSIONED {
				byLogical[name] = ns
			}
		}
		for _, name := range st.LogicalOn(phys) {
			if _, ok := p.logical[name]; ok || hidden(name, p) {
				continue
			}
			ns := &flumev1.NodeStatus{Logical: name, Physical: phys, Host: host,
				State: flumev1.LogicalNodeState_LOGICAL_NODE_STATE_HELLO, LastSeen: p.lastSeen.UnixNano()}
			switch {
			case lost:
				ns.State = flumev1.LogicalNodeState_LOGICAL_NODE_STATE_LOST
			case waiting && !p.reported:
				ns.State, ns.LastSeen = flumev1.LogicalNodeState_LOGICAL_NODE_STATE_UNKNOWN, 0
			}
			byLogical[name] = ns
		}
	}
	// Mapped logical nodes that no session reports: their physical node has not connected to
	// this leader. After the heartbeat window it is LOST, as it would be had this master
	// seen it go silent.
	for _, mp := range st.Mappings() {
		if _, ok := byLogical[mp.GetLogical()]; ok || hidden(mp.GetLogical(), s.physical[mp.GetPhysical()]) {
			continue
		}
		state := flumev1.LogicalNodeState_LOGICAL_NODE_STATE_LOST
		if waiting {
			state = flumev1.LogicalNodeState_LOGICAL_NODE_STATE_UNKNOWN
		}
		host, _ := st.Host(mp.GetPhysical())
		byLogical[mp.GetLogical()] = &flumev1.NodeStatus{Logical: mp.GetLogical(), Physical: mp.GetPhysical(), Host: host, State: state}
	}
	// A mark that hides nothing any more (the node reported, or the logical node is no
	// longer mapped) is dropped, so the marks do not pile up.
	maps.DeleteFunc(s.purged, func(name string, _ uint64) bool { return !hiding[name] })
	out := make([]*flumev1.NodeStatus, 0, len(byLogical))
	for _, name := range slices.Sorted(maps.Keys(byLogical)) {
		out = append(out, byLogical[name])
	}
	return out
}
