package state

import (
	"fmt"
	"maps"
	"slices"
)

// MaxAssignmentBytes bounds the configurations of the logical nodes mapped onto one physical
// node, as submitted, plus assignmentOverhead for each. A node receives all of them in one
// session message; nodes accept messages of up to four times this, which leaves room for what
// translation adds (an automatic chain becomes the addresses of its collectors). A config or
// map command that would take a physical node past it is refused: without the bound, a node
// would be sent a message it cannot receive and would fall out of its session for good.
const MaxAssignmentBytes = 4 << 20

// assignmentOverhead is what each logical node adds to an assignment besides its specs: its
// name, version, flow, and what translation may add.
const assignmentOverhead = 256

// configBytes is the share of logical node name, running source and sink, in its physical
// node's assignment.
func configBytes(name, source, sink string) int {
	return len(name) + len(source) + len(sink) + assignmentOverhead
}

// checkAssignments checks that no physical node would exceed MaxAssignmentBytes if the
// logical nodes of changed took the given specs (configure) or were mapped onto the given
// physical node (map). changed maps a logical node to its new [source, sink], or to nil for
// its current configuration; mapTo maps a logical node to a physical node it would be mapped
// onto.
func (s *State) checkAssignments(changed map[string]*[2]string, mapTo map[string]string) error {
	touched := map[string]bool{}
	for n := range changed {
		if p, ok := s.mappings[n]; ok {
			touched[p] = true
		}
	}
	for _, p := range mapTo {
		touched[p] = true
	}
	for _, p := range slices.Sorted(maps.Keys(touched)) {
		names := maps.Clone(s.onPhysical[p])
		if names == nil {
			names = map[string]struct{}{}
		}
		for n, to := range mapTo {
			if to == p {
				names[n] = struct{}{}
			}
		}
		total := 0
		for n := range names {
			if spec, ok := changed[n]; ok && spec != nil {
				total += configBytes(n, spec[0], spec[1])
			} else if c, ok := s.configs[n]; ok {
				total += configBytes(n, c.GetConfig().GetSource(), c.GetConfig().GetSink())
			} else {
				total += configBytes(n, "", "")
			}
		}
		if total > MaxAssignmentBytes {
			return fmt.Errorf("physical node %s would be given %.1f MiB of configurations, more than the %d MiB one node takes: "+
				"spread its logical nodes over more physical nodes or shorten their specs",
				p, float64(total)/(1<<20), MaxAssignmentBytes>>20)
		}
	}
	return nil
}
