// Package raftstore hosts one member of a Raft ensemble (hashicorp/raft) for a given
// raft.FSM, whatever the FSM holds. It owns the durable stores (raft-boltdb log and stable
// store, file snapshots), a TCP or mutual-TLS transport, bootstrapping, leader-only writes
// with redirect information, consistent reads, leadership watching and membership changes.
//
// The raft port refuses strangers and bounds every message. With TLS, a connection reaches
// raft only after a handshake in which the peer presented a certificate the server config
// verified; failed handshakes are logged once per remote IP and quiet period. Every
// connection may read at most Config.MaxMessageBytes between two of its writes (one
// request), Config.MaxSnapshotBytes for an InstallSnapshot; a peer that sends more is cut
// off. Apply refuses entries above Config.MaxEntryBytes so that a full AppendEntries always
// fits the cap.
//
// The FSM's contract is raft's: Apply, Snapshot and Restore are called from raft's FSM
// goroutine only, Apply must be deterministic. See DESIGN.md for why the store is built
// the way it is.
package raftstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

const (
	// dataDirLockTimeout bounds the wait for raft.db's file lock, so a second process on
	// the same data dir fails with ErrLocked instead of hanging.
	dataDirLockTimeout = time.Second
	// maxPool is how many idle connections the transport keeps per peer.
	maxPool = 3
)

// Store is one running member. All methods are safe for concurrent use; after Close every
// operation fails with ErrClosed.
type Store struct {
	cfg  Config
	log  *slog.Logger
	self Server

	bolt   *raftboltdb.BoltStore
	ln     net.Listener
	stream *streamLayer
	trans  *raft.NetworkTransport
	raft   *raft.Raft
	drift  []string

	observer *raft.Observer
	obsCh    chan raft.Observation
	stopObs  chan struct{}

	closing chan struct{} // closed when Close starts
	mu      sync.Mutex    // guards closed, leader, watchers
	closed  bool
	leader  LeaderEvent
	watch   map[*watcher]struct{}

	ops       sync.WaitGroup // in-flight raft futures; Close waits for them before shutdown
	bg        sync.WaitGroup // observer fan-out and watchers
	closeOnce sync.Once
	closeErr  error

	// barrierTerm is the term in which this member last completed a read barrier as leader.
	barrierTerm atomic.Uint64
}

// Open starts a member: it opens DataDir (creating it), the listener and transport, and
// raft with fsm. A member without state bootstraps with the full server list (unless
// Join); a member with state never bootstraps again and compares the stored configuration
// with Servers (see ConfigDrift). Open does not wait for an election.
func Open(cfg Config, fsm raft.FSM) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		closeListener(cfg.Listener)
		return nil, fmt.Errorf("open raft store: %w", err)
	}
	if fsm == nil {
		closeListener(cfg.Listener)
		return nil, fmt.Errorf("open raft store: %w: fsm is nil", ErrInvalidConfig)
	}
	c := cfg.withDefaults()
	self, _ := c.self()
	s := &Store{
		cfg:     c,
		log:     c.Logger,
		self:    self,
		ln:      c.Listener,
		closing: make(chan struct{}),
		stopObs: make(chan struct{}),
		watch:   make(map[*watcher]struct{}),
	}
	if err := s.open(fsm); err != nil {
		s.closeOnce.Do(func() { s.closeErr = s.shutdown() })
		return nil, fmt.Errorf("open raft store %q in %s: %w", c.ID, c.DataDir, err)
	}
	return s, nil
}

func closeListener(ln net.Listener) {
	if ln != nil {
		_ = ln.Close()
	}
}

