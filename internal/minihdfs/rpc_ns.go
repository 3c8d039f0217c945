package minihdfs

// ClientProtocol calls on the namespace: lookups, listings, mkdirs, delete, rename and the
// attribute setters. Each runs under nameNode.mu (see dispatch).

import (
	"bytes"
	"math"
	"sort"
	"strings"
	"time"
)

const quotaDontSet = math.MaxInt64 // HdfsConstants.QUOTA_DONT_SET

func (n *nameNode) getServerDefaults(*call, pm) (pm, error) {
	d := hdfsMsg("FsServerDefaultsProto", "blockSize", n.opts.BlockSize, "bytesPerChecksum", chunkSize,
		"writePacketSize", maxPacketData, "replication", n.opts.Replication, "fileBufferSize", 4096,
		"encryptDataTransfer", false, "trashInterval", 0, "checksumType", "CHECKSUM_CRC32C")
	return hdfsMsg("GetServerDefaultsResponseProto", "serverDefaults", d), nil
}

// resolve checks that the caller may read (or, with write, change) src, and looks it up: nil
// when nothing is there.
func (n *nameNode) resolve(c *call, src string, write bool) (*inode, error) {
	if err := n.checkAccess(c, src, write); err != nil {
		return nil, err
	}
	return n.ns.lookup(src)
}

func (n *nameNode) getFileInfo(c *call, req pm) (pm, error) {
	src := req.Str("src")
	resp := hdfsMsg("GetFileInfoResponseProto")
	x, err := n.resolve(c, src, false)
	if err != nil {
		return pm{}, err
	}
	if x != nil {
		resp.Set("fs", n.fileStatus(x, "", false))
	}
	return resp, nil
}

func (n *nameNode) getListing(c *call, req pm) (pm, error) {
	src := req.Str("src")
	resp := hdfsMsg("GetListingResponseProto")
	x, err := n.resolve(c, src, false)
	if err != nil || x == nil {
		return resp, err
	}
	withLocs := req.Bool("needLocation")
	if !x.Dir {
		return resp.Set("dirList", hdfsMsg("DirectoryListingProto",
			"partialListing", []pm{n.fileStatus(x, "", withLocs)}, "remainingEntries", 0)), nil
	}
	kids := x.sortedChildren()
	after := req.Bytes("startAfter")
	i := sort.Search(len(kids), func(i int) bool { return bytes.Compare([]byte(kids[i].Name), after) > 0 })
	end := min(i+n.opts.ListLimit, len(kids))
	var list []pm
	for _, k := range kids[i:end] {
		list = append(list, n.fileStatus(k, k.Name, withLocs))
	}
	return resp.Set("dirList", hdfsMsg("DirectoryListingProto",
		"partialListing", list, "remainingEntries", len(kids)-end)), nil
}

func (n *nameNode) getBlockLocations(c *call, req pm) (pm, error) {
	src := req.Str("src")
	if err := n.checkAccess(c, src, false); err != nil {
		return pm{}, err
	}
	x, err := n.lookupFile(src)
	if err != nil {
		return pm{}, err
	}
	x.Atime = nowMillis()
	return hdfsMsg("GetBlockLocationsResponseProto",
		"locations", n.locatedBlocks(x, req.Uint("offset"), req.Uint("length"))), nil
}

func (n *nameNode) getContentSummary(c *call, req pm) (pm, error) {
	src := req.Str("path")
	x, err := n.resolve(c, src, false)
	if err != nil {
		return pm{}, err
	}
	if x == nil {
		return pm{}, notFound("File does not exist: %s", src)
	}
	var length, files, dirs uint64
	var walk func(*inode)
	walk = func(y *inode) {
		if y.Dir {
			dirs++
			for _, k := range y.children {
				walk(k)
			}
			return
		}
		files++
		length += y.length()
	}
	walk(x)
	spaceQuota := int64(-1)
	if x.Quota > 0 {
		spaceQuota = x.Quota
	}
	return hdfsMsg("GetContentSummaryResponseProto", "summary", hdfsMsg("ContentSummaryProto",
		"length", length, "fileCount", files, "directoryCount", dirs, "quota", int64(-1),
		"spaceConsumed", x.spaceConsumed(), "spaceQuota", spaceQuota)), nil
}

