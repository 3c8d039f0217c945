package minihdfs

// ClientProtocol calls of the write path: create, append, addBlock, abandonBlock,
// updateBlockForPipeline, updatePipeline, complete and fsync. Each runs under nameNode.mu.
//
// A new block starts under construction with length 0; the NameNode learns its length when
// the client commits it (addBlock's previous, complete's last), syncs it (fsync with a
// length), or lease recovery ends. That is the length getFileInfo reports, so data hflushed
// into the last block is not in it until then, exactly as with real HDFS.

import (
	"errors"
	"fmt"
)

const (
	createFlagCreate    = 0x01
	createFlagOverwrite = 0x02
	createFlagNewBlock  = 0x20
	maxReplication      = 512
)

func (n *nameNode) create(c *call, req pm) (pm, error) {
	src, holder := req.Str("src"), req.Str("clientName")
	if err := n.checkAccess(c, src, true); err != nil {
		return pm{}, err
	}
	flag := req.Uint("createFlag")
	repl, blockSize := req.Uint("replication"), req.Uint("blockSize")
	switch {
	case repl < 1:
		return pm{}, ioErr("Requested replication factor of %d is less than the required minimum of 1 for %s", repl, src)
	case repl > maxReplication:
		return pm{}, ioErr("Requested replication factor of %d exceeds maximum of %d for %s", repl, maxReplication, src)
	case blockSize < uint64(n.opts.MinBlockSize):
		return pm{}, ioErr("Specified block size is less than configured minimum value (dfs.namenode.fs-limits.min-block-size): %d < %d", blockSize, n.opts.MinBlockSize)
	}
	x, err := n.ns.lookup(src)
	if err != nil {
		return pm{}, err
	}
	switch {
	case x != nil && x.Dir:
		return pm{}, rerr(FileAlreadyExistsException, "%s already exists as a directory", src)
	case x != nil && flag&createFlagOverwrite != 0:
		if err := n.remove(x); err != nil {
			return pm{}, err
		}
	case x != nil:
		if _, err := n.recoverLeaseInternal("CREATE_FILE", x, src, holder, c.machine, false); err != nil {
			return pm{}, err
		}
		return pm{}, rerr(FileAlreadyExistsException, "%s for client %s already exists", src, c.machine)
	case flag&createFlagCreate == 0:
		return pm{}, notFound("Can't overwrite non-existent %s for client %s", src, c.machine)
	}
	var made []*inode
	parent, name, err := n.ns.parentFor(src, req.Bool("createParent"), c.user, &made)
	if err != nil {
		return pm{}, err
	}
	now := nowMillis()
	f := &inode{ID: n.ns.nextInode(), Perm: uint32(req.Msg("masked").Uint("perm")) & 0o7777, Owner: c.user,
		Group: parent.Group, Mtime: now, Atime: now, Repl: uint32(repl), BlockSize: blockSize,
		Holder: holder, Machine: c.machine}
	n.ns.attach(parent, name, f)
	n.addLease(holder, f.ID)
	if err := n.persist(append(made, parent, f), nil); err != nil {
		return pm{}, err
	}
	return hdfsMsg("CreateResponseProto", "fs", n.fileStatus(f, "", false)), nil
}

func (n *nameNode) append(c *call, req pm) (pm, error) {
	src, holder := req.Str("src"), req.Str("clientName")
	if err := n.checkAccess(c, src, true); err != nil {
		return pm{}, err
	}
	x, err := n.ns.lookup(src)
	switch {
	case err != nil:
		return pm{}, err
	case x == nil:
		return pm{}, notFound("Failed to append to non-existent file %s for client %s", src, c.machine)
	case x.Dir:
		return pm{}, notFound("Path is not a file: %s", src)
	}
	if _, err := n.recoverLeaseInternal("APPEND_FILE", x, src, holder, c.machine, false); err != nil {
		return pm{}, err
	}
	resp := hdfsMsg("AppendResponseProto")
	last := x.lastBlock()
	if last != nil && req.Uint("flag")&createFlagNewBlock == 0 && last.Len < x.BlockSize {
		delta := int64(x.BlockSize-last.Len) * int64(x.Repl)
		if err := n.checkQuota(x.parent, delta, nil); err != nil {
			return pm{}, err
		}
		last.State = blockUC
		resp.Set("block", n.locatedBlock(last, last.GS, x.length()-last.Len))
	}
	x.Holder, x.Machine = holder, c.machine
	n.addLease(holder, x.ID)
	if err := n.persist([]*inode{x}, nil); err != nil {
		return pm{}, err
	}
	return resp.Set("stat", n.fileStatus(x, "", false)), nil
}

