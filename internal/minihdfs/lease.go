package minihdfs

// Leases, as a real NameNode keeps them. A file under construction belongs to the client name
// that created or appended it; renewLease renews every file of that holder at once.
//
//   - Another client's create or append on a file under construction gets
//     AlreadyBeingCreatedException while the holder renews within the soft limit.
//   - Past the soft limit the same call starts lease recovery and gets
//     RecoveryInProgressException; recoverLease starts it at once, whatever the limit.
//   - Past the hard limit the lease monitor starts recovery by itself.
//
// Recovery closes a file at once when its last block is complete (or committed and held
// finalized by a DataNode), and drops an empty last block no DataNode was given. Otherwise
// the lease passes to the NameNode ("HDFS_NameNode-<ms>", or the caller of recoverLease), the
// last block gets a recovery id (a new generation stamp), and the monitor, outside the
// NameNode lock, asks the block's live DataNodes to stop any writer and report their replicas,
// cuts them all to the shortest length, finalizes them under the new generation stamp, sets
// the block to that length and closes the file. While no DataNode of the block is up the
// recovery waits and is tried again on each monitor run.

import (
	"fmt"
	"slices"
	"time"
)

type lease struct {
	holder  string
	renewed time.Time
	files   map[uint64]struct{}
}

func (n *nameNode) addLease(holder string, id uint64) {
	l := n.leases[holder]
	if l == nil {
		l = &lease{holder: holder, files: map[uint64]struct{}{}}
		n.leases[holder] = l
	}
	l.renewed = time.Now()
	l.files[id] = struct{}{}
}

func (n *nameNode) removeLease(holder string, id uint64) {
	if l := n.leases[holder]; l != nil {
		delete(l.files, id)
		if len(l.files) == 0 {
			delete(n.leases, holder)
		}
	}
}

func (l *lease) expired(limit time.Duration) bool { return time.Since(l.renewed) > limit }

// finalizeFile closes x: no holder, no lease, every block complete.
func (n *nameNode) finalizeFile(x *inode) {
	n.removeLease(x.Holder, x.ID)
	x.Holder, x.Machine = "", ""
	for _, b := range x.Blocks {
		b.State, b.recoveryID = blockComplete, 0
	}
	x.Mtime = nowMillis()
}

// blockDone reports whether a DataNode meant to hold b has it finalized at its length.
func (n *nameNode) blockDone(b *blockInfo) bool {
	for _, uuid := range b.Locs {
		if d := n.dataNode(uuid); d != nil {
			if r, ok := d.replica(b.ID); ok && r.Finalized && r.GS >= b.GS && r.Length == int64(b.Len) {
				return true
			}
		}
	}
	return false
}

// recoverLeaseInternal decides what a create, append (force false) or recoverLease (force
// true) by holder finds on file x: nil when the file is closed or closed now, otherwise the
// exception real HDFS answers.
func (n *nameNode) recoverLeaseInternal(op string, x *inode, src, holder, machine string, force bool) (closed bool, err error) {
	if !x.underConstruction() {
		return true, nil
	}
	failed := func(class, reason string) error {
		return rerr(class, "Failed to %s %s for %s on %s because %s", op, src, holder, machine, reason)
	}
	if !force && x.Holder == holder {
		return false, failed(AlreadyBeingCreatedException, holder+" is already the current lease holder.")
	}
	l := n.leases[x.Holder]
	if l == nil {
		return false, failed(AlreadyBeingCreatedException, "the file is under construction but no leases found.")
	}
	if force {
		return n.releaseLease(x, holder)
	}
	if l.expired(n.opts.SoftLease) {
		n.log.Info("namenode: soft lease limit passed, recovering", "path", src, "holder", x.Holder, "by", holder)
		closed, err := n.releaseLease(x, "")
		if err != nil || closed {
			return closed, err
		}
		return false, failed(RecoveryInProgressException, "lease recovery is in progress. Try again later.")
	}
	if last := x.lastBlock(); last != nil && last.recoveryID != 0 {
		return false, failed(RecoveryInProgressException, fmt.Sprintf("another recovery is in progress by %s on %s", x.Holder, x.Machine))
	}
	return false, failed(AlreadyBeingCreatedException, fmt.Sprintf("this file lease is currently owned by %s on %s", x.Holder, x.Machine))
}

// releaseLease closes x if it can be closed now, or starts recovery of its last block with the
// lease passed to newHolder ("" for the NameNode itself). It reports whether x is closed.
func (n *nameNode) releaseLease(x *inode, newHolder string) (bool, error) {
	for _, b := range x.Blocks[:max(len(x.Blocks)-1, 0)] {
		if b.State == blockCommitted && n.blockDone(b) {
			b.State = blockComplete
		}
		if b.State != blockComplete {
			return false, rerr(AlreadyBeingCreatedException, "Failed to release lease on %s: committed blocks are waiting to be minimally replicated. Try again later.", n.ns.fullPath(x))
		}
	}
	last := x.lastBlock()
	switch {
	case last == nil || last.State == blockComplete:
	case last.State == blockCommitted:
		if !n.blockDone(last) {
			return false, rerr(AlreadyBeingCreatedException, "Committed blocks are waiting to be minimally replicated. Try again later.")
		}
	case len(last.Locs) == 0 && last.Len == 0:
		delete(n.ns.byBlock, last.ID)
		x.Blocks = x.Blocks[:len(x.Blocks)-1]
	default:
		last.recoveryID = n.ns.nextGS()
		if newHolder == "" {
			newHolder = fmt.Sprintf("HDFS_NameNode-%d", time.Now().UnixMilli())
		}
		n.removeLease(x.Holder, x.ID)
		x.Holder = newHolder
		n.addLease(newHolder, x.ID)
		if err := n.persist([]*inode{x}, nil); err != nil {
			return false, err
		}
		n.kickMonitor()
		return false, nil
	}
	n.finalizeFile(x)
	return true, n.persist([]*inode{x}, nil)
}

