package minihdfs

import (
	"cmp"
	"path"
	"slices"
	"strings"
	"time"
)

// The name limits of a NameNode with default settings: dfs.namenode.fs-limits.max-component-length
// (in UTF-8 bytes) and the path length and depth every create, mkdirs and rename is held to.
const (
	maxComponentLength = 255
	maxPathLength      = 8000
	maxPathDepth       = 1000
)

// checkNewPath refuses a path to create or rename to that is too long or too deep.
func checkNewPath(src string) error {
	if len([]rune(src)) > maxPathLength || strings.Count(src, "/") > maxPathDepth {
		return ioErr("Cannot create file %s: Name too long. Limit %d characters, %d levels.", src, maxPathLength, maxPathDepth)
	}
	return nil
}

// checkComponent refuses a new name in directory parent longer than the component limit.
func checkComponent(parent, name string) error {
	if len(name) > maxComponentLength {
		return rerr(PathComponentTooLongException,
			"The maximum path component name limit of %s in directory %s is exceeded: limit=%d length=%d",
			name, parent, maxComponentLength, len(name))
	}
	return nil
}

// The first ids a fresh NameNode hands out, as real HDFS does: the root inode is 16385, block
// ids start at 2^30+1 and generation stamps after the 1000 reserved ones.
const (
	rootInodeID  = 16385
	firstBlockID = 1<<30 + 1
	firstGenStmp = 1001
)

// Block states, as the NameNode's block manager has them.
const (
	blockUC        = "uc"        // being written; the length is what the NameNode was told
	blockCommitted = "committed" // the client gave its final length; no replica reported yet
	blockComplete  = "complete"  // committed and a DataNode holds the finalized replica
)

// inode is a file or a directory. The exported fields are the persistent state; the tree links
// are rebuilt on load.
type inode struct {
	ID        uint64       `json:"id"`
	Parent    uint64       `json:"parent"`
	Name      string       `json:"name"`
	Dir       bool         `json:"dir,omitempty"`
	Perm      uint32       `json:"perm"`
	Owner     string       `json:"owner"`
	Group     string       `json:"group"`
	Mtime     int64        `json:"mtime"`
	Atime     int64        `json:"atime"`
	Repl      uint32       `json:"repl,omitempty"`
	BlockSize uint64       `json:"blockSize,omitempty"`
	Blocks    []*blockInfo `json:"blocks,omitempty"`
	Holder    string       `json:"holder,omitempty"`  // lease holder while under construction
	Machine   string       `json:"machine,omitempty"` // the holder's address
	Quota     int64        `json:"quota,omitempty"`   // space quota in bytes; 0: none

	parent   *inode
	children map[string]*inode
}

// blockInfo is one block of a file. Locs are the DataNodes (by UUID) meant to hold it: the
// pipeline's targets, or after lease recovery the replicas that took part.
type blockInfo struct {
	ID    uint64   `json:"id"`
	GS    uint64   `json:"gs"`
	Len   uint64   `json:"len"`
	State string   `json:"state"`
	Locs  []string `json:"locs,omitempty"`

	recoveryID uint64 // non-zero while lease recovery of this block is under way
}

func (n *inode) underConstruction() bool { return n.Holder != "" }

func (n *inode) lastBlock() *blockInfo {
	if len(n.Blocks) == 0 {
		return nil
	}
	return n.Blocks[len(n.Blocks)-1]
}

// length is what the NameNode reports as the file's length: every block's known length. For
// the last block of a file under construction that is what the client committed or synced,
// not what the DataNodes hold.
func (n *inode) length() uint64 {
	var l uint64
	for _, b := range n.Blocks {
		l += b.Len
	}
	return l
}

