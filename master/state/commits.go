package state

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// CommitRetention is how long a commit record is kept when its agent never releases it (an
// agent decommissioned with chunks in flight): a backstop, measured in command time.
const CommitRetention = 24 * 60 * 60 * 1e9

// The data-plane operations: the end-to-end commit records, agent epochs and the committed
// lengths of collector files (DESIGN.md §6.1). They are frequent, so they are not kept in the
// command history and do not retranslate configurations.
var dataOps = map[string]func(s *State, cmd *flumev1.Command, rec *flumev1.CommandRecord) error{
	"commit_chunks":  (*State).commitChunks,
	"new_epoch":      (*State).newEpoch,
	"release_chunks": (*State).releaseChunks,
	"finish_files":   (*State).finishFiles,
}

// IsDataOp reports whether cmd is a data-plane operation: one that changes no configuration,
// mapping or membership and is not kept in the history.
func IsDataOp(cmd *flumev1.Command) bool {
	_, ok := dataOps[opName(cmd)]
	return ok
}

// agentState is what the masters know of one agent.
type agentState struct {
	epoch  uint64                   // the current epoch
	epochs map[uint64]*epochCommits // commit records per epoch
}

// epochCommits are the commit records of one agent epoch.
type epochCommits struct {
	releasedThrough uint64                  // every chunk up to it is committed and released
	committed       map[commitKey]commitRec // chunk and sink place -> its commit, above releasedThrough
}

// commitKey names a chunk's commit by one collector sink: the chunk, and the sink's place in
// its collector's flow (SplitCollector), empty for a collector's only sink. A chunk commits once
// per place: a collector whose flow fans out to two sinks commits it once for each, and a copy
// sent to another collector with the same flow is a duplicate at each place. File lengths stay
// the physical node's.
type commitKey struct {
	seq   uint64
	place string
}

// commitRec is one chunk's commit.
type commitRec struct {
	at int64  // when, in command time
	by string // the collector
	fp uint64 // fingerprint of the commit: collector, files and lengths
}

// SplitCollector splits the collector of a commit into the physical node whose collector
// commits and the place in its flow of the collector sink that commits: "NAME" is a
// collector's only sink (place empty), "NAME/PLACE" one sink of several, PLACE being "sink" or
// starting with "sink." ("c1/sink.fanout1"). Any other slash belongs to the node's name.
func SplitCollector(collector string) (physical, place string) {
	i := strings.LastIndexByte(collector, '/')
	if i < 0 {
		return collector, ""
	}
	if p := collector[i+1:]; p == "sink" || strings.HasPrefix(p, "sink.") {
		return collector[:i], p
	}
	return collector, ""
}

// fingerprint identifies one commit of a chunk: the same collector asking again with the same
// files and lengths is retrying a commit whose answer it lost.
func fingerprint(collector string, ch *flumev1.ChunkCommit) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(collector))
	for _, f := range ch.GetFiles() {
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(f.GetFile()))
		_ = binary.Write(h, binary.LittleEndian, f.GetLength())
	}
	return h.Sum64()
}

func (e *epochCommits) has(k commitKey) bool {
	if k.seq <= e.releasedThrough {
		return true
	}
	_, ok := e.committed[k]
	return ok
}

func (s *State) agent(name string) *agentState {
	a := s.agents[name]
	if a == nil {
		a = &agentState{epochs: make(map[uint64]*epochCommits)}
		s.agents[name] = a
	}
	return a
}

func (a *agentState) records(epoch uint64) *epochCommits {
	e := a.epochs[epoch]
	if e == nil {
		e = &epochCommits{committed: make(map[commitKey]commitRec)}
		a.epochs[epoch] = e
	}
	return e
}

