package agent

import (
	"fmt"
	"time"
)

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
		pause, note := time.Until(d.pauseUntil), d.retryNote
		d.mu.Unlock()
		if !down && note != "" {
			return fmt.Sprintf("collector cannot take chunks now (%s); %d chunks wait, next try in %s",
				note, queued, max(pause, 0).Round(time.Millisecond))
		}
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