// open does the work of Open; on error the caller releases whatever was opened.
func (s *Store) open(fsm raft.FSM) error {
	c := &s.cfg
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	dbPath := filepath.Join(c.DataDir, "raft.db")
	var err error
	s.bolt, err = raftboltdb.New(raftboltdb.Options{
		Path:        dbPath,
		BoltOptions: &bbolt.Options{Timeout: dataDirLockTimeout},
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return fmt.Errorf("open %s: %w", dbPath, ErrLocked)
		}
		return fmt.Errorf("open %s: %w", dbPath, err)
	}
	hl := NewHCLogger(s.log, "raft")
	snaps, err := raft.NewFileSnapshotStoreWithLogger(c.DataDir, c.SnapshotRetain, hl.Named("snapshot"))
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	if s.ln == nil {
		bind := c.BindAddr
		if bind == "" {
			bind = s.self.Addr
		}
		if s.ln, err = net.Listen("tcp", bind); err != nil {
			return fmt.Errorf("listen for raft on %s: %w", bind, err)
		}
	}
	s.stream = newStreamLayer(s.ln, streamConfig{
		advertise:   s.self.Addr,
		server:      c.TLS,
		client:      c.ClientTLS,
		timeout:     c.DialTimeout,
		maxMessage:  c.MaxMessageBytes,
		maxSnapshot: c.MaxSnapshotBytes,
		log:         s.log,
	})
	s.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  s.stream,
		MaxPool: maxPool,
		Timeout: c.IOTimeout,
		Logger:  hl.Named("net"),
	})
	existing, err := raft.HasExistingState(s.bolt, s.bolt, snaps)
	if err != nil {
		return fmt.Errorf("check existing raft state: %w", err)
	}
	if s.raft, err = raft.NewRaft(c.raftConfig(), fsm, s.bolt, s.bolt, snaps, s.trans); err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	s.startObserver()
	switch {
	case existing:
		return s.checkDrift()
	case c.Join:
		s.log.Info("raft member has no state; waiting to be added to the ensemble", "id", c.ID, "addr", s.self.Addr)
		return nil
	default:
		if err := s.raft.BootstrapCluster(c.bootstrapConfiguration()).Error(); err != nil {
			return fmt.Errorf("bootstrap raft ensemble: %w", err)
		}
		s.log.Info("raft ensemble bootstrapped", "id", c.ID, "servers", len(c.Servers))
		return nil
	}
}

// Close stops the member: it waits for operations in flight to resolve (bounded by the
// commit of their entries or the leader lease), shuts raft down, then closes the
// transport, every connection and the stores. Safe twice; later calls return the first
// call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.shutdown() })
	return s.closeErr
}

