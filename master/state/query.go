package state

import (
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// The reads return copies: callers may keep and change them.

// ConfigVersion returns the last configuration version given out.
func (s *State) ConfigVersion() uint64 { return s.configVersion }

// Config returns the configuration of logical node name, if it has one.
func (s *State) Config(name string) (*flumev1.StoredConfig, bool) {
	c, ok := s.configs[name]
	if !ok {
		return nil, false
	}
	return proto.CloneOf(c), true
}

// Configs returns every configuration, sorted by logical node.
func (s *State) Configs() []*flumev1.StoredConfig {
	out := make([]*flumev1.StoredConfig, 0, len(s.configs))
	for _, n := range slices.Sorted(maps.Keys(s.configs)) {
		out = append(out, proto.CloneOf(s.configs[n]))
	}
	return out
}

// PhysicalOf returns the physical node logical node name is mapped to.
func (s *State) PhysicalOf(name string) (string, bool) {
	p, ok := s.mappings[name]
	return p, ok
}

// Mappings returns every mapping, sorted by logical node.
func (s *State) Mappings() []*flumev1.Mapping {
	out := make([]*flumev1.Mapping, 0, len(s.mappings))
	for _, l := range slices.Sorted(maps.Keys(s.mappings)) {
		out = append(out, &flumev1.Mapping{Physical: s.mappings[l], Logical: l})
	}
	return out
}

// LogicalOn returns the logical nodes mapped onto physical node name, sorted.
func (s *State) LogicalOn(name string) []string {
	return slices.Sorted(maps.Keys(s.onPhysical[name]))
}

// Chokes returns the choke limits of physical node name, by choke id, in KB/s.
func (s *State) Chokes(name string) map[string]int64 {
	out := make(map[string]int64)
	for k, v := range s.chokes {
		if k.physical == name {
			out[k.id] = v
		}
	}
	return out
}

// Host returns the host physical node name reported.
func (s *State) Host(name string) (string, bool) {
	h, ok := s.hosts[name]
	return h, ok
}

// History returns the command records kept, oldest first.
func (s *State) History() []*flumev1.CommandRecord {
	out := make([]*flumev1.CommandRecord, len(s.history))
	for i, r := range s.history {
		out[i] = proto.CloneOf(r)
	}
	return out
}

// Command returns the record of command id, if it is still kept.
func (s *State) Command(id uint64) (*flumev1.CommandRecord, bool) {
	i, ok := slices.BinarySearchFunc(s.history, id, func(r *flumev1.CommandRecord, id uint64) int {
		switch {
		case r.GetId() < id:
			return -1
		case r.GetId() > id:
			return 1
		}
		return 0
	})
	if !ok {
		return nil, false
	}
	return proto.CloneOf(s.history[i]), true
}

// ToProto returns the whole state as a MasterState, with every list sorted by its keys so that
// equal states give equal messages.
func (s *State) ToProto() *flumev1.MasterState {
	m := &flumev1.MasterState{
		Format:        snapshotFormat,
		ConfigVersion: s.configVersion,
		CommandId:     s.commandID,
		Configs:       s.Configs(),
		Mappings:      s.Mappings(),
		History:       s.History(),
	}
	keys := slices.SortedFunc(maps.Keys(s.chokes), func(a, b chokeKey) int {
		if c := strings.Compare(a.physical, b.physical); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	for _, k := range keys {
		m.Chokes = append(m.Chokes, &flumev1.ChokeLimit{Physical: k.physical, ChokeId: k.id, LimitKbps: s.chokes[k]})
	}
	for _, p := range slices.Sorted(maps.Keys(s.hosts)) {
		m.Hosts = append(m.Hosts, &flumev1.NodeHost{Physical: p, Host: s.hosts[p]})
	}
	m.Translated = s.AllTranslated()
	for _, n := range slices.Sorted(maps.Keys(s.ports)) {
		m.Ports = append(m.Ports, &flumev1.CollectorPort{Node: n, Port: int32(s.ports[n])})
	}
	m.Masters, m.RemovedMasters = s.Masters()
	s.commitsToProto(m)
	s.aclToProto(m)
	return m
}