func (n *nameNode) getFsStats(*call, pm) (pm, error) {
	used := uint64(n.ns.root.spaceConsumed())
	capacity := uint64(len(n.dns)) << 40
	return hdfsMsg("GetFsStatsResponseProto", "capacity", capacity, "used", used,
		"remaining", capacity-min(used, capacity), "under_replicated", 0, "corrupt_blocks", 0,
		"missing_blocks", 0), nil
}

func (n *nameNode) mkdirs(c *call, req pm) (pm, error) {
	src := req.Str("src")
	x, err := n.resolve(c, src, true)
	if err != nil {
		return pm{}, err
	}
	resp := hdfsMsg("MkdirsResponseProto", "result", true)
	if x != nil {
		if !x.Dir {
			return pm{}, rerr(FileAlreadyExistsException, "Path is not a directory: %s", src)
		}
		return resp, nil
	}
	var made []*inode
	parent, name, err := n.ns.parentFor(src, req.Bool("createParent"), c.user, &made)
	if err != nil {
		return pm{}, err
	}
	d := n.ns.mkdir(parent, name, uint32(req.Msg("masked").Uint("perm")), c.user)
	made = append(made, d)
	return resp, n.persist(append(made, parent), nil)
}

func (n *nameNode) delete(c *call, req pm) (pm, error) {
	src := req.Str("src")
	x, err := n.resolve(c, src, true)
	if err != nil {
		return pm{}, err
	}
	resp := hdfsMsg("DeleteResponseProto", "result", false)
	if x == nil || x == n.ns.root {
		return resp, nil
	}
	if x.Dir && len(x.children) > 0 && !req.Bool("recursive") {
		return pm{}, rerr(PathIsNotEmptyDirectoryException, "`%s is non empty': Directory is not empty", src)
	}
	parent := x.parent
	if err := n.remove(x); err != nil {
		return pm{}, err
	}
	if err := n.persist([]*inode{parent}, nil); err != nil {
		return pm{}, err
	}
	return resp.Set("result", true), nil
}

// remove takes x and everything under it out of the namespace, drops their leases, logs it,
// and queues the deletion of their replicas.
func (n *nameNode) remove(x *inode) error {
	gone := n.ns.detach(x)
	ids := make([]uint64, 0, len(gone))
	var blocks []uint64
	for _, g := range gone {
		ids = append(ids, g.ID)
		if g.underConstruction() {
			n.removeLease(g.Holder, g.ID)
		}
		for _, b := range g.Blocks {
			blocks = append(blocks, b.ID)
		}
	}
	if len(blocks) > 0 {
		dns := n.dns
		n.after = append(n.after, func() {
			for _, d := range dns {
				d.removeReplicas(blocks)
			}
		})
	}
	return n.persist(nil, ids)
}

