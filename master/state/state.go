// Package state is the replicated state of the Flume masters: logical node configurations with
// their versions, the mapping of logical nodes onto physical nodes, choke limits, the hosts of
// physical nodes, and the command history.
//
// Every master applies the same log of commands (flumev1.Command) in the same order, so State
// must be deterministic: Apply reads no clock, draws no random number and does no I/O; what it
// needs from outside (the time, who asked) travels in the command. Apply is all or nothing: a
// command that fails changes nothing but the history, which records why it failed.
package state

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/master/translate"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// DefaultFlow is the flow of a configuration that names none (flume.flow.default.name).
const DefaultFlow = "default-flow"

// MaxHistory is how many command records the state keeps; older ones are dropped.
const MaxHistory = 1000

// snapshotFormat is the format of MasterState this code writes and the newest it reads.
const snapshotFormat = 1

// State is the replicated state. It is not safe for concurrent use: the owner serialises Apply
// and the reads.
type State struct {
	configVersion   uint64
	commandID       uint64
	configs         map[string]*flumev1.StoredConfig // by logical node
	mappings        map[string]string                // logical -> physical
	onPhysical      map[string]map[string]struct{}   // physical -> its logical nodes: the index of mappings
	chokes          map[chokeKey]int64
	hosts           map[string]string // physical -> host
	history         []*flumev1.CommandRecord
	translated      map[string]*flumev1.TranslatedConfig // by logical node
	ports           map[string]int                       // collector ports, by logical node
	masters         map[string]*flumev1.MasterAddress    // masters that joined at run time, by id
	removedMasters  map[string]struct{}                  // masters removed at run time
	agents          map[string]*agentState               // end-to-end commit records, by agent
	files           map[string]map[string]int64          // collector -> file -> committed length
	tokens          map[string]*flumev1.Token            // access tokens, by accessor
	byHash          map[string]string                    // secret hash -> accessor: the index of tokens
	aclBootstrapped int64                                // when the first admin token was made; 0: never
	bindings        map[string]*flumev1.NodeBinding      // physical node -> the identity bound to its name

	// tcache carries translation work from one command to the next, and tconfigs is the
	// translation's view of configs. Both are derived, not replicated: a translation is the
	// same with them or without them.
	tcache   *translate.Cache
	tconfigs map[string]translate.Config
	// dirty names the logical nodes a command changed (configuration, version or mapping,
	// or the host of their physical node) since the last translation; dirtyAll says any may
	// have changed. They let a command translate only what it touched.
	dirty    map[string]struct{}
	dirtyAll bool
}

type chokeKey struct{ physical, id string }

// New returns an empty state.
func New() *State {
	return &State{
		tcache:         translate.NewCache(),
		tconfigs:       make(map[string]translate.Config),
		dirty:          make(map[string]struct{}),
		dirtyAll:       true,
		configs:        make(map[string]*flumev1.StoredConfig),
		mappings:       make(map[string]string),
		onPhysical:     make(map[string]map[string]struct{}),
		chokes:         make(map[chokeKey]int64),
		hosts:          make(map[string]string),
		translated:     make(map[string]*flumev1.TranslatedConfig),
		ports:          make(map[string]int),
		masters:        make(map[string]*flumev1.MasterAddress),
		removedMasters: make(map[string]struct{}),
		agents:         make(map[string]*agentState),
		files:          make(map[string]map[string]int64),
		tokens:         make(map[string]*flumev1.Token),
		byHash:         make(map[string]string),
		bindings:       make(map[string]*flumev1.NodeBinding),
	}
}

// applyFunc carries out one kind of operation. It returns an error, without changing anything,
// when the command cannot be carried out; a note for the history otherwise.
type applyFunc func(s *State, cmd *flumev1.Command) (note string, err error)

// ops is the dispatch table: one entry per operation of flumev1.Command.
var ops = map[string]applyFunc{
	"set_configs":     (*State).setConfigs,
	"unconfig":        (*State).unconfig,
	"map_node":        (*State).mapNode,
	"unmap_node":      (*State).unmapNode,
	"decommission":    (*State).decommission,
	"refresh":         (*State).refresh,
	"set_choke_limit": (*State).setChokeLimit,
	"set_node_host":   (*State).setNodeHost,
	"noop":            func(*State, *flumev1.Command) (string, error) { return "", nil },
	"add_master":      (*State).addMaster,
	"remove_master":   (*State).removeMaster,
	"create_token":    (*State).createToken,
	"revoke_token":    (*State).revokeToken,
	"bind_node":       (*State).bindNode,
	"unbind_node":     (*State).unbindNode,
}

// opName returns the name of the operation a command carries, "" if it carries none this code
// knows (a newer master wrote it).
func opName(cmd *flumev1.Command) string {
	f := cmd.ProtoReflect().WhichOneof(cmd.ProtoReflect().Descriptor().Oneofs().ByName("op"))
	if f == nil {
		return ""
	}
	return string(f.Name())
}