// commitChunks commits chunks in order and stops at the first one committed already.
func (s *State) commitChunks(cmd *flumev1.Command, rec *flumev1.CommandRecord) error {
	c := cmd.GetCommitChunks()
	if c.GetCollector() == "" {
		return fmt.Errorf("a commit names no collector")
	}
	for _, ch := range c.GetChunks() {
		if ch.GetAgent() != "" && ch.GetSeq() == 0 {
			return fmt.Errorf("chunk of agent %s epoch %d has sequence number 0", ch.GetAgent(), ch.GetEpoch())
		}
	}
	res := &flumev1.CommitResult{}
	rec.CommitResult = res
	physical, place := SplitCollector(c.GetCollector())
	for _, ch := range c.GetChunks() {
		if ch.GetAgent() != "" {
			if a := s.agents[ch.GetAgent()]; a != nil && ch.GetEpoch() < a.epoch {
				res.Stale = true
				return nil
			}
			fp := fingerprint(c.GetCollector(), ch)
			e := s.agent(ch.GetAgent()).records(ch.GetEpoch())
			k := commitKey{ch.GetSeq(), place}
			// A chunk a collector's only sink committed is in: a sink of a fan-out (after a
			// failover to a collector whose flow fans out, or after an upgrade from when
			// every sink committed as its collector) takes its copy for a duplicate.
			if e.has(k) || place != "" && e.has(commitKey{seq: ch.GetSeq()}) {
				if r, ok := e.committed[k]; !ok || r.by != c.GetCollector() || r.fp != fp {
					res.Duplicate = true
					return nil
				}
			}
			e.committed[k] = commitRec{at: cmd.GetTime(), by: c.GetCollector(), fp: fp}
		}
		for _, f := range ch.GetFiles() {
			files := s.files[physical]
			if files == nil {
				files = make(map[string]int64)
				s.files[physical] = files
			}
			files[f.GetFile()] = f.GetLength()
		}
		res.Committed++
	}
	return nil
}

// newEpoch gives an agent its next epoch and forgets the records of its older epochs: an agent
// that lost its log cannot send their chunks again.
func (s *State) newEpoch(cmd *flumev1.Command, rec *flumev1.CommandRecord) error {
	name := cmd.GetNewEpoch().GetAgent()
	if name == "" {
		return fmt.Errorf("a new epoch names no agent")
	}
	a := s.agent(name)
	a.epoch++
	for e := range a.epochs {
		if e < a.epoch-1 {
			delete(a.epochs, e)
		}
	}
	rec.Epoch = a.epoch
	return nil
}

// releaseChunks forgets commit records an agent released, and records older than
// CommitRetention.
func (s *State) releaseChunks(cmd *flumev1.Command, _ *flumev1.CommandRecord) error {
	r := cmd.GetReleaseChunks()
	if r.GetAgent() == "" {
		return fmt.Errorf("a release names no agent")
	}
	e := s.agent(r.GetAgent()).records(r.GetEpoch())
	if r.GetThrough() > e.releasedThrough {
		e.releasedThrough = r.GetThrough()
	}
	for k, r := range e.committed {
		if k.seq <= e.releasedThrough || cmd.GetTime()-r.at > CommitRetention {
			delete(e.committed, k)
		}
	}
	return nil
}

// finishFiles forgets the lengths of files a collector finished.
func (s *State) finishFiles(cmd *flumev1.Command, _ *flumev1.CommandRecord) error {
	f := cmd.GetFinishFiles()
	physical, _ := SplitCollector(f.GetCollector())
	files := s.files[physical]
	for _, name := range f.GetFiles() {
		delete(files, name)
	}
	if len(files) == 0 {
		delete(s.files, physical)
	}
	return nil
}

// Epoch returns an agent's current epoch, 0 if it never asked for one.
func (s *State) Epoch(agent string) uint64 {
	if a := s.agents[agent]; a != nil {
		return a.epoch
	}
	return 0
}

// Committed returns which of seqs are committed (or released) for an agent epoch, in the
// order given. A chunk counts as committed once a collector's only sink committed it: the
// sinks of a fan-out each commit it on their own, and one of them having it says nothing of
// the others, so such a chunk counts only once released.
func (s *State) Committed(agent string, epoch uint64, seqs []uint64) []uint64 {
	a := s.agents[agent]
	if a == nil {
		return nil
	}
	e := a.epochs[epoch]
	if e == nil {
		return nil
	}
	var out []uint64
	for _, seq := range seqs {
		if e.has(commitKey{seq: seq}) {
			out = append(out, seq)
		}
	}
	return out
}

// FileLengths returns the committed lengths of a collector's unfinished files, sorted by path.
// The lengths are the physical node's, whichever of its collector sinks asks: file names are
// paths, each written by one sink, and a sink recovering the files under its directory may
// find those of another sink of the same collector.
func (s *State) FileLengths(collector string) []*flumev1.FileLength {
	physical, _ := SplitCollector(collector)
	files := s.files[physical]
	out := make([]*flumev1.FileLength, 0, len(files))
	for _, f := range slices.Sorted(maps.Keys(files)) {
		out = append(out, &flumev1.FileLength{File: f, Length: files[f]})
	}
	return out
}

