package minihdfs

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// nameNode serves ClientProtocol over IPC. One mutex guards the namespace, the leases and the
// edit log: every call runs under it and answers after its edit is synced. Work on DataNodes
// that may block (deleting replicas, block recovery) runs outside it.
type nameNode struct {
	opts    *Options
	log     *slog.Logger
	dns     []*DataNode
	faults  *nnFaults
	methods map[string]method

	mu      sync.Mutex
	ns      *namespace
	store   *nsStore
	leases  map[string]*lease
	after   []func() // DataNode work queued by a call, run once it released mu
	nextDN  int
	srv     *ipcServer
	kick    chan struct{}
	stopped chan struct{}
	wg      sync.WaitGroup
}

// method is one ClientProtocol method: its request type and its handler, which runs under
// nameNode.mu and returns the response message.
type method struct {
	req string
	fn  func(n *nameNode, c *call, req pm) (pm, error)
}

// clientMethods is the dispatch table of the ClientProtocol methods served.
func clientMethods() map[string]method {
	m := map[string]method{}
	add := func(name, req string, fn func(*nameNode, *call, pm) (pm, error)) {
		if _, dup := m[name]; dup {
			panic("minihdfs: method " + name + " registered twice")
		}
		m[name] = method{req: "hadoop.hdfs." + req, fn: fn}
	}
	add("getServerDefaults", "GetServerDefaultsRequestProto", (*nameNode).getServerDefaults)
	add("getFileInfo", "GetFileInfoRequestProto", (*nameNode).getFileInfo)
	add("getFileLinkInfo", "GetFileLinkInfoRequestProto", (*nameNode).getFileInfo)
	add("getListing", "GetListingRequestProto", (*nameNode).getListing)
	add("getBlockLocations", "GetBlockLocationsRequestProto", (*nameNode).getBlockLocations)
	add("getContentSummary", "GetContentSummaryRequestProto", (*nameNode).getContentSummary)
	add("getFsStats", "GetFsStatusRequestProto", (*nameNode).getFsStats)
	add("mkdirs", "MkdirsRequestProto", (*nameNode).mkdirs)
	add("delete", "DeleteRequestProto", (*nameNode).delete)
	add("rename", "RenameRequestProto", (*nameNode).rename)
	add("rename2", "Rename2RequestProto", (*nameNode).rename2)
	add("setPermission", "SetPermissionRequestProto", (*nameNode).setPermission)
	add("setOwner", "SetOwnerRequestProto", (*nameNode).setOwner)
	add("setTimes", "SetTimesRequestProto", (*nameNode).setTimes)
	add("setReplication", "SetReplicationRequestProto", (*nameNode).setReplication)
	add("setQuota", "SetQuotaRequestProto", (*nameNode).setQuotaRPC)
	add("create", "CreateRequestProto", (*nameNode).create)
	add("append", "AppendRequestProto", (*nameNode).append)
	add("addBlock", "AddBlockRequestProto", (*nameNode).addBlock)
	add("abandonBlock", "AbandonBlockRequestProto", (*nameNode).abandonBlock)
	add("updateBlockForPipeline", "UpdateBlockForPipelineRequestProto", (*nameNode).updateBlockForPipeline)
	add("updatePipeline", "UpdatePipelineRequestProto", (*nameNode).updatePipeline)
	add("complete", "CompleteRequestProto", (*nameNode).complete)
	add("fsync", "FsyncRequestProto", (*nameNode).fsync)
	add("renewLease", "RenewLeaseRequestProto", (*nameNode).renewLease)
	add("recoverLease", "RecoverLeaseRequestProto", (*nameNode).recoverLease)
	return m
}