// checkLease finds the file a write call names (by id when given) and checks that holder has
// it open, with the exceptions real HDFS answers.
func (n *nameNode) checkLease(src string, fileID uint64, holder string) (*inode, error) {
	var x *inode
	if fileID != 0 {
		x = n.ns.byID[fileID]
	} else {
		var err error
		if x, err = n.ns.lookup(src); err != nil {
			return nil, err
		}
	}
	what := func() string {
		s := fmt.Sprintf("%s (inode %d) ", src, fileID)
		if l := n.leases[holder]; l != nil {
			return s + fmt.Sprintf("[Lease.  Holder: %s, pending creates: %d]", holder, len(l.files))
		}
		return s + "Holder " + holder + " does not have any open files."
	}
	switch {
	case x == nil:
		return nil, notFound("File does not exist: %s", what())
	case x.Dir:
		return nil, rerr(LeaseExpiredException, "INode is not a regular file: %s", what())
	case !x.underConstruction():
		return x, rerr(LeaseExpiredException, "File is not open for writing: %s", what())
	case x.Holder != holder:
		return x, rerr(LeaseExpiredException, "Client (=%s) is not the lease owner (=%s: %s", holder, x.Holder, what())
	}
	return x, nil
}

// commitBlock records the length the client gives for b, and completes b when a DataNode
// holds it finalized.
func (n *nameNode) commitBlock(b *blockInfo, eb pm) error {
	if eb.Uint("generationStamp") != b.GS {
		return ioErr("Commit block with mismatching GS. NN has blk_%d_%d, client submits blk_%d_%d",
			b.ID, b.GS, eb.Uint("blockId"), eb.Uint("generationStamp"))
	}
	if b.State == blockUC {
		b.Len, b.State = eb.Uint("numBytes"), blockCommitted
	}
	if b.State == blockCommitted && n.blockDone(b) {
		b.State = blockComplete
	}
	return nil
}

func (n *nameNode) addBlock(c *call, req pm) (pm, error) {
	src, holder := req.Str("src"), req.Str("clientName")
	x, err := n.checkLease(src, req.Uint("fileId"), holder)
	if err != nil {
		return pm{}, err
	}
	prev, last := req.Msg("previous"), x.lastBlock()
	matches := func(b *blockInfo) bool {
		return b != nil && prev.Valid() && prev.Uint("blockId") == b.ID && prev.Uint("generationStamp") == b.GS
	}
	switch {
	case !prev.Valid() && last == nil:
	case matches(last):
		if err := n.commitBlock(last, prev); err != nil {
			return pm{}, err
		}
		if last.State != blockComplete {
			_ = n.persist([]*inode{x}, nil)
			return pm{}, rerr(NotReplicatedYetException, "Not replicated yet: %s", src)
		}
	case !prev.Valid() && last.State == blockComplete && last.Len >= x.BlockSize:
		// the first block after an append that ended exactly at a block boundary
	case len(x.Blocks) >= 2 && matches(x.Blocks[len(x.Blocks)-2]) && last.Len == 0:
		// a retry: the client never got the block handed out before
		return hdfsMsg("AddBlockResponseProto", "block", n.locatedBlock(last, last.GS, x.length())), nil
	default:
		return pm{}, ioErr("Cannot allocate block in %s: passed 'previous' block %v does not match actual last block in file %v",
			src, describeBlock(prev), describeLast(last))
	}
	if err := n.checkQuota(x.parent, int64(x.BlockSize)*int64(x.Repl), nil); err != nil {
		_ = n.persist([]*inode{x}, nil)
		return pm{}, err
	}
	var exclude []string
	for _, e := range req.List("excludeNodes") {
		exclude = append(exclude, e.Msg("id").Str("datanodeUuid"))
	}
	targets := n.chooseTargets(int(x.Repl), exclude)
	if len(targets) == 0 {
		_ = n.persist([]*inode{x}, nil)
		return pm{}, ioErr("File %s could only be written to 0 of the 1 minReplication nodes. There are %d datanode(s) running and %d node(s) are excluded in this operation.",
			src, n.liveDataNodes(), len(exclude))
	}
	offset := x.length()
	b := &blockInfo{ID: n.ns.nextBlock(), GS: n.ns.nextGS(), State: blockUC}
	for _, t := range targets {
		b.Locs = append(b.Locs, t.uuid)
	}
	x.Blocks = append(x.Blocks, b)
	n.ns.byBlock[b.ID] = x
	if err := n.persist([]*inode{x}, nil); err != nil {
		return pm{}, err
	}
	return hdfsMsg("AddBlockResponseProto", "block", n.locatedBlock(b, b.GS, offset)), nil
}

func describeBlock(b pm) string {
	if !b.Valid() {
		return "null"
	}
	return fmt.Sprintf("blk_%d_%d", b.Uint("blockId"), b.Uint("generationStamp"))
}

func describeLast(b *blockInfo) string {
	if b == nil {
		return "null"
	}
	return fmt.Sprintf("blk_%d_%d", b.ID, b.GS)
}

func (n *nameNode) abandonBlock(_ *call, req pm) (pm, error) {
	x, err := n.checkLease(req.Str("src"), req.Uint("fileId"), req.Str("holder"))
	if err != nil {
		return pm{}, err
	}
	resp := hdfsMsg("AbandonBlockResponseProto")
	last := x.lastBlock()
	if last == nil || last.ID != req.Msg("b").Uint("blockId") || last.State != blockUC {
		return resp, nil
	}
	x.Blocks = x.Blocks[:len(x.Blocks)-1]
	delete(n.ns.byBlock, last.ID)
	dns := n.dns
	n.after = append(n.after, func() {
		for _, d := range dns {
			d.removeReplicas([]uint64{last.ID})
		}
	})
	return resp, n.persist([]*inode{x}, nil)
}