// spaceConsumed is the bytes the file charges to quotas: its length times its replication,
// with an unfinished last block counted at the full block size, as real HDFS reserves it.
func (n *inode) spaceConsumed() int64 {
	if n.Dir {
		var s int64
		for _, c := range n.children {
			s += c.spaceConsumed()
		}
		return s
	}
	var l uint64
	for _, b := range n.Blocks {
		if b.State == blockUC && n.underConstruction() {
			l += max(b.Len, n.BlockSize)
		} else {
			l += b.Len
		}
	}
	return int64(l) * int64(n.Repl)
}

func (n *inode) sortedChildren() []*inode {
	out := make([]*inode, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *inode) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// namespace is the NameNode's tree of inodes with the counters it allocates from.
type namespace struct {
	PoolID   string
	Counters counters
	root     *inode
	byID     map[uint64]*inode
	byBlock  map[uint64]*inode
}

// counters are the last ids handed out; they are logged with every edit so that no id is
// handed out twice, across restarts too.
type counters struct {
	Inode uint64 `json:"inode"`
	Block uint64 `json:"block"`
	GS    uint64 `json:"gs"`
}

func newNamespace(poolID string, superuser string) *namespace {
	root := &inode{ID: rootInodeID, Dir: true, Perm: 0o755, Owner: superuser, Group: "supergroup",
		Mtime: nowMillis(), Atime: nowMillis(), children: map[string]*inode{}}
	ns := &namespace{PoolID: poolID, root: root,
		Counters: counters{Inode: rootInodeID, Block: firstBlockID - 1, GS: firstGenStmp - 1},
		byID:     map[uint64]*inode{}, byBlock: map[uint64]*inode{}}
	ns.byID[root.ID] = root
	return ns
}

// link rebuilds the tree from the inodes' parent ids; inodes whose parent is missing are
// dropped (and reported), which a consistent log never produces.
func (ns *namespace) link(all map[uint64]*inode) (orphans []uint64) {
	ns.byID = map[uint64]*inode{}
	ns.byBlock = map[uint64]*inode{}
	for _, n := range all {
		if n.Dir {
			n.children = map[string]*inode{}
		}
		ns.byID[n.ID] = n
	}
	ns.root = ns.byID[rootInodeID]
	for _, n := range all {
		if n.ID == rootInodeID {
			continue
		}
		p := ns.byID[n.Parent]
		if p == nil || !p.Dir {
			orphans = append(orphans, n.ID)
			delete(ns.byID, n.ID)
			continue
		}
		n.parent = p
		p.children[n.Name] = n
	}
	for _, n := range ns.byID {
		for _, b := range n.Blocks {
			ns.byBlock[b.ID] = n
		}
	}
	return orphans
}

func (ns *namespace) nextInode() uint64 { ns.Counters.Inode++; return ns.Counters.Inode }
func (ns *namespace) nextBlock() uint64 { ns.Counters.Block++; return ns.Counters.Block }
func (ns *namespace) nextGS() uint64    { ns.Counters.GS++; return ns.Counters.GS }

// splitPath checks src the way HDFS does (absolute, no "." or ".." or ":" components, no
// empty component inside) and returns its components; "/" has none.
func splitPath(src string) ([]string, error) {
	if !strings.HasPrefix(src, "/") {
		return nil, rerr(InvalidPathException, "Invalid path name Invalid file name: %s", src)
	}
	parts := strings.Split(src, "/")[1:]
	var out []string
	for i, p := range parts {
		switch {
		case p == "" && i == len(parts)-1:
		case p == "" || p == "." || p == ".." || strings.Contains(p, ":"):
			return nil, rerr(InvalidPathException, "Invalid path name Invalid file name: %s", src)
		default:
			out = append(out, p)
		}
	}
	return out, nil
}

// lookup returns the inode at src, or nil when it does not exist (a path through a file does
// not exist either).
func (ns *namespace) lookup(src string) (*inode, error) {
	comps, err := splitPath(src)
	if err != nil {
		return nil, err
	}
	n := ns.root
	for _, c := range comps {
		if !n.Dir {
			return nil, nil
		}
		if n = n.children[c]; n == nil {
			return nil, nil
		}
	}
	return n, nil
}

// parentFor returns the directory that is to hold src's last component, creating missing
// ancestors when createParent is set (they are appended to *made).
func (ns *namespace) parentFor(src string, createParent bool, user string, made *[]*inode) (*inode, string, error) {
	comps, err := splitPath(src)
	if err != nil {
		return nil, "", err
	}
	if len(comps) == 0 {
		return nil, "", rerr(FileAlreadyExistsException, "/ already exists as a directory")
	}
	if err := checkNewPath(src); err != nil {
		return nil, "", err
	}
	for i, c := range comps { // before creating anything: a refused call leaves nothing behind
		if err := checkComponent("/"+path.Join(comps[:i]...), c); err != nil {
			return nil, "", err
		}
	}
	n := ns.root
	for i, c := range comps[:len(comps)-1] {
		next := n.children[c]
		switch {
		case next == nil && !createParent:
			return nil, "", notFound("Parent directory doesn't exist: %s", "/"+path.Join(comps[:len(comps)-1]...))
		case next == nil:
			next = ns.mkdir(n, c, 0o755, user)
			*made = append(*made, next)
		case !next.Dir:
			return nil, "", rerr(ParentNotDirectoryException, "Parent path is not a directory: /%s",
				path.Join(comps[:i+1]...))
		}
		n = next
	}
	return n, comps[len(comps)-1], nil
}

func (ns *namespace) mkdir(parent *inode, name string, perm uint32, user string) *inode {
	now := nowMillis()
	d := &inode{ID: ns.nextInode(), Dir: true, Perm: perm & 0o7777, Owner: user, Group: parent.Group,
		Mtime: now, Atime: now, children: map[string]*inode{}}
	ns.attach(parent, name, d)
	return d
}

// attach makes n parent's child called name.
func (ns *namespace) attach(parent *inode, name string, n *inode) {
	n.Name, n.Parent, n.parent = name, parent.ID, parent
	parent.children[name] = n
	parent.Mtime = nowMillis()
	ns.byID[n.ID] = n
	for _, b := range n.Blocks {
		ns.byBlock[b.ID] = n
	}
}

// detach takes n and everything under it out of the tree and returns them (n first).
func (ns *namespace) detach(n *inode) []*inode {
	delete(n.parent.children, n.Name)
	n.parent.Mtime = nowMillis()
	var gone []*inode
	var walk func(*inode)
	walk = func(x *inode) {
		gone = append(gone, x)
		delete(ns.byID, x.ID)
		for _, b := range x.Blocks {
			delete(ns.byBlock, b.ID)
		}
		for _, c := range x.children {
			walk(c)
		}
	}
	walk(n)
	return gone
}

// move re-parents n (within the tree) under parent as name.
func (ns *namespace) move(n, parent *inode, name string) {
	delete(n.parent.children, n.Name)
	n.parent.Mtime = nowMillis()
	n.Name, n.Parent, n.parent = name, parent.ID, parent
	parent.children[name] = n
	parent.Mtime = nowMillis()
}

// fullPath is n's absolute path.
func (ns *namespace) fullPath(n *inode) string {
	var parts []string
	for x := n; x != nil && x.ID != rootInodeID; x = x.parent {
		parts = append(parts, x.Name)
	}
	slices.Reverse(parts)
	return "/" + strings.Join(parts, "/")
}

// isUnder reports whether n is a or lies below a.
func isUnder(n, a *inode) bool {
	for x := n; x != nil; x = x.parent {
		if x == a {
			return true
		}
	}
	return false
}

// all returns every inode (for snapshots).
func (ns *namespace) all() []*inode {
	out := make([]*inode, 0, len(ns.byID))
	for _, n := range ns.byID {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *inode) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func nowMillis() int64 { return time.Now().UnixMilli() }
