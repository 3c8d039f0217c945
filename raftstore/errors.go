package raftstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// Sentinel errors. Callers test them with errors.Is; the returned errors also wrap the
// underlying raft or context error where there is one.
var (
	// ErrClosed: the store is closed or closing.
	ErrClosed = errors.New("raft store closed")
	// ErrTimeout: the caller's deadline passed first. For Apply and membership changes the
	// outcome is unknown: the entry may still commit.
	ErrTimeout = errors.New("raft operation timed out")
	// ErrNotLeader: this member is not the leader. Errors carrying it are *NotLeaderError.
	ErrNotLeader = errors.New("not the raft leader")
	// ErrLeadershipLost: this member stopped being the leader while the operation was in
	// flight. The outcome is unknown: a new leader may still commit the entry.
	ErrLeadershipLost = errors.New("raft leadership lost")
	// ErrInvalidConfig: Config.Validate found a problem.
	ErrInvalidConfig = errors.New("invalid raft configuration")
	// ErrLocked: another process (or another Store in this one) holds the data dir.
	ErrLocked = errors.New("raft data dir in use")
	// ErrNothingToSnapshot: Snapshot found nothing applied to the FSM yet.
	ErrNothingToSnapshot = errors.New("nothing new to snapshot")
	// ErrEntryTooLarge: Apply was given more than Config.MaxEntryBytes; nothing was
	// replicated. The error names both sizes.
	ErrEntryTooLarge = errors.New("raft entry too large")
)

// NotLeaderError is returned by operations that need the leader when this member is not.
// The leader fields are empty while no leader is known (an election is in progress or the
// ensemble has lost its majority). errors.Is(err, ErrNotLeader) holds for it.
type NotLeaderError struct {
	// LeaderID is the current leader's member ID, if known.
	LeaderID string
	// LeaderAddr is the current leader's raft address, if known.
	LeaderAddr string
}

// Error describes the redirect.
func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" && e.LeaderAddr == "" {
		return "not the raft leader: no leader known (election in progress or no majority)"
	}
	return fmt.Sprintf("not the raft leader: leader is %q at %s", e.LeaderID, e.LeaderAddr)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// notLeader builds a NotLeaderError naming the leader this member currently knows.
func (s *Store) notLeader() *NotLeaderError {
	addr, id := s.raft.LeaderWithID()
	return &NotLeaderError{LeaderID: string(id), LeaderAddr: string(addr)}
}

// translate maps a raft error of operation op to this package's errors.
func (s *Store) translate(op string, err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrNotVoter):
		return fmt.Errorf("%s: %w", op, s.notLeader())
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%s: %w: %w", op, ErrLeadershipLost, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%s: %w", op, ErrClosed)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%s: %w: %w", op, ErrTimeout, err)
	case errors.Is(err, raft.ErrNothingNewToSnapshot):
		return fmt.Errorf("%s: %w", op, ErrNothingToSnapshot)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// ctxError explains why the caller's context ended op: a deadline is ErrTimeout, a
// cancellation is the context's own error.
func ctxError(op string, ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w: %w", op, ErrTimeout, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
