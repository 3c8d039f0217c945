package state

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// ErrSnapshotFormat is returned for a snapshot written by a newer master, whose format this
// one does not know: restoring it partially would diverge from the other masters.
var ErrSnapshotFormat = errors.New("snapshot format not supported")

// Marshal encodes the state for a snapshot. Equal states give equal bytes.
func (s *State) Marshal() ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(s.ToProto())
	if err != nil {
		return nil, fmt.Errorf("marshal master state: %w", err)
	}
	return b, nil
}

// Unmarshal decodes a snapshot written by Marshal.
func Unmarshal(b []byte) (*State, error) {
	var m flumev1.MasterState
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("unmarshal master state: %w", err)
	}
	return FromProto(&m)
}

// FromProto builds a state from a MasterState.
func FromProto(m *flumev1.MasterState) (*State, error) {
	if m.GetFormat() > snapshotFormat {
		return nil, fmt.Errorf("master state format %d, newest known %d: %w", m.GetFormat(), snapshotFormat, ErrSnapshotFormat)
	}
	s := New()
	s.configVersion, s.commandID = m.GetConfigVersion(), m.GetCommandId()
	for _, c := range m.GetConfigs() {
		n := c.GetConfig().GetNode()
		if n == "" {
			return nil, fmt.Errorf("master state: a configuration names no logical node")
		}
		s.configs[n] = proto.CloneOf(c)
	}
	for _, mp := range m.GetMappings() {
		s.mapLogical(mp.GetLogical(), mp.GetPhysical())
	}
	for _, c := range m.GetChokes() {
		s.chokes[chokeKey{c.GetPhysical(), c.GetChokeId()}] = c.GetLimitKbps()
	}
	for _, h := range m.GetHosts() {
		s.hosts[h.GetPhysical()] = h.GetHost()
	}
	for _, r := range m.GetHistory() {
		s.history = append(s.history, proto.CloneOf(r))
	}
	for _, t := range m.GetTranslated() {
		s.translated[t.GetNode()] = proto.CloneOf(t)
	}
	for _, p := range m.GetPorts() {
		s.ports[p.GetNode()] = int(p.GetPort())
	}
	for _, ma := range m.GetMasters() {
		s.masters[ma.GetId()] = proto.CloneOf(ma)
	}
	for _, id := range m.GetRemovedMasters() {
		s.removedMasters[id] = struct{}{}
	}
	if err := s.commitsFromProto(m); err != nil {
		return nil, err
	}
	if err := s.aclFromProto(m); err != nil {
		return nil, err
	}
	return s, nil
}
