package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/flumego/flume/master"
	"github.com/flumego/flume/master/client"
	"github.com/flumego/flume/node/builtin"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// The control plane benchmarks: the masters' admin commands, and the master's side of a fleet
// of nodes, simulated in the same process by streams that speak NodeService.Session the way a
// node does. Each runs in a child process of its own, like the pipelines, with every core.

// controlBench is one control plane measurement: run gives the figures as one line of text.
type controlBench struct {
	name   string
	target string
	run    func(ctx context.Context) (string, error)
}

const (
	adminSeqCommands   = 2000
	adminConcCommands  = 4000
	adminClients       = 16
	fleetNodes         = 10_000
	fleetConns         = 100
	fleetWindow        = 10 * time.Second
	fleetStatuses      = 2
	changeNodes        = 1000
	changeConns        = 10
	changeTimeout      = 30 * time.Second
	heartbeatPeriod    = time.Second // the master's default, flume.config.heartbeat.period
	setupWorkers       = 16
	controlRunDeadline = 3 * time.Minute
)

var controlBenches = []controlBench{
	{
		name: "control: admin commands, sequential, 3 masters",
		run: func(ctx context.Context) (string, error) {
			f, err := benchAdmin(ctx, adminSeqCommands, 1)
			return f.String(), err
		},
	},
	{
		name: fmt.Sprintf("control: admin commands, %d clients, 3 masters", adminClients),
		run: func(ctx context.Context) (string, error) {
			f, err := benchAdmin(ctx, adminConcCommands, adminClients)
			return f.String(), err
		},
	},
	{
		name:   fmt.Sprintf("control: heartbeats of %d nodes, 1 master", fleetNodes),
		target: fmt.Sprintf("%d nodes at 1/s on < 1 core", fleetNodes),
		run: func(ctx context.Context) (string, error) {
			f, err := benchHeartbeats(ctx, fleetNodes, fleetConns, fleetWindow)
			return f.String(), err
		},
	},
	{
		name:   fmt.Sprintf("control: config change to %d nodes, 1 master", changeNodes),
		target: fmt.Sprintf("visible on %d nodes < 1 s", changeNodes),
		run: func(ctx context.Context) (string, error) {
			f, err := benchChange(ctx, changeRun{nodes: changeNodes, conns: changeConns, timeout: changeTimeout})
			return f.String(), err
		},
	},
}

// controlResult is what a control plane child reports to the parent, as JSON on its stdout.
type controlResult struct {
	Name       string  `json:"name"`
	Figures    string  `json:"figures"`
	Seconds    float64 `json:"seconds"`
	PeakRSSKiB int64   `json:"peak_rss_kib"`
	Error      string  `json:"error,omitempty"`
}

