package agent

import (
	"fmt"
	"time"
)

// Condition says why the sink holds its flow up: its log at the size cap or the disk short of
// space (the source is paused), a collector that cannot take chunks now, or no collector
// taking chunks.
func (s *Sink) Condition() string {
	if s.log != nil {
		if st := s.log.State(); st.Full {
			return fmt.Sprintf("paused: agent log full (%s); %d chunks wait for a collector", st.Reason, st.Unreleased)
		}
	}
	if s.snd == nil {
		return ""
	}
	down, queued := s.out.condition()
	if note, pause := s.snd.condition(); !down && note != "" {
		return fmt.Sprintf("collector cannot take chunks now (%s); %d chunks wait, next try in %s",
			note, queued, max(pause, 0).Round(time.Millisecond))
	}
	if !down {
		return ""
	}
	switch s.opts.Mode {
	case EndToEnd:
		return fmt.Sprintf("no collector reachable; %d chunks kept in the agent log", queued)
	case DiskFailover:
		return fmt.Sprintf("no collector reachable; %d chunks spooled", queued)
	}
	return "no collector reachable; dropping events"
}