// ucBlock finds the block under construction eb names, held by holder.
func (n *nameNode) ucBlock(eb pm, holder string) (*inode, *blockInfo, int, error) {
	id := eb.Uint("blockId")
	x := n.ns.byBlock[id]
	if x != nil {
		for i, b := range x.Blocks {
			if b.ID == id && b.State == blockUC && x.underConstruction() {
				if x.Holder != holder {
					return nil, nil, 0, rerr(LeaseExpiredException, "Client (=%s) is not the lease owner (=%s: %s",
						holder, x.Holder, n.ns.fullPath(x))
				}
				return x, b, i, nil
			}
		}
	}
	return nil, nil, 0, ioErr("%s does not exist or is not under Construction", describeBlock(eb))
}

// updateBlockForPipeline hands out a new generation stamp for a block under construction; the
// block keeps its stamp until updatePipeline reports the pipeline that uses the new one.
func (n *nameNode) updateBlockForPipeline(_ *call, req pm) (pm, error) {
	x, b, i, err := n.ucBlock(req.Msg("block"), req.Str("clientName"))
	if err != nil {
		return pm{}, err
	}
	var offset uint64
	for _, p := range x.Blocks[:i] {
		offset += p.Len
	}
	gs := n.ns.nextGS()
	if err := n.persist(nil, nil); err != nil {
		return pm{}, err
	}
	return hdfsMsg("UpdateBlockForPipelineResponseProto", "block", n.locatedBlock(b, gs, offset)), nil
}

func (n *nameNode) updatePipeline(_ *call, req pm) (pm, error) {
	x, b, _, err := n.ucBlock(req.Msg("oldBlock"), req.Str("clientName"))
	if err != nil {
		return pm{}, err
	}
	nb := req.Msg("newBlock")
	if gs := nb.Uint("generationStamp"); gs <= b.GS || gs > n.ns.Counters.GS {
		return pm{}, ioErr("Update blk_%d_%d to a generation stamp %d that was not handed out for it", b.ID, b.GS, gs)
	}
	b.GS, b.Len = nb.Uint("generationStamp"), nb.Uint("numBytes")
	var locs []string
	for _, d := range req.List("newNodes") {
		locs = append(locs, d.Str("datanodeUuid"))
	}
	b.Locs = locs
	return hdfsMsg("UpdatePipelineResponseProto"), n.persist([]*inode{x}, nil)
}

func (n *nameNode) complete(_ *call, req pm) (pm, error) {
	src, holder, last := req.Str("src"), req.Str("clientName"), req.Msg("last")
	no := hdfsMsg("CompleteResponseProto", "result", false)
	x, err := n.checkLease(src, req.Uint("fileId"), holder)
	var re *remoteError
	if err != nil && errors.As(err, &re) && re.class == LeaseExpiredException && x != nil && !x.underConstruction() {
		// a retry of a complete that closed the file
		if lb := x.lastBlock(); (lb == nil && !last.Valid()) || (lb != nil && last.Valid() && last.Uint("blockId") == lb.ID && last.Uint("generationStamp") == lb.GS) {
			return no.Set("result", true), nil
		}
	}
	if err != nil {
		return pm{}, err
	}
	lb := x.lastBlock()
	if last.Valid() {
		if lb == nil || lb.ID != last.Uint("blockId") {
			return pm{}, ioErr("Trying to commit %s, but the last block of %s is %s", describeBlock(last), src, describeLast(lb))
		}
		if err := n.commitBlock(lb, last); err != nil {
			return pm{}, err
		}
	}
	done := true
	for _, b := range x.Blocks {
		if b.State == blockCommitted && n.blockDone(b) {
			b.State = blockComplete
		}
		done = done && b.State == blockComplete
	}
	if !done || n.faults.takeCompleteFalse() {
		return no, n.persist([]*inode{x}, nil)
	}
	n.finalizeFile(x)
	if err := n.persist([]*inode{x}, nil); err != nil {
		return pm{}, err
	}
	return no.Set("result", true), nil
}

// fsync with a length records it as the last block's length (hflush/hsync with
// UPDATE_LENGTH): from then on getFileInfo counts it.
func (n *nameNode) fsync(_ *call, req pm) (pm, error) {
	x, err := n.checkLease(req.Str("src"), req.Uint("fileId"), req.Str("client"))
	if err != nil {
		return pm{}, err
	}
	resp := hdfsMsg("FsyncResponseProto")
	if l := req.Int("lastBlockLength"); l > 0 {
		if b := x.lastBlock(); b != nil && b.State == blockUC {
			b.Len = uint64(l)
			return resp, n.persist([]*inode{x}, nil)
		}
	}
	return resp, nil
}