// commitsToProto adds the data-plane records to a snapshot.
func (s *State) commitsToProto(m *flumev1.MasterState) {
	for _, name := range slices.Sorted(maps.Keys(s.agents)) {
		a := s.agents[name]
		if a.epoch > 0 {
			m.Epochs = append(m.Epochs, &flumev1.AgentEpoch{Agent: name, Epoch: a.epoch})
		}
		for _, ep := range slices.Sorted(maps.Keys(a.epochs)) {
			e := a.epochs[ep]
			ac := &flumev1.AgentCommits{Agent: name, Epoch: ep, ReleasedThrough: e.releasedThrough}
			keys := slices.SortedFunc(maps.Keys(e.committed), func(a, b commitKey) int {
				return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(a.place, b.place))
			})
			for _, k := range keys {
				r := e.committed[k]
				ac.Committed = append(ac.Committed, k.seq)
				ac.CommittedAt = append(ac.CommittedAt, r.at)
				ac.CommittedBy = append(ac.CommittedBy, r.by)
				ac.Fingerprints = append(ac.Fingerprints, r.fp)
			}
			m.Commits = append(m.Commits, ac)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(s.files)) {
		m.Files = append(m.Files, &flumev1.CollectorFiles{Collector: c, Files: s.FileLengths(c)})
	}
}

// commitsFromProto restores the data-plane records of a snapshot.
func (s *State) commitsFromProto(m *flumev1.MasterState) error {
	for _, e := range m.GetEpochs() {
		s.agent(e.GetAgent()).epoch = e.GetEpoch()
	}
	for _, ac := range m.GetCommits() {
		n := len(ac.GetCommitted())
		if len(ac.GetCommittedAt()) != n || len(ac.GetCommittedBy()) != n || len(ac.GetFingerprints()) != n {
			return fmt.Errorf("master state: commit records of agent %s epoch %d have %d chunks, %d times, %d collectors, %d fingerprints",
				ac.GetAgent(), ac.GetEpoch(), n, len(ac.GetCommittedAt()), len(ac.GetCommittedBy()), len(ac.GetFingerprints()))
		}
		e := s.agent(ac.GetAgent()).records(ac.GetEpoch())
		e.releasedThrough = ac.GetReleasedThrough()
		for i, seq := range ac.GetCommitted() {
			_, place := SplitCollector(ac.GetCommittedBy()[i])
			e.committed[commitKey{seq, place}] = commitRec{at: ac.GetCommittedAt()[i], by: ac.GetCommittedBy()[i], fp: ac.GetFingerprints()[i]}
		}
	}
	for _, cf := range m.GetFiles() {
		files := make(map[string]int64, len(cf.GetFiles()))
		for _, f := range cf.GetFiles() {
			files[f.GetFile()] = f.GetLength()
		}
		s.files[cf.GetCollector()] = files
	}
	return nil
}

// masters: the directory of masters that joined or left at run time.

func (s *State) addMaster(cmd *flumev1.Command) (string, error) {
	m := cmd.GetAddMaster().GetMaster()
	if m.GetId() == "" || m.GetRaft() == "" || m.GetAdmin() == "" {
		return "", fmt.Errorf("a master needs an id, a raft address and an admin address")
	}
	for id, other := range s.masters {
		if id != m.GetId() && (other.GetRaft() == m.GetRaft() || other.GetAdmin() == m.GetAdmin()) {
			return "", fmt.Errorf("master %s already uses address %s", id, cmp.Or(other.GetAdmin(), other.GetRaft()))
		}
	}
	s.masters[m.GetId()] = &flumev1.MasterAddress{Id: m.GetId(), Raft: m.GetRaft(), Admin: m.GetAdmin(), Node: m.GetNode()}
	delete(s.removedMasters, m.GetId())
	return "", nil
}

func (s *State) removeMaster(cmd *flumev1.Command) (string, error) {
	id := cmd.GetRemoveMaster().GetId()
	if id == "" {
		return "", fmt.Errorf("no master id given")
	}
	delete(s.masters, id)
	s.removedMasters[id] = struct{}{}
	return "", nil
}

// Masters returns the masters that joined at run time, sorted by id, and the ids of masters
// removed at run time.
func (s *State) Masters() (joined []*flumev1.MasterAddress, removed []string) {
	for _, id := range slices.Sorted(maps.Keys(s.masters)) {
		m := s.masters[id]
		joined = append(joined, &flumev1.MasterAddress{Id: m.GetId(), Raft: m.GetRaft(), Admin: m.GetAdmin(), Node: m.GetNode()})
	}
	return joined, slices.Sorted(maps.Keys(s.removedMasters))
}