// Apply applies cmd and returns its history record. A command whose operation this code does
// not know is skipped when it is ignorable; otherwise Apply panics, because a master that
// applied the log differently from the others would serve a diverged state.
//
// The data-plane operations (commits, epochs) return a record with id 0 that is not kept in
// the history: they change no configuration.
func (s *State) Apply(cmd *flumev1.Command) *flumev1.CommandRecord {
	if fn, ok := dataOps[opName(cmd)]; ok {
		rec := &flumev1.CommandRecord{Time: cmd.GetTime(), State: flumev1.CommandState_COMMAND_STATE_SUCCEEDED}
		if err := fn(s, cmd, rec); err != nil {
			rec.State, rec.Message = flumev1.CommandState_COMMAND_STATE_FAILED, err.Error()
		}
		return rec
	}
	if id := cmd.GetRequestId(); id != "" {
		// A retried request: answer with the first outcome instead of applying it again.
		for i := len(s.history) - 1; i >= 0; i-- {
			if s.history[i].GetRequestId() == id {
				return proto.CloneOf(s.history[i])
			}
		}
	}
	name := opName(cmd)
	fn, ok := ops[name]
	if !ok {
		if cmd.GetIgnorable() {
			return nil
		}
		panic(fmt.Sprintf("state: command %v carries an operation this master does not know; upgrade it", cmd.GetArgv()))
	}
	s.commandID++
	rec := &flumev1.CommandRecord{
		Id:        s.commandID,
		Argv:      slices.Clone(cmd.GetArgv()),
		Origin:    cmd.GetOrigin(),
		Time:      cmd.GetTime(),
		State:     flumev1.CommandState_COMMAND_STATE_SUCCEEDED,
		RequestId: cmd.GetRequestId(),
	}
	note, err := fn(s, cmd)
	if err != nil {
		rec.State = flumev1.CommandState_COMMAND_STATE_FAILED
		rec.Message = err.Error()
	} else {
		rec.Message = note
		s.retranslate()
	}
	s.history = append(s.history, rec)
	if over := len(s.history) - MaxHistory; over > 0 {
		s.history = slices.Delete(s.history, 0, over)
	}
	return rec
}

// mapLogical and unmapLogical change a mapping and its index together.
func (s *State) mapLogical(logical, physical string) {
	s.touch(logical)
	s.mappings[logical] = physical
	if s.onPhysical[physical] == nil {
		s.onPhysical[physical] = make(map[string]struct{})
	}
	s.onPhysical[physical][logical] = struct{}{}
}

func (s *State) unmapLogical(logical string) {
	s.touch(logical)
	if p, ok := s.mappings[logical]; ok {
		delete(s.onPhysical[p], logical)
		if len(s.onPhysical[p]) == 0 {
			delete(s.onPhysical, p)
		}
		delete(s.mappings, logical)
	}
}

// touch notes that what logical nodes names run may have changed.
func (s *State) touch(names ...string) {
	for _, n := range names {
		s.dirty[n] = struct{}{}
	}
}

func (s *State) nextVersion() uint64 {
	s.configVersion++
	return s.configVersion
}

func (s *State) setConfigs(cmd *flumev1.Command) (string, error) {
	cfgs := cmd.GetSetConfigs().GetConfigs()
	if len(cfgs) == 0 {
		return "", fmt.Errorf("no configuration given")
	}
	seen := make(map[string]bool, len(cfgs))
	for _, c := range cfgs {
		if c.GetNode() == "" {
			return "", fmt.Errorf("a configuration names no logical node")
		}
		if seen[c.GetNode()] {
			return "", fmt.Errorf("logical node %s is configured twice in one command", c.GetNode())
		}
		seen[c.GetNode()] = true
	}
	changed := make(map[string]*[2]string, len(cfgs))
	for _, c := range cfgs {
		changed[c.GetNode()] = &[2]string{c.GetSource(), c.GetSink()}
	}
	if err := s.checkAssignments(changed, nil); err != nil {
		return "", err
	}
	v := s.nextVersion()
	for _, c := range cfgs {
		stored := &flumev1.NodeConfig{Node: c.GetNode(), Flow: cmp.Or(c.GetFlow(), DefaultFlow),
			Source: c.GetSource(), Sink: c.GetSink()}
		s.configs[c.GetNode()] = &flumev1.StoredConfig{Config: stored, Version: v, Time: cmd.GetTime()}
		s.touch(c.GetNode())
	}
	return fmt.Sprintf("version %d", v), nil
}

// knownNodes checks that every node has a configuration or a mapping.
func (s *State) knownNodes(nodes []string) error {
	if len(nodes) == 0 {
		return fmt.Errorf("no logical node given")
	}
	for _, n := range nodes {
		_, configured := s.configs[n]
		_, mapped := s.mappings[n]
		if !configured && !mapped {
			return fmt.Errorf("unknown logical node %s", n)
		}
	}
	return nil
}