// checkHardLimit starts recovery of every file whose holder passed the hard limit.
func (n *nameNode) checkHardLimit() {
	var expired []*lease
	for _, l := range n.leases {
		if l.expired(n.opts.HardLease) {
			expired = append(expired, l)
		}
	}
	for _, l := range expired {
		for id := range l.files {
			x := n.ns.byID[id]
			if x == nil || !x.underConstruction() {
				n.removeLease(l.holder, id)
				continue
			}
			if last := x.lastBlock(); last != nil && last.recoveryID != 0 && x.Holder == l.holder {
				l.renewed = time.Now() // still recovering; try again at the next limit
				continue
			}
			n.log.Info("namenode: hard lease limit passed, recovering", "path", n.ns.fullPath(x), "holder", l.holder)
			if _, err := n.releaseLease(x, ""); err != nil {
				n.log.Info("namenode: lease recovery", "path", n.ns.fullPath(x), "err", err)
			}
		}
	}
}

// recoveryJob is a block recovery for the monitor to run outside the lock.
type recoveryJob struct {
	file       uint64
	block      uint64
	gs         uint64
	recoveryID uint64
	locs       []string
}

func (n *nameNode) pendingRecoveries() []recoveryJob {
	var jobs []recoveryJob
	for _, l := range n.leases {
		for id := range l.files {
			x := n.ns.byID[id]
			if x == nil {
				continue
			}
			if b := x.lastBlock(); b != nil && b.recoveryID != 0 {
				jobs = append(jobs, recoveryJob{file: x.ID, block: b.ID, gs: b.GS, recoveryID: b.recoveryID,
					locs: slices.Clone(b.Locs)})
			}
		}
	}
	return jobs
}

// runRecovery does the DataNodes' part of a block recovery, then commits it.
func (n *nameNode) runRecovery(j recoveryJob) {
	type held struct {
		d    *DataNode
		info replicaInfo
	}
	var found []held
	reachable := 0
	for _, uuid := range j.locs {
		d := n.dataNode(uuid)
		if d == nil {
			continue
		}
		info, ok, err := d.recoverReplica(j.block)
		if err != nil {
			continue
		}
		reachable++
		if ok && info.GS >= j.gs && info.Length > 0 {
			found = append(found, held{d, info})
		}
	}
	if reachable == 0 && len(j.locs) > 0 {
		n.log.Info("namenode: block recovery waits for a datanode", "block", j.block)
		return
	}
	length := int64(-1)
	for _, h := range found {
		if length < 0 || h.info.Length < length {
			length = h.info.Length
		}
	}
	var kept []string
	for _, h := range found {
		if err := h.d.commitRecovery(j.block, j.recoveryID, length); err != nil {
			n.log.Warn("namenode: block recovery on a datanode failed", "block", j.block, "datanode", h.d.index, "err", err)
			continue
		}
		kept = append(kept, h.d.uuid)
	}
	if len(found) > 0 && len(kept) == 0 {
		return
	}
	n.mu.Lock()
	dropped := n.commitBlockSync(j, length, kept)
	n.mu.Unlock()
	if dropped {
		for _, d := range n.dns {
			d.removeReplicas([]uint64{j.block})
		}
	}
}

// commitBlockSync ends a recovery: the last block takes the recovered length, generation
// stamp and replicas, or goes when no DataNode that answered had data of it (reported as
// dropped), and the file is closed.
func (n *nameNode) commitBlockSync(j recoveryJob, length int64, kept []string) (dropped bool) {
	x := n.ns.byID[j.file]
	if x == nil || !x.underConstruction() {
		return false
	}
	b := x.lastBlock()
	if b == nil || b.ID != j.block || b.recoveryID != j.recoveryID {
		return false
	}
	if dropped = len(kept) == 0; dropped {
		delete(n.ns.byBlock, b.ID)
		x.Blocks = x.Blocks[:len(x.Blocks)-1]
	} else {
		b.Len, b.GS, b.Locs = uint64(length), j.recoveryID, kept
	}
	path := n.ns.fullPath(x)
	n.finalizeFile(x)
	if err := n.persist([]*inode{x}, nil); err != nil {
		return dropped
	}
	n.log.Info("namenode: lease recovery closed the file", "path", path, "length", x.length())
	return dropped
}

// Lease is an open file's lease as the NameNode holds it.
type Lease struct {
	Holder      string    // the client name (or HDFS_NameNode-... during recovery)
	Path        string    // the file under construction
	LastRenewed time.Time // when the holder last renewed
	Recovering  bool      // block recovery of the last block is under way
}
