package state

import (
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/master/translate"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// retranslate recomputes the translated configuration of every logical node after a command
// changed the state. A node whose submitted configuration got a new version takes that version;
// a node whose translation alone changed (a collector came or went, a host changed) takes one
// new version shared by all such nodes of this command. Versions therefore only grow, and a
// node restarts its flow exactly when what it must run changes.
//
// Only the nodes the command touched are looked at, unless the collectors changed: then every
// node's translation may have.
func (s *State) retranslate() {
	in := translate.Input{Configs: s.tconfigs, Physical: s.mappings, Hosts: s.hosts, Ports: s.ports, Cache: s.tcache}
	if s.dirtyAll {
		clear(s.tconfigs)
		for n := range s.configs {
			s.tconfigs[n] = s.tconfig(n)
		}
	} else {
		for n := range s.dirty {
			if _, ok := s.configs[n]; ok {
				s.tconfigs[n] = s.tconfig(n)
			} else {
				delete(s.tconfigs, n)
			}
		}
		in.Changed = s.dirty
	}
	out := translate.Translate(in)
	s.ports = out.Ports
	// The version shared by nodes whose translation alone changed: one new version whichever
	// of them comes first, so the order of the nodes does not matter.
	var bumped uint64
	update := func(n string, c *flumev1.StoredConfig) {
		t := out.Nodes[n]
		old := s.translated[n]
		if old != nil && old.GetSubmittedVersion() == c.GetVersion() && old.GetSource() == t.Source && old.GetSink() == t.Sink {
			return
		}
		v := c.GetVersion()
		if old != nil && old.GetSubmittedVersion() == c.GetVersion() {
			if bumped == 0 {
				bumped = s.nextVersion()
			}
			v = bumped
		}
		s.translated[n] = &flumev1.TranslatedConfig{Node: n, Flow: c.GetConfig().GetFlow(),
			Source: t.Source, Sink: t.Sink, Version: v, SubmittedVersion: c.GetVersion()}
	}
	if out.Partial {
		for n := range s.dirty {
			if c, ok := s.configs[n]; ok {
				update(n, c)
			} else {
				delete(s.translated, n)
			}
		}
	} else {
		for n, c := range s.configs {
			update(n, c)
		}
		for n := range s.translated {
			if _, ok := s.configs[n]; !ok {
				delete(s.translated, n)
			}
		}
	}
	clear(s.dirty)
	s.dirtyAll = false
}

// tconfig returns the translation's view of node n's configuration.
func (s *State) tconfig(n string) translate.Config {
	c := s.configs[n].GetConfig()
	return translate.Config{Flow: c.GetFlow(), Source: c.GetSource(), Sink: c.GetSink()}
}

// Translated returns the configuration logical node name runs, if it has one.
func (s *State) Translated(name string) (*flumev1.TranslatedConfig, bool) {
	t, ok := s.translated[name]
	if !ok {
		return nil, false
	}
	return proto.CloneOf(t), true
}

// AllTranslated returns every translated configuration, sorted by logical node.
func (s *State) AllTranslated() []*flumev1.TranslatedConfig {
	out := make([]*flumev1.TranslatedConfig, 0, len(s.translated))
	for _, n := range slices.Sorted(maps.Keys(s.translated)) {
		out = append(out, proto.CloneOf(s.translated[n]))
	}
	return out
}