// runControlOne runs the named control benchmark in this process; it reports false when name
// is not one.
func runControlOne(name string) bool {
	i := slices.IndexFunc(controlBenches, func(c controlBench) bool { return c.name == name })
	if i < 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), controlRunDeadline)
	defer cancel()
	start := time.Now()
	figs, err := controlBenches[i].run(ctx)
	r := controlResult{Name: name, Figures: figs, Seconds: time.Since(start).Seconds(), PeakRSSKiB: peakRSS()}
	if err != nil {
		r.Error = err.Error()
		if figs != "" {
			r.Error = figs + ": " + r.Error
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
	if err != nil {
		os.Exit(1)
	}
	return true
}

// runControl prints the control plane table: one run of each benchmark matching re, each in
// a child process that keeps the machine's GOMAXPROCS (masters and simulated nodes share it).
func runControl(self string, re *regexp.Regexp) error {
	var todo []controlBench
	for _, c := range controlBenches {
		if re.MatchString(c.name) {
			todo = append(todo, c)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	fmt.Printf("\ncontrol plane: one run each, every core; 127.0.0.1 listeners, default raft timings\n\n")
	fmt.Printf("| %-50s | %-92s | %-34s | %7s | %8s |\n", "benchmark", "figures", "target", "seconds", "RSS MiB")
	fmt.Printf("|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 52), strings.Repeat("-", 94), strings.Repeat("-", 36),
		strings.Repeat("-", 9), strings.Repeat("-", 10))
	failed := false
	for _, c := range todo {
		cmd := exec.Command(self, "-one", c.name)
		cmd.Stderr = os.Stderr
		out, runErr := cmd.Output()
		var r controlResult
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("%s: no result (%v): %s", c.name, runErr, out)
		}
		if r.Error != "" {
			fmt.Printf("| %-50s | failed: %s\n", c.name, r.Error)
			failed = true
			continue
		}
		fmt.Printf("| %-50s | %-92s | %-34s | %7.1f | %8.1f |\n", c.name, r.Figures, c.target, r.Seconds,
			float64(r.PeakRSSKiB)/1024)
	}
	if failed {
		return errors.New("a control plane benchmark failed")
	}
	return nil
}

// adminFigures are the figures of a run of admin commands.
type adminFigures struct {
	Commands      int
	Seconds       float64
	P50, P99, Max time.Duration
}

func (f adminFigures) String() string {
	return fmt.Sprintf("%d commands, %.0f commands/s, latency p50 %s p99 %s max %s",
		f.Commands, float64(f.Commands)/f.Seconds, ms(f.P50), ms(f.P99), ms(f.Max))
}

// benchAdmin starts 3 masters and sends commands `config nodeN null null` to a follower's
// AdminService from clients concurrent clients, so every command is forwarded to the leader.
func benchAdmin(ctx context.Context, commands, clients int) (adminFigures, error) {
	ens, err := openEnsemble(3, false)
	if err != nil {
		return adminFigures{}, err
	}
	defer ens.close()
	leader, err := ens.waitLeader(ctx)
	if err != nil {
		return adminFigures{}, err
	}
	follower := (leader + 1) % len(ens.masters)
	conn, err := dial(ens.masters[follower].AdminAddr())
	if err != nil {
		return adminFigures{}, err
	}
	defer conn.Close()
	admin := flumev1.NewAdminServiceClient(conn)
	lat := make([]time.Duration, commands)
	var next atomic.Int64
	errs := make([]error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < commands; i = int(next.Add(1) - 1) {
				t0 := time.Now()
				if err := execOK(ctx, admin, "config", fmt.Sprintf("node%d", i), "null", "null"); err != nil {
					errs[c] = err
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if err := errors.Join(errs...); err != nil {
		return adminFigures{}, err
	}
	slices.Sort(lat)
	return adminFigures{Commands: commands, Seconds: secs, P50: quantile(lat, 0.50), P99: quantile(lat, 0.99),
		Max: lat[len(lat)-1]}, nil
}

// heartbeatFigures are the figures of a fleet sending heartbeats.
type heartbeatFigures struct {
	Nodes          int
	ConnectSeconds float64 // to open every session, after the mappings were made
	Heartbeats     int64   // sent successfully during the window
	Seconds        float64 // the window
	CPUSeconds     float64 // of the whole process during the window
}

func (f heartbeatFigures) String() string {
	return fmt.Sprintf("%.0f heartbeats/s handled; process CPU, master and simulated nodes together: %.2f cores "+
		"(sessions opened in %.1f s)", float64(f.Heartbeats)/f.Seconds, f.CPUSeconds/f.Seconds, f.ConnectSeconds)
}

// benchHeartbeats starts one master and nodes simulated nodes over conns gRPC connections;
// once all are connected each sends one heartbeat a second, spread evenly, for window. At the
// end every node must be known to the master, not LOST, and heard from in the last 2 periods.
//
// The nodes' own logical nodes are mapped before they connect: the mapping a master makes for
// a new node is a state change that wakes every open session, which is not what is measured.
func benchHeartbeats(ctx context.Context, nodes, conns int, window time.Duration) (heartbeatFigures, error) {
	ens, err := openEnsemble(1, true)
	if err != nil {
		return heartbeatFigures{}, err
	}
	defer ens.close()
	m := ens.masters[0]
	if _, err := ens.waitLeader(ctx); err != nil {
		return heartbeatFigures{}, err
	}
	if err := execAll(ctx, m, nodes, func(i int) []string { return []string{"map", nodeName(i), nodeName(i)} }); err != nil {
		return heartbeatFigures{}, err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	t0 := time.Now()
	fleet, err := connectFleet(sctx, m.NodeAddr(), nodes, conns, false)
	if err != nil {
		return heartbeatFigures{}, err
	}
	defer fleet.close(stop)
	figs := heartbeatFigures{Nodes: nodes, ConnectSeconds: time.Since(t0).Seconds()}

	var sent, failed atomic.Int64
	var firstErr atomic.Value
	cpu0 := cpuTime()
	start := time.Now()
	end := start.Add(window)
	var wg sync.WaitGroup
	for i, n := range fleet.nodes {
		wg.Go(func() {
			hb := heartbeatOf(n.name, fleetStatuses)
			// Node i sends at start + i/nodes of a period, then every period, until end.
			for at := start.Add(heartbeatPeriod * time.Duration(i) / time.Duration(nodes)); at.Before(end); at = at.Add(heartbeatPeriod) {
				select {
				case <-time.After(time.Until(at)):
				case <-sctx.Done():
					return
				}
				if err := n.stream.Send(hb); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Errorf("heartbeat of %s: %w", n.name, err))
					return
				}
				sent.Add(1)
			}
		})
	}
	wg.Wait()
	select { // the window ends at end, not at the last send
	case <-time.After(time.Until(end)):
	case <-sctx.Done():
	}
	figs.Seconds, figs.CPUSeconds, figs.Heartbeats = time.Since(start).Seconds(), cpuTime()-cpu0, sent.Load()
	if f := failed.Load(); f > 0 {
		return figs, fmt.Errorf("%d nodes could not send heartbeats, the first: %v", f, firstErr.Load())
	}
	return figs, checkFleetStatuses(ctx, m.AdminAddr(), nodes, end.Add(-2*heartbeatPeriod))
}

// heartbeatOf returns the heartbeat of node name with statuses logical nodes: its own, then
// others the master does not know, which it lists as DECOMMISSIONED.
func heartbeatOf(name string, statuses int) *flumev1.SessionRequest {
	hb := &flumev1.Heartbeat{}
	for j := range statuses {
		l := &flumev1.LogicalStatus{Node: name, State: flumev1.LogicalNodeState_LOGICAL_NODE_STATE_IDLE}
		if j > 0 {
			l = &flumev1.LogicalStatus{Node: fmt.Sprintf("%s-extra%d", name, j),
				State: flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE, Version: 1, Events: 1000}
		}
		hb.Statuses = append(hb.Statuses, l)
	}
	return &flumev1.SessionRequest{Msg: &flumev1.SessionRequest_Heartbeat{Heartbeat: hb}}
}

// checkFleetStatuses checks that the master lists the own logical node of each of nodes nodes,
// IDLE as reported (so not LOST) and last seen after since.
func checkFleetStatuses(ctx context.Context, addr string, nodes int, since time.Time) error {
	conn, err := dial(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := flumev1.NewAdminServiceClient(conn).GetNodeStatuses(ctx, &flumev1.GetNodeStatusesRequest{},
		grpc.MaxCallRecvMsgSize(256<<20))
	if err != nil {
		return fmt.Errorf("get node statuses: %w", err)
	}
	byName := make(map[string]*flumev1.NodeStatus, len(resp.GetStatuses()))
	for _, st := range resp.GetStatuses() {
		byName[st.GetLogical()] = st
	}
	var bad []string
	var oldest time.Duration
	for i := range nodes {
		if st := byName[nodeName(i)]; st != nil {
			oldest = max(oldest, time.Since(time.Unix(0, st.GetLastSeen())))
		}
		st := byName[nodeName(i)]
		switch {
		case st == nil:
			bad = append(bad, nodeName(i)+" unknown")
		case st.GetState() != flumev1.LogicalNodeState_LOGICAL_NODE_STATE_IDLE:
			bad = append(bad, fmt.Sprintf("%s %v", nodeName(i), st.GetState()))
		case time.Unix(0, st.GetLastSeen()).Before(since):
			bad = append(bad, fmt.Sprintf("%s last seen %v before the end", nodeName(i), since.Sub(time.Unix(0, st.GetLastSeen()))))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d of %d nodes not reported alive by the master (oldest last seen %s ago), e.g. %s",
			len(bad), nodes, ms(oldest), strings.Join(bad[:min(len(bad), 3)], "; "))
	}
	return nil
}

// changeRun sets up a config change measurement.
type changeRun struct {
	nodes, conns int
	timeout      time.Duration // for every node to see the change
	// elsewhere maps the logical nodes of the last elsewhere nodes onto physical nodes that
	// never connect, so that those nodes never see the change: the run must then fail.
	elsewhere int
}

// changeFigures are the figures of a config change: from the Exec call to the command's
// answer, and to each node's receipt of an assignment carrying the new version.
type changeFigures struct {
	Nodes              int
	Exec               time.Duration
	P50, P99, Max, All time.Duration
}

func (f changeFigures) String() string {
	return fmt.Sprintf("%d nodes: exec answered %s; received p50 %s p99 %s max %s; last node after %s",
		f.Nodes, ms(f.Exec), ms(f.P50), ms(f.P99), ms(f.Max), ms(f.All))
}

// benchChange starts one master and r.nodes simulated nodes, node<i> running logical node
// app<i>; then one multiconfig gives every app<i> a new configuration, and the run measures
// how long each node takes to receive it.
func benchChange(ctx context.Context, r changeRun) (changeFigures, error) {
	ens, err := openEnsemble(1, true)
	if err != nil {
		return changeFigures{}, err
	}
	defer ens.close()
	m := ens.masters[0]
	if _, err := ens.waitLeader(ctx); err != nil {
		return changeFigures{}, err
	}
	// The mappings and a first configuration, before the nodes connect (see benchHeartbeats).
	err = execAll(ctx, m, 2*r.nodes, func(j int) []string {
		i := j / 2
		if j%2 == 0 {
			return []string{"map", nodeName(i), nodeName(i)}
		}
		if i >= r.nodes-r.elsewhere {
			return []string{"map", "absent" + nodeName(i), appName(i)}
		}
		return []string{"map", nodeName(i), appName(i)}
	})
	if err != nil {
		return changeFigures{}, err
	}
	if _, err := m.Exec(ctx, []string{"multiconfig", multiconfig(r.nodes, "null")}, "flumebench"); err != nil {
		return changeFigures{}, fmt.Errorf("first multiconfig: %w", err)
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	fleet, err := connectFleet(sctx, m.NodeAddr(), r.nodes, r.conns, true)
	if err != nil {
		return changeFigures{}, err
	}
	defer fleet.close(stop)
	conn, err := dial(m.AdminAddr())
	if err != nil {
		return changeFigures{}, err
	}
	defer conn.Close()
	admin := flumev1.NewAdminServiceClient(conn)

	text := multiconfig(r.nodes, "asciisynth(0, 10)")
	start := time.Now()
	if err := execOK(ctx, admin, "multiconfig", text); err != nil {
		return changeFigures{}, err
	}
	figs := changeFigures{Nodes: r.nodes, Exec: time.Since(start)}
	if err := fleet.waitChanged(ctx, r.timeout); err != nil {
		return figs, err
	}
	figs.All = time.Since(start)
	want, err := appVersion(ctx, admin)
	if err != nil {
		return figs, err
	}
	lat := make([]time.Duration, len(fleet.nodes))
	for i, n := range fleet.nodes {
		if v := n.version.Load(); v != want {
			return figs, fmt.Errorf("%s received version %d of %s, the master gave out %d", n.name, v, appName(i), want)
		}
		lat[i] = time.Duration(n.changed.Load() - start.UnixNano())
	}
	slices.Sort(lat)
	figs.P50, figs.P99, figs.Max = quantile(lat, 0.50), quantile(lat, 0.99), lat[len(lat)-1]
	return figs, nil
}

// multiconfig returns the spec text configuring app0 .. app<n-1> with source | null.
func multiconfig(n int, source string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s : %s | null ;\n", appName(i), source)
	}
	return b.String()
}

// appVersion returns the translated version of app0, which every app<i> shares after one
// multiconfig.
func appVersion(ctx context.Context, admin flumev1.AdminServiceClient) (uint64, error) {
	resp, err := admin.GetConfigs(ctx, &flumev1.GetConfigsRequest{}, grpc.MaxCallRecvMsgSize(256<<20))
	if err != nil {
		return 0, fmt.Errorf("get configs: %w", err)
	}
	for _, t := range resp.GetTranslated() {
		if t.GetNode() == appName(0) {
			return t.GetVersion(), nil
		}
	}
	return 0, fmt.Errorf("no translated configuration of %s", appName(0))
}

func nodeName(i int) string { return fmt.Sprintf("node%d", i) }
func appName(i int) string  { return fmt.Sprintf("app%d", i) }

// simNode is one simulated physical node: a session stream speaking as a node would.
type simNode struct {
	name   string
	stream flumev1.NodeService_SessionClient
	// base is the version of app<i> in the first assignment; changed the time (unix nanos)
	// an assignment first carried another, version that one.
	base    uint64
	changed atomic.Int64
	version atomic.Uint64
}

// fleet is a set of simulated nodes over a few gRPC connections.
type fleet struct {
	conns []*grpc.ClientConn
	nodes []*simNode
	wg    sync.WaitGroup // the receivers
	done  atomic.Int64   // nodes that received the change
	event chan struct{}  // a node received the change
}

// connectFleet opens the sessions of node0 .. node<n-1> over conns connections, each with its
// Hello answered by an assignment. With receive set, each node then takes the master's pushes
// and notes the first that changes the version of its app<i>.
func connectFleet(ctx context.Context, addr string, n, conns int, receive bool) (*fleet, error) {
	f := &fleet{nodes: make([]*simNode, n), event: make(chan struct{}, n)}
	for range conns {
		c, err := dial(addr)
		if err != nil {
			f.close(func() {})
			return nil, err
		}
		f.conns = append(f.conns, c)
	}
	var next atomic.Int64
	errs := make([]error, 4*setupWorkers)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && errs[w] == nil; i = int(next.Add(1) - 1) {
				f.nodes[i], errs[w] = openSession(ctx, f.conns[i%conns], i)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.close(func() {})
		return nil, err
	}
	if receive {
		for _, nd := range f.nodes {
			f.wg.Go(func() { f.receive(nd) })
		}
	}
	return f, nil
}

// openSession says hello as node i and takes the first assignment.
func openSession(ctx context.Context, conn *grpc.ClientConn, i int) (*simNode, error) {
	n := &simNode{name: nodeName(i)}
	var err error
	if n.stream, err = flumev1.NewNodeServiceClient(conn).Session(ctx); err != nil {
		return nil, fmt.Errorf("session of %s: %w", n.name, err)
	}
	hello := &flumev1.Hello{Physical: n.name, Instance: n.name + "-flumebench", SoftwareVersion: "flumebench"}
	if err := n.stream.Send(&flumev1.SessionRequest{Msg: &flumev1.SessionRequest_Hello{Hello: hello}}); err != nil {
		return nil, fmt.Errorf("hello of %s: %w", n.name, err)
	}
	resp, err := n.stream.Recv()
	if err != nil {
		return nil, fmt.Errorf("first answer to %s: %w", n.name, err)
	}
	a := resp.GetAssignment()
	if a == nil {
		return nil, fmt.Errorf("first answer to %s is not an assignment: %v", n.name, resp)
	}
	n.base = versionIn(a, appName(i))
	return n, nil
}

// versionIn returns the version of logical node name in a, 0 when a does not hold it.
func versionIn(a *flumev1.NodeAssignment, name string) uint64 {
	for _, t := range a.GetNodes() {
		if t.GetNode() == name {
			return t.GetVersion()
		}
	}
	return 0
}

// receive takes a node's pushes until its stream ends.
func (f *fleet) receive(n *simNode) {
	app := "app" + strings.TrimPrefix(n.name, "node")
	for {
		resp, err := n.stream.Recv()
		if err != nil {
			return
		}
		v := versionIn(resp.GetAssignment(), app)
		if v != n.base && n.version.Load() == 0 {
			n.changed.Store(time.Now().UnixNano())
			n.version.Store(v)
			f.done.Add(1)
			f.event <- struct{}{}
		}
	}
}

// waitChanged waits until every node received the change, or fails naming those that did not.
func (f *fleet) waitChanged(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for f.done.Load() < int64(len(f.nodes)) {
		select {
		case <-f.event:
		case <-deadline.C:
			var missing []string
			for _, n := range f.nodes {
				if n.version.Load() == 0 {
					missing = append(missing, n.name)
				}
			}
			return fmt.Errorf("%d of %d nodes never received the new configuration within %v: %s",
				len(missing), len(f.nodes), timeout, strings.Join(missing[:min(len(missing), 10)], " "))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// close ends the sessions (stop cancels their context), the connections, and waits for the
// receivers.
func (f *fleet) close(stop context.CancelFunc) {
	stop()
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.wg.Wait()
}

// ensemble is masters in this process, on loopback listeners.
type ensemble struct {
	masters []*master.Master
	dir     string
}

// openEnsemble starts n masters with the default raft timings; with nodes set they serve
// node sessions.
func openEnsemble(n int, nodes bool) (*ensemble, error) {
	dir, err := os.MkdirTemp("", "flumebench-masters-")
	if err != nil {
		return nil, err
	}
	e := &ensemble{dir: dir}
	peers := make([]master.Peer, n)
	lis := make([][3]net.Listener, n)
	closeAll := func() {
		for _, l := range lis {
			for _, x := range l {
				if x != nil {
					_ = x.Close()
				}
			}
		}
	}
	for i := range n {
		peers[i].ID = fmt.Sprintf("m%d", i)
		for k, addr := range []*string{&peers[i].Raft, &peers[i].Admin, &peers[i].Node} {
			if k == 2 && !nodes {
				continue
			}
			if lis[i][k], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				closeAll()
				e.close()
				return nil, err
			}
			*addr = lis[i][k].Addr().String()
		}
	}
	for i := range n {
		m, err := master.Open(master.Config{ID: peers[i].ID, Peers: peers, DataDir: fmt.Sprintf("%s/%d", dir, i),
			RaftListener: lis[i][0], AdminListener: lis[i][1], NodeListener: lis[i][2], Registry: builtin.Registry()})
		if err != nil {
			closeAll()
			e.close()
			return nil, fmt.Errorf("open master %d: %w", i, err)
		}
		e.masters = append(e.masters, m)
	}
	return e, nil
}

// waitLeader returns the index of the leader once there is one.
func (e *ensemble) waitLeader(ctx context.Context) (int, error) {
	for {
		for i, m := range e.masters {
			if m.Store().IsLeader() {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("no leader elected: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (e *ensemble) close() {
	for _, m := range e.masters {
		_ = m.Close()
	}
	_ = os.RemoveAll(e.dir)
}

// dial opens a connection to a master with the masters' client (plaintext: the ensemble runs
// in this process, on loopback). Each call makes a connection of its own, which the caller
// closes, so that a fleet spreads its sessions over several.
func dial(addr string) (*grpc.ClientConn, error) {
	cl, err := client.New(client.Options{Addrs: []string{addr}})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return cl.Conn(addr)
}

// execOK runs a command through an AdminService and checks that it succeeded.
func execOK(ctx context.Context, admin flumev1.AdminServiceClient, argv ...string) error {
	resp, err := admin.Exec(ctx, &flumev1.ExecRequest{Argv: argv, Origin: "flumebench"})
	if err != nil {
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	return succeeded(argv, resp.GetRecord())
}

func succeeded(argv []string, rec *flumev1.CommandRecord) error {
	if rec.GetState() != flumev1.CommandState_COMMAND_STATE_SUCCEEDED {
		return fmt.Errorf("%s %s: %v: %s", argv[0], argv[1], rec.GetState(), rec.GetMessage())
	}
	return nil
}

// execAll runs the commands argv(0) .. argv(n-1) on master m from a few concurrent callers.
func execAll(ctx context.Context, m *master.Master, n int, argv func(int) []string) error {
	var next atomic.Int64
	errs := make([]error, setupWorkers)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && errs[w] == nil; i = int(next.Add(1) - 1) {
				a := argv(i)
				rec, err := m.Exec(ctx, a, "flumebench")
				if err == nil {
					err = succeeded(a, rec)
				}
				errs[w] = err
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// quantile returns the q quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// cpuTime returns the user and system CPU seconds this process has used.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