// rename2 moves src to dst as FileSystem.rename(src, dst, options) does: the parent of dst
// must exist, and an existing dst is replaced only with overwriteDest (and only by the same
// kind: a file by a file, a directory by a directory, which must be empty).
func (n *nameNode) rename2(c *call, req pm) (pm, error) {
	src, dst := req.Str("src"), req.Str("dst")
	if err := n.checkRename(c, src, dst); err != nil {
		return pm{}, err
	}
	x, err := n.ns.lookup(src)
	if err != nil {
		return pm{}, err
	}
	if x == nil {
		return pm{}, notFound("rename source %s is not found.", src)
	}
	if x == n.ns.root {
		return pm{}, ioErr("rename source / is the root")
	}
	if strings.TrimSuffix(src, "/") == strings.TrimSuffix(dst, "/") {
		return pm{}, rerr(FileAlreadyExistsException, "The source %s and destination %s are the same", src, dst)
	}
	parent, name, err := n.dstParent(dst)
	if err != nil {
		return pm{}, err
	}
	if isUnder(parent, x) {
		return pm{}, ioErr("Rename destination %s is a directory or file under source %s", dst, src)
	}
	if old := parent.children[name]; old != nil {
		switch {
		case !req.Bool("overwriteDest"):
			return pm{}, rerr(FileAlreadyExistsException, "rename destination %s already exists", dst)
		case old.Dir != x.Dir && old.Dir:
			return pm{}, ioErr("Source %s and destination %s must both be directories", src, dst)
		case old.Dir != x.Dir:
			return pm{}, ioErr("Source %s and destination %s must both be files", src, dst)
		case old.Dir && len(old.children) > 0:
			return pm{}, ioErr("rename destination directory is not empty: %s", dst)
		}
		if err := n.checkQuota(parent, x.spaceConsumed()-old.spaceConsumed(), x.parent); err != nil {
			return pm{}, err
		}
		if err := n.remove(old); err != nil {
			return pm{}, err
		}
	} else if err := n.checkQuota(parent, x.spaceConsumed(), x.parent); err != nil {
		return pm{}, err
	}
	from := x.parent
	n.ns.move(x, parent, name)
	return hdfsMsg("Rename2ResponseProto"), n.persist([]*inode{x, from, parent}, nil)
}

// rename is the old rename: false instead of most errors, and a dst that is a directory
// receives src inside it.
func (n *nameNode) rename(c *call, req pm) (pm, error) {
	src, dst := req.Str("src"), req.Str("dst")
	no := hdfsMsg("RenameResponseProto", "result", false)
	if err := n.checkRename(c, src, dst); err != nil {
		return pm{}, err
	}
	x, err := n.ns.lookup(src)
	if err != nil || x == nil || x == n.ns.root {
		return no, err
	}
	if d, _ := n.ns.lookup(dst); d != nil && d.Dir {
		dst = strings.TrimSuffix(dst, "/") + "/" + x.Name
	}
	parent, name, err := n.dstParent(dst)
	if err != nil || parent.children[name] != nil || isUnder(parent, x) {
		return no, nil
	}
	if err := n.checkQuota(parent, x.spaceConsumed(), x.parent); err != nil {
		return pm{}, err
	}
	from := x.parent
	n.ns.move(x, parent, name)
	return no.Set("result", true), n.persist([]*inode{x, from, parent}, nil)
}

func (n *nameNode) checkRename(c *call, src, dst string) error {
	if err := n.checkAccess(c, src, true); err != nil {
		return err
	}
	return n.checkAccess(c, dst, true)
}

// dstParent resolves the directory a rename destination goes into.
func (n *nameNode) dstParent(dst string) (*inode, string, error) {
	comps, err := splitPath(dst)
	if err != nil {
		return nil, "", err
	}
	if len(comps) == 0 {
		return nil, "", ioErr("rename destination / is the root")
	}
	if err := checkNewPath(dst); err != nil {
		return nil, "", err
	}
	parentPath := "/" + strings.Join(comps[:len(comps)-1], "/")
	if err := checkComponent(parentPath, comps[len(comps)-1]); err != nil {
		return nil, "", err
	}
	p, err := n.ns.lookup(parentPath)
	switch {
	case err != nil:
		return nil, "", err
	case p == nil:
		return nil, "", notFound("rename destination parent %s not found.", parentPath)
	case !p.Dir:
		return nil, "", rerr(ParentNotDirectoryException, "rename destination parent %s is a file.", parentPath)
	}
	return p, comps[len(comps)-1], nil
}

// checkQuota refuses adding delta bytes under dir when a directory on the way up (below the
// common ancestor with from, which already counts them) would pass its space quota.
func (n *nameNode) checkQuota(dir *inode, delta int64, from *inode) error {
	if delta <= 0 {
		return nil
	}
	for d := dir; d != nil; d = d.parent {
		if from != nil && isUnder(from, d) {
			return nil
		}
		if d.Quota > 0 {
			if used := d.spaceConsumed(); used+delta > d.Quota {
				return rerr(DSQuotaExceededException,
					"The DiskSpace quota of %s is exceeded: quota = %d B but diskspace consumed = %d B",
					n.ns.fullPath(d), d.Quota, used+delta)
			}
		}
	}
	return nil
}

