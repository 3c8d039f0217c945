package agent

import "fmt"

// Condition says why the sink holds its flow up: its log at the size cap or the disk short of
// space (the source is paused), or no collector taking chunks.
func (s *Sink) Condition() string {
	if s.log != nil {
		if st := s.log.State(); st.Full {
			return fmt.Sprintf("paused: agent log full (%s); %d chunks wait for a collector", st.Reason, st.Unreleased)
		}
	}
	if d := s.snd; d != nil {
		d.mu.Lock()
		down, queued := d.down, len(d.queue)
		d.mu.Unlock()
		if down {
			switch s.opts.Mode {
			case EndToEnd:
				return fmt.Sprintf("no collector reachable; %d chunks kept in the agent log", queued)
			case DiskFailover:
				return fmt.Sprintf("no collector reachable; %d chunks spooled", queued)
			default:
				return "no collector reachable; dropping events"
			}
		}
	}
	return ""
}