// startNameNode loads the namespace under opts.Dir and serves it on addr. Leases are rebuilt
// from the files under construction, each renewed now, as a real NameNode does on start.
func startNameNode(opts *Options, addr string, dns []*DataNode, faults *nnFaults, log *slog.Logger) (*nameNode, error) {
	ns, store, err := openNamespace(filepath.Join(opts.Dir, "name"), opts.Superuser)
	if err != nil {
		return nil, err
	}
	n := &nameNode{opts: opts, log: log.With("component", "namenode"), dns: dns, faults: faults,
		methods: clientMethods(), ns: ns, store: store, leases: map[string]*lease{},
		kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	for _, x := range ns.byID {
		if x.underConstruction() {
			n.addLease(x.Holder, x.ID)
		}
	}
	n.srv, err = newIPCServer(addr, n.log, n.dispatch)
	if err != nil {
		_ = store.close()
		return nil, err
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.monitor()
	}()
	return n, nil
}

// stop closes the server and the monitor and waits for them; the state stays on disk.
func (n *nameNode) stop() {
	n.srv.stop()
	close(n.stopped)
	n.wg.Wait()
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.store.close(); err != nil {
		n.log.Warn("namenode: close edit log", "err", err)
	}
}

// dispatch runs one call: a fault, if one applies, answers instead.
func (n *nameNode) dispatch(c *call, body []byte) (pm, error) {
	if e := n.faults.takeCall(c.method); e != nil {
		return pm{}, e
	}
	m, ok := n.methods[c.method]
	if !ok {
		return pm{}, &remoteError{class: RpcNoSuchMethodException, detail: "ERROR_NO_SUCH_METHOD",
			msg: fmt.Sprintf("Unknown method %s called on %s protocol.", c.method, clientProtocol)}
	}
	req, err := parseMsg(m.req, body)
	if err != nil {
		return pm{}, rerr(RpcServerException, "%v", err)
	}
	n.mu.Lock()
	resp, err := m.fn(n, c, req)
	after := n.after
	n.after = nil
	n.mu.Unlock()
	for _, f := range after {
		f()
	}
	if err != nil {
		n.log.Debug("namenode: call failed", "method", c.method, "err", err)
	}
	return resp, err
}

// persist logs an edit; a failure to log fails the call with an IOException.
func (n *nameNode) persist(puts []*inode, dels []uint64) error {
	if err := n.store.append(n.ns, puts, dels); err != nil {
		n.log.Error("namenode: edit log write failed", "err", err)
		return ioErr("edit log: %v", err)
	}
	return nil
}

// checkAccess applies the access rules to src.
func (n *nameNode) checkAccess(c *call, src string, write bool) error {
	p, denied := n.faults.denies(src, write)
	if !denied {
		return nil
	}
	access := "READ"
	if write {
		access = "WRITE"
	}
	owner, group, mode := n.opts.Superuser, "supergroup", "drwxr-xr-x"
	if x, _ := n.ns.lookup(p); x != nil {
		owner, group, mode = x.Owner, x.Group, modeString(x)
	}
	return rerr(AccessControlException, "Permission denied: user=%s, access=%s, inode=\"%s\":%s:%s:%s",
		c.user, access, p, owner, group, mode)
}

func modeString(x *inode) string {
	b := []byte("-rwxrwxrwx")
	if x.Dir {
		b[0] = 'd'
	}
	for i := 0; i < 9; i++ {
		if x.Perm&(1<<(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	return string(b)
}

// dataNode returns the DataNode with uuid.
func (n *nameNode) dataNode(uuid string) *DataNode {
	for _, d := range n.dns {
		if d.uuid == uuid {
			return d
		}
	}
	return nil
}

// chooseTargets picks up to want live DataNodes, round robin, skipping excluded UUIDs.
func (n *nameNode) chooseTargets(want int, exclude []string) []*DataNode {
	var out []*DataNode
	for i := 0; i < len(n.dns) && len(out) < want; i++ {
		d := n.dns[(n.nextDN+i)%len(n.dns)]
		if d.Alive() && !slices.Contains(exclude, d.uuid) {
			out = append(out, d)
		}
	}
	n.nextDN++
	return out
}

func (n *nameNode) liveDataNodes() int {
	live := 0
	for _, d := range n.dns {
		if d.Alive() {
			live++
		}
	}
	return live
}

// extBlock is the ExtendedBlockProto of b with length l.
func (n *nameNode) extBlock(b *blockInfo, l uint64) pm {
	return hdfsMsg("ExtendedBlockProto", "poolId", n.ns.PoolID, "blockId", b.ID,
		"generationStamp", b.GS, "numBytes", l)
}

// locatedBlock is b at offset with its locations, live DataNodes first.
func (n *nameNode) locatedBlock(b *blockInfo, gs uint64, offset uint64) pm {
	var live, dead []*DataNode
	for _, uuid := range b.Locs {
		if d := n.dataNode(uuid); d != nil && d.Alive() {
			live = append(live, d)
		} else if d != nil {
			dead = append(dead, d)
		}
	}
	var locs []pm
	var cached []bool
	var types, ids []string
	for _, d := range append(live, dead...) {
		locs = append(locs, d.datanodeInfo())
		cached = append(cached, false)
		types = append(types, "DISK")
		ids = append(ids, "DS-"+d.uuid)
	}
	eb := n.extBlock(b, b.Len).Set("generationStamp", gs)
	return hdfsMsg("LocatedBlockProto", "b", eb, "offset", offset, "locs", locs, "corrupt", false,
		"blockToken", emptyToken(), "isCached", cached, "storageTypes", types, "storageIDs", ids)
}

func emptyToken() pm {
	return commonMsg("TokenProto", "identifier", []byte{}, "password", []byte{}, "kind", "", "service", "")
}

// fileStatus is x's HdfsFileStatusProto under the local name given ("" for getFileInfo).
func (n *nameNode) fileStatus(x *inode, name string, withLocations bool) pm {
	st := hdfsMsg("HdfsFileStatusProto", "path", []byte(name),
		"permission", hdfsMsg("FsPermissionProto", "perm", x.Perm),
		"owner", x.Owner, "group", x.Group,
		"modification_time", uint64(x.Mtime), "access_time", uint64(x.Atime),
		"fileId", x.ID, "storagePolicy", 0)
	if x.Dir {
		return st.Set("fileType", "IS_DIR").Set("length", 0).Set("childrenNum", len(x.children))
	}
	st.Set("fileType", "IS_FILE").Set("length", x.length()).Set("childrenNum", 0).
		Set("block_replication", x.Repl).Set("blocksize", x.BlockSize)
	if withLocations {
		st.Set("locations", n.locatedBlocks(x, 0, x.length()))
	}
	return st
}

// locatedBlocks lists x's blocks that overlap [off, off+length).
func (n *nameNode) locatedBlocks(x *inode, off, length uint64) pm {
	var blocks []pm
	var pos uint64
	for _, b := range x.Blocks {
		if pos+b.Len > off && pos < off+length {
			blocks = append(blocks, n.locatedBlock(b, b.GS, pos))
		}
		pos += b.Len
	}
	uc := x.underConstruction()
	size := x.length()
	lastComplete := true
	if last := x.lastBlock(); last != nil && uc && last.State != blockComplete {
		size -= last.Len
		lastComplete = false
	}
	lbs := hdfsMsg("LocatedBlocksProto", "fileLength", size, "blocks", blocks,
		"underConstruction", uc, "isLastBlockComplete", lastComplete)
	if last := x.lastBlock(); last != nil {
		lbs.Set("lastBlock", n.locatedBlock(last, last.GS, x.length()-last.Len))
	}
	return lbs
}

// lookupFile resolves src to an existing file, with HDFS's messages when it is not one.
func (n *nameNode) lookupFile(src string) (*inode, error) {
	x, err := n.ns.lookup(src)
	switch {
	case err != nil:
		return nil, err
	case x == nil:
		return nil, notFound("File does not exist: %s", src)
	case x.Dir:
		return nil, notFound("Path is not a file: %s", src)
	}
	return x, nil
}

// monitor checks the hard lease limit and runs pending block recoveries, on a period (as a
// real NameNode's lease monitor does every 2 s) and whenever a call started a recovery.
func (n *nameNode) monitor() {
	period := min(max(n.opts.HardLease/4, 10*time.Millisecond), 2*time.Second)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-n.stopped:
			return
		case <-t.C:
		case <-n.kick:
		}
		n.mu.Lock()
		n.checkHardLimit()
		jobs := n.pendingRecoveries()
		n.mu.Unlock()
		for _, j := range jobs {
			select {
			case <-n.stopped:
				return
			default:
			}
			n.runRecovery(j)
		}
	}
}

// kickMonitor asks the monitor to run now.
func (n *nameNode) kickMonitor() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}