// shutdown releases everything that was opened, in reverse order; fields may be nil when
// Open failed part way.
func (s *Store) shutdown() error {
	s.mu.Lock()
	s.closed = true
	close(s.closing)
	s.mu.Unlock()

	// raft leaves a future unanswered when it shuts down with the entry queued for the
	// FSM, so futures are drained while raft still runs, and only then is it stopped.
	s.ops.Wait()
	var errs []error
	if s.raft != nil {
		if err := s.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("shut down raft: %w", err))
		}
		if s.observer != nil {
			s.raft.DeregisterObserver(s.observer)
		}
	}
	close(s.stopObs)
	s.bg.Wait()
	switch {
	case s.trans != nil:
		_ = s.trans.Close() // closes the stream layer; already done by raft's shutdown
		s.trans.CloseStreams()
	case s.ln != nil:
		closeListener(s.ln)
	}
	if s.stream != nil {
		if err := s.stream.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.bolt != nil {
		if err := s.bolt.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close raft.db: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ID returns this member's ID.
func (s *Store) ID() string { return s.cfg.ID }

// Addr returns this member's advertised raft address.
func (s *Store) Addr() string { return s.self.Addr }

// begin registers an operation with Close; false once the store is closing.
func (s *Store) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.ops.Add(1)
	return true
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// requireLeader fails fast when this member cannot serve a leader-only operation.
func (s *Store) requireLeader(op string) error {
	if s.isClosed() {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	if s.raft.State() != raft.Leader {
		return fmt.Errorf("%s: %w", op, s.notLeader())
	}
	return nil
}

// enqueueTimeout is how long raft may take to accept an operation: the caller's deadline,
// or the transport's I/O timeout without one.
func (s *Store) enqueueTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return s.cfg.IOTimeout
}

// await starts a raft operation and waits for its future until ctx ends or the store
// closes. The future is waited for in a goroutine that Close waits for: raft has no way to
// abandon a future, so an operation the caller gave up on still runs to its end.
func (s *Store) await(ctx context.Context, op string, start func(enqueue time.Duration) raft.Future) (raft.Future, error) {
	if ctx.Err() != nil {
		return nil, ctxError(op, ctx)
	}
	if !s.begin() {
		return nil, fmt.Errorf("%s: %w", op, ErrClosed)
	}
	f := start(s.enqueueTimeout(ctx))
	done := make(chan error, 1)
	go func() {
		defer s.ops.Done()
		done <- f.Error()
	}()
	select {
	case err := <-done:
		if err != nil {
			return nil, s.translate(op, err)
		}
		return f, nil
	case <-ctx.Done():
		return nil, ctxError(op, ctx)
	case <-s.closing:
		return nil, fmt.Errorf("%s: %w", op, ErrClosed)
	}
}

// Apply replicates data and returns the FSM's response once this member (the leader) has
// applied it. data longer than Config.MaxEntryBytes is refused with ErrEntryTooLarge on
// any member, before it reaches raft: every entry must fit the transport's message cap.
// A follower returns *NotLeaderError naming the leader. ctx bounds the wait;
// on ErrTimeout or ErrLeadershipLost the entry may still commit. An error the FSM returns
// is the response, not err: err reports replication only.
func (s *Store) Apply(ctx context.Context, data []byte) (any, error) {
	const op = "raft apply"
	if n := int64(len(data)); n > s.cfg.MaxEntryBytes {
		return nil, fmt.Errorf("%s: %w: %d bytes, the limit is %d", op, ErrEntryTooLarge, n, s.cfg.MaxEntryBytes)
	}
	if err := s.requireLeader(op); err != nil {
		return nil, err
	}
	f, err := s.await(ctx, op, func(t time.Duration) raft.Future { return s.raft.Apply(data, t) })
	if err != nil {
		return nil, err
	}
	return f.(raft.ApplyFuture).Response(), nil
}

// ConsistentRead returns nil only if this member is the leader and its FSM holds every
// entry committed before the call: after each election the first read waits for a barrier
// (everything the previous leaders committed is applied), and every read confirms with a
// majority that this member is still the leader. Read the FSM after it returns nil.
// raft counts a heartbeat answered just before the call, so a leader cut off an instant
// earlier may serve one more read; after that, reads fail (see DESIGN.md).
func (s *Store) ConsistentRead(ctx context.Context) error {
	const op = "consistent read"
	for {
		if err := s.requireLeader(op); err != nil {
			return err
		}
		term := s.raft.CurrentTerm()
		if s.barrierTerm.Load() != term {
			if _, err := s.await(ctx, op+" barrier", func(t time.Duration) raft.Future { return s.raft.Barrier(t) }); err != nil {
				return err
			}
			s.barrierTerm.Store(term)
		}
		if _, err := s.await(ctx, op, func(time.Duration) raft.Future { return s.raft.VerifyLeader() }); err != nil {
			return err
		}
		if s.raft.CurrentTerm() == term {
			return nil
		}
		// Leadership was lost and regained meanwhile: the new term needs its own barrier.
	}
}

// IsLeader reports whether this member is the leader now. A leader may have lost its
// majority without knowing yet; use ConsistentRead before acting on state.
func (s *Store) IsLeader() bool { return !s.isClosed() && s.raft.State() == raft.Leader }

// Leader returns the leader's ID and address as this member knows them; empty when no
// leader is known.
func (s *Store) Leader() (id, addr string) {
	a, i := s.raft.LeaderWithID()
	return string(i), string(a)
}

// Snapshot forces a snapshot of the FSM and compacts the log (keeping TrailingLogs
// entries); it works on any member. ErrNothingToSnapshot when the FSM has applied nothing
// yet; a repeated call without new entries writes the same state again.
func (s *Store) Snapshot(ctx context.Context) error {
	_, err := s.await(ctx, "raft snapshot", func(time.Duration) raft.Future { return s.raft.Snapshot() })
	return err
}