func (s *State) unconfig(cmd *flumev1.Command) (string, error) {
	nodes := cmd.GetUnconfig().GetNodes()
	if err := s.knownNodes(nodes); err != nil {
		return "", err
	}
	v := s.nextVersion()
	for _, n := range nodes {
		s.configs[n] = &flumev1.StoredConfig{
			Config:  &flumev1.NodeConfig{Node: n, Flow: DefaultFlow, Source: "null", Sink: "null"},
			Version: v, Time: cmd.GetTime(),
		}
		s.touch(n)
	}
	return fmt.Sprintf("version %d", v), nil
}

func (s *State) mapNode(cmd *flumev1.Command) (string, error) {
	m := cmd.GetMapNode()
	if m.GetPhysical() == "" || m.GetLogical() == "" {
		return "", fmt.Errorf("map needs a physical and a logical node")
	}
	if cur, ok := s.mappings[m.GetLogical()]; ok {
		if cur == m.GetPhysical() {
			return "already mapped", nil
		}
		// A logical node runs on one physical node only (classic FLUME-45).
		return "", fmt.Errorf("logical node %s is mapped to physical node %s; unmap it first", m.GetLogical(), cur)
	}
	if err := s.checkAssignments(nil, map[string]string{m.GetLogical(): m.GetPhysical()}); err != nil {
		return "", err
	}
	s.mapLogical(m.GetLogical(), m.GetPhysical())
	return "", nil
}

func (s *State) unmapNode(cmd *flumev1.Command) (string, error) {
	u := cmd.GetUnmapNode()
	if u.GetAll() {
		// Classic unmapAll cleared the table, and the master mapped every physical node's
		// own logical node back onto it at its next heartbeat. That mapping is kept here
		// instead, so a node never runs without the logical node named after it.
		n := 0
		for logical, physical := range s.mappings {
			if logical != physical {
				s.unmapLogical(logical)
				n++
			}
		}
		return fmt.Sprintf("%d mappings removed", n), nil
	}
	cur, ok := s.mappings[u.GetLogical()]
	if !ok {
		return "", fmt.Errorf("logical node %s is not mapped", u.GetLogical())
	}
	if cur != u.GetPhysical() {
		return "", fmt.Errorf("logical node %s is mapped to physical node %s, not %s", u.GetLogical(), cur, u.GetPhysical())
	}
	s.unmapLogical(u.GetLogical())
	return "", nil
}

func (s *State) decommission(cmd *flumev1.Command) (string, error) {
	nodes := cmd.GetDecommission().GetNodes()
	if err := s.knownNodes(nodes); err != nil {
		return "", err
	}
	for _, n := range nodes {
		delete(s.configs, n)
		s.unmapLogical(n) // touches n
	}
	return "", nil
}

func (s *State) refresh(cmd *flumev1.Command) (string, error) {
	r := cmd.GetRefresh()
	nodes := r.GetNodes()
	if r.GetAll() {
		nodes = slices.Sorted(maps.Keys(s.configs))
		if len(nodes) == 0 {
			return "nothing configured", nil
		}
	}
	for _, n := range nodes {
		if _, ok := s.configs[n]; !ok {
			return "", fmt.Errorf("logical node %s has no configuration", n)
		}
	}
	if len(nodes) == 0 {
		return "", fmt.Errorf("no logical node given")
	}
	v := s.nextVersion()
	for _, n := range nodes {
		c := s.configs[n]
		s.configs[n] = &flumev1.StoredConfig{Config: c.GetConfig(), Version: v, Time: cmd.GetTime()}
		s.touch(n)
	}
	return fmt.Sprintf("version %d", v), nil
}

func (s *State) setChokeLimit(cmd *flumev1.Command) (string, error) {
	c := cmd.GetSetChokeLimit()
	if c.GetPhysical() == "" || c.GetChokeId() == "" {
		return "", fmt.Errorf("setChokeLimit needs a physical node and a choke id")
	}
	if c.GetLimitKbps() < 0 {
		return "", fmt.Errorf("choke limit %d KB/s is negative", c.GetLimitKbps())
	}
	k := chokeKey{c.GetPhysical(), c.GetChokeId()}
	if c.GetLimitKbps() == 0 {
		delete(s.chokes, k)
		return "limit removed", nil
	}
	s.chokes[k] = c.GetLimitKbps()
	return "", nil
}

func (s *State) setNodeHost(cmd *flumev1.Command) (string, error) {
	h := cmd.GetSetNodeHost()
	if h.GetPhysical() == "" || h.GetHost() == "" {
		return "", fmt.Errorf("a node host needs a physical node and a host")
	}
	if s.hosts[h.GetPhysical()] != h.GetHost() {
		for n := range s.onPhysical[h.GetPhysical()] {
			s.touch(n)
		}
	}
	s.hosts[h.GetPhysical()] = h.GetHost()
	return "", nil
}