// setAttr runs set on the inode at src and logs it.
func (n *nameNode) setAttr(c *call, src, resp string, set func(*inode)) (pm, error) {
	x, err := n.resolve(c, src, true)
	if err != nil {
		return pm{}, err
	}
	if x == nil {
		return pm{}, notFound("File does not exist: %s", src)
	}
	set(x)
	return hdfsMsg(resp), n.persist([]*inode{x}, nil)
}

func (n *nameNode) setPermission(c *call, req pm) (pm, error) {
	perm := uint32(req.Msg("permission").Uint("perm")) & 0o7777
	return n.setAttr(c, req.Str("src"), "SetPermissionResponseProto", func(x *inode) { x.Perm = perm })
}

func (n *nameNode) setOwner(c *call, req pm) (pm, error) {
	return n.setAttr(c, req.Str("src"), "SetOwnerResponseProto", func(x *inode) {
		if req.Has("username") {
			x.Owner = req.Str("username")
		}
		if req.Has("groupname") {
			x.Group = req.Str("groupname")
		}
	})
}

func (n *nameNode) setTimes(c *call, req pm) (pm, error) {
	return n.setAttr(c, req.Str("src"), "SetTimesResponseProto", func(x *inode) {
		if mt := int64(req.Uint("mtime")); mt >= 0 {
			x.Mtime = mt
		}
		if at := int64(req.Uint("atime")); at >= 0 {
			x.Atime = at
		}
	})
}

func (n *nameNode) setReplication(c *call, req pm) (pm, error) {
	src := req.Str("src")
	resp := hdfsMsg("SetReplicationResponseProto", "result", false)
	x, err := n.resolve(c, src, true)
	if err != nil || x == nil || x.Dir {
		return resp, err
	}
	x.Repl = uint32(req.Uint("replication"))
	return resp.Set("result", true), n.persist([]*inode{x}, nil)
}

func (n *nameNode) setQuotaRPC(c *call, req pm) (pm, error) {
	src := req.Str("path")
	if err := n.checkAccess(c, src, true); err != nil {
		return pm{}, err
	}
	if q := req.Uint("storagespaceQuota"); q != quotaDontSet {
		if err := n.setQuota(src, int64(q)); err != nil { // QUOTA_RESET (-1) removes it
			return pm{}, err
		}
	}
	return hdfsMsg("SetQuotaResponseProto"), nil
}

// setQuota sets dir's space quota (bytes <= 0 removes it).
func (n *nameNode) setQuota(src string, bytes int64) error {
	x, err := n.ns.lookup(src)
	switch {
	case err != nil:
		return err
	case x == nil:
		return notFound("Directory does not exist: %s", src)
	case !x.Dir:
		return rerr(FileNotFoundException, "Cannot set quota on a file: %s", src)
	}
	x.Quota = max(bytes, 0)
	return n.persist([]*inode{x}, nil)
}

func (n *nameNode) renewLease(_ *call, req pm) (pm, error) {
	if l := n.leases[req.Str("clientName")]; l != nil {
		l.renewed = time.Now()
	}
	return hdfsMsg("RenewLeaseResponseProto"), nil
}

func (n *nameNode) recoverLease(c *call, req pm) (pm, error) {
	src, holder := req.Str("src"), req.Str("clientName")
	if err := n.checkAccess(c, src, true); err != nil {
		return pm{}, err
	}
	x, err := n.lookupFile(src)
	if err != nil {
		return pm{}, err
	}
	closed, err := n.recoverLeaseInternal("RECOVER_LEASE", x, src, holder, c.machine, true)
	if err != nil {
		return pm{}, err
	}
	return hdfsMsg("RecoverLeaseResponseProto", "result", closed), nil
}
