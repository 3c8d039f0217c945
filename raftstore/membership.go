package raftstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// Suffrage is a member's role in votes and commits.
type Suffrage string

// Suffrages, as raft defines them.
const (
	// Voter votes in elections and counts for commits.
	Voter Suffrage = "voter"
	// Nonvoter receives the log but neither votes nor counts for commits.
	Nonvoter Suffrage = "nonvoter"
	// Staging is a server being caught up before it becomes a voter.
	Staging Suffrage = "staging"
)

func suffrageOf(s raft.ServerSuffrage) Suffrage {
	switch s {
	case raft.Nonvoter:
		return Nonvoter
	case raft.Staging:
		return Staging
	default:
		return Voter
	}
}

// Member is one server of the current configuration.
type Member struct {
	ID       string
	Addr     string
	Suffrage Suffrage
	// Leader is true for the member this member believes is the leader.
	Leader bool
}

// Membership is the ensemble as this member sees it, with its own raft progress.
type Membership struct {
	// Members is the latest configuration (possibly not yet committed), in its order.
	Members []Member
	// LeaderID and LeaderAddr are empty while no leader is known.
	LeaderID   string
	LeaderAddr string
	// Term is this member's current term.
	Term uint64
	// LastIndex is the last index in this member's log (or snapshot).
	LastIndex uint64
	// CommitIndex is the latest index this member knows to be committed.
	CommitIndex uint64
	// AppliedIndex is the latest index applied to this member's FSM.
	AppliedIndex uint64
}

// Members returns the current configuration and this member's progress. It reads local
// state only, so it works on any member, with or without a leader.
func (s *Store) Members() (Membership, error) {
	if s.isClosed() {
		return Membership{}, fmt.Errorf("raft members: %w", ErrClosed)
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return Membership{}, s.translate("raft members", err)
	}
	leaderID, leaderAddr := s.Leader()
	m := Membership{
		LeaderID:     leaderID,
		LeaderAddr:   leaderAddr,
		Term:         s.raft.CurrentTerm(),
		LastIndex:    s.raft.LastIndex(),
		CommitIndex:  s.raft.CommitIndex(),
		AppliedIndex: s.raft.AppliedIndex(),
	}
	for _, srv := range f.Configuration().Servers {
		m.Members = append(m.Members, Member{
			ID:       string(srv.ID),
			Addr:     string(srv.Address),
			Suffrage: suffrageOf(srv.Suffrage),
			Leader:   leaderID != "" && string(srv.ID) == leaderID,
		})
	}
	return m, nil
}

// AddVoter adds a voting member (or changes the address of an existing one) and returns
// once the new configuration is committed. Leader only. The new member should be running
// with Join set; it catches up from the log or, if the log was compacted, from a snapshot.
// While it catches up it counts for the majority, so add members one at a time.
func (s *Store) AddVoter(ctx context.Context, id, addr string) error {
	op := fmt.Sprintf("add raft voter %q at %s", id, addr)
	if id == "" {
		return fmt.Errorf("%s: %w: id is empty", op, ErrInvalidConfig)
	}
	if err := checkHostPort(addr); err != nil {
		return fmt.Errorf("%s: %w: %w", op, ErrInvalidConfig, err)
	}
	if err := s.requireLeader(op); err != nil {
		return err
	}
	_, err := s.await(ctx, op, func(t time.Duration) raft.Future {
		return s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, t)
	})
	return err
}

// RemoveServer removes a member and returns once the new configuration is committed.
// Leader only; a leader that removes itself steps down afterwards. The removed member
// keeps running without a vote until it is closed.
func (s *Store) RemoveServer(ctx context.Context, id string) error {
	op := fmt.Sprintf("remove raft server %q", id)
	if id == "" {
		return fmt.Errorf("%s: %w: id is empty", op, ErrInvalidConfig)
	}
	if err := s.requireLeader(op); err != nil {
		return err
	}
	_, err := s.await(ctx, op, func(t time.Duration) raft.Future {
		return s.raft.RemoveServer(raft.ServerID(id), 0, t)
	})
	return err
}

// ConfigDrift lists how the configuration stored in this member's log differed from
// Config.Servers when Open found existing state; nil when they agreed or the member
// bootstrapped. The stored configuration wins: it records membership changes made at run
// time, which a static server list cannot. Open logs the list as a warning.
func (s *Store) ConfigDrift() []string { return slices.Clone(s.drift) }

// checkDrift compares the stored configuration with the configured one.
func (s *Store) checkDrift() error {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("read stored raft configuration: %w", err)
	}
	s.drift = diffServers(s.cfg.Servers, f.Configuration().Servers)
	if len(s.drift) > 0 {
		s.log.Warn("stored raft configuration differs from the configured server list; using the stored one",
			"id", s.cfg.ID, "differences", s.drift)
	}
	return nil
}

// diffServers describes each difference between the configured and stored servers,
// sorted for a stable report.
func diffServers(configured []Server, stored []raft.Server) []string {
	var out []string
	have := make(map[string]raft.Server, len(stored))
	for _, s := range stored {
		have[string(s.ID)] = s
	}
	want := make(map[string]bool, len(configured))
	for _, c := range configured {
		want[c.ID] = true
		s, ok := have[c.ID]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("server %q (%s) is configured but not in the stored configuration", c.ID, c.Addr))
		case string(s.Address) != c.Addr:
			out = append(out, fmt.Sprintf("server %q is at %s in the stored configuration but configured at %s", c.ID, s.Address, c.Addr))
		case s.Suffrage != raft.Voter:
			out = append(out, fmt.Sprintf("server %q is a %s in the stored configuration", c.ID, suffrageOf(s.Suffrage)))
		}
	}
	for _, s := range stored {
		if !want[string(s.ID)] {
			out = append(out, fmt.Sprintf("server %q (%s) is in the stored configuration but not configured", s.ID, s.Address))
		}
	}
	slices.Sort(out)
	return out
}
