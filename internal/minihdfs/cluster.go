package minihdfs

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configure a Cluster. Only Dir is required.
type Options struct {
	// Dir holds the cluster's state: the namespace under name/, each DataNode's replicas under
	// data<i>/. A new Start on the same Dir finds it all again.
	Dir string
	// Addr is the NameNode's address; default "127.0.0.1:0" (an ephemeral port, kept across
	// StopNameNode and StartNameNode).
	Addr string
	// DataNodes is the number of DataNodes; default 1.
	DataNodes int
	// DataNodeAddrs gives DataNode i the address DataNodeAddrs[i]; the others bind
	// 127.0.0.1:0.
	DataNodeAddrs []string
	// SoftLease is the lease soft limit; default 60s.
	SoftLease time.Duration
	// HardLease is the lease hard limit; default 1h.
	HardLease time.Duration
	// BlockSize is the default block size getServerDefaults reports (what the client's Create
	// uses); default 128 MiB. A create names its own block size, which the file keeps.
	BlockSize int64
	// MinBlockSize refuses creates with a smaller block size, as
	// dfs.namenode.fs-limits.min-block-size does; default 0 (real HDFS: 1 MiB) so that tests
	// can use small blocks.
	MinBlockSize int64
	// Replication is the default replication getServerDefaults reports; default 1. Blocks get
	// as many replicas as the file asks for, up to the number of live DataNodes.
	Replication int
	// ListLimit is the number of entries a getListing reply carries at most (dfs.ls.limit);
	// default 1000.
	ListLimit int
	// Superuser owns the root directory; default "hdfs". Permissions are not checked (see
	// SetAccess for refusing paths).
	Superuser string
	// Logger receives the cluster's log; default none.
	Logger *slog.Logger
}

func (o *Options) withDefaults() (Options, error) {
	r := *o
	if r.Dir == "" {
		return r, errors.New("minihdfs: Options.Dir is required")
	}
	if r.Addr == "" {
		r.Addr = "127.0.0.1:0"
	}
	if r.DataNodes <= 0 {
		r.DataNodes = max(1, len(r.DataNodeAddrs))
	}
	if len(r.DataNodeAddrs) > r.DataNodes {
		return r, fmt.Errorf("minihdfs: %d DataNode addresses for %d DataNodes", len(r.DataNodeAddrs), r.DataNodes)
	}
	if r.SoftLease <= 0 {
		r.SoftLease = time.Minute
	}
	if r.HardLease <= 0 {
		r.HardLease = time.Hour
	}
	if r.HardLease < r.SoftLease {
		return r, fmt.Errorf("minihdfs: hard lease limit %v is shorter than the soft limit %v", r.HardLease, r.SoftLease)
	}
	if r.BlockSize <= 0 {
		r.BlockSize = 128 << 20
	}
	if r.Replication <= 0 {
		r.Replication = 1
	}
	if r.ListLimit <= 0 {
		r.ListLimit = 1000
	}
	if r.Superuser == "" {
		r.Superuser = "hdfs"
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// Cluster is a NameNode and its DataNodes. Its methods are safe for concurrent use.
type Cluster struct {
	opts   Options
	log    *slog.Logger
	faults *nnFaults
	dns    []*DataNode
	addr   string

	mu     sync.Mutex
	nn     *nameNode
	closed bool
}

// Start starts a cluster on the state in opts.Dir (an empty or missing directory makes a new
// one).
func Start(opts Options) (*Cluster, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("minihdfs: create state directory: %w", err)
	}
	c := &Cluster{opts: o, log: o.Logger, faults: &nnFaults{}}
	for i := 0; i < o.DataNodes; i++ {
		addr := "127.0.0.1:0"
		if i < len(o.DataNodeAddrs) && o.DataNodeAddrs[i] != "" {
			addr = o.DataNodeAddrs[i]
		}
		d, err := newDataNode(i, filepath.Join(o.Dir, fmt.Sprintf("data%d", i)), addr, c.log)
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("minihdfs: %w", err)
		}
		d.restarted = func() {
			if nn := c.currentNameNode(); nn != nil {
				nn.kickMonitor()
			}
		}
		c.dns = append(c.dns, d)
	}
	nn, err := startNameNode(&c.opts, o.Addr, c.dns, c.faults, c.log)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("minihdfs: %w", err)
	}
	c.nn, c.addr = nn, nn.srv.addr
	c.log.Info("minihdfs: cluster started", "namenode", c.addr, "datanodes", len(c.dns), "dir", o.Dir)
	return c, nil
}

// NameNodeAddr is the NameNode's address (host:port), the same across restarts.
func (c *Cluster) NameNodeAddr() string { return c.addr }

// DataNode returns DataNode i (0-based); it panics when there is no such DataNode.
func (c *Cluster) DataNode(i int) *DataNode { return c.dns[i] }

// NumDataNodes is the number of DataNodes.
func (c *Cluster) NumDataNodes() int { return len(c.dns) }

// Close stops the NameNode and every DataNode and waits for their goroutines. The state stays
// in Dir. Close is safe to call twice.
func (c *Cluster) Close() error {
	c.mu.Lock()
	c.closed = true
	nn := c.nn
	c.nn = nil
	c.mu.Unlock()
	if nn != nil {
		nn.stop()
	}
	for _, d := range c.dns {
		d.Kill()
	}
	return nil
}

// StopNameNode stops the NameNode: its listener and connections close, the namespace stays on
// disk. The DataNodes keep running.
func (c *Cluster) StopNameNode() {
	c.mu.Lock()
	nn := c.nn
	c.nn = nil
	c.mu.Unlock()
	if nn != nil {
		nn.stop()
	}
}

// StartNameNode starts the NameNode again on the same address, reloading the namespace from
// disk. Files that were under construction keep their holders, whose leases start afresh.
func (c *Cluster) StartNameNode() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return ErrClosed
	case c.nn != nil:
		return nil
	}
	nn, err := startNameNode(&c.opts, c.addr, c.dns, c.faults, c.log)
	if err != nil {
		return fmt.Errorf("minihdfs: %w", err)
	}
	c.nn = nn
	return nil
}

func (c *Cluster) currentNameNode() *nameNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nn
}

// withNameNode runs f under the running NameNode's lock.
func (c *Cluster) withNameNode(f func(n *nameNode) error) error {
	n := c.currentNameNode()
	if n == nil {
		return ErrNameNodeStopped
	}
	n.mu.Lock()
	err := f(n)
	after := n.after
	n.after = nil
	n.mu.Unlock()
	for _, g := range after {
		g()
	}
	return err
}

// SetQuota sets the space quota of directory dir: a change that would make the bytes under
// it (length times replication, an unfinished block counted at full block size) exceed bytes
// fails with DSQuotaExceededException. bytes <= 0 removes the quota. It is kept on disk.
func (c *Cluster) SetQuota(dir string, bytes int64) error {
	return c.withNameNode(func(n *nameNode) error { return n.setQuota(dir, bytes) })
}

// Leases lists the open files and their holders, by path.
func (c *Cluster) Leases() []Lease {
	var out []Lease
	_ = c.withNameNode(func(n *nameNode) error {
		for _, l := range n.leases {
			for id := range l.files {
				x := n.ns.byID[id]
				if x == nil {
					continue
				}
				last := x.lastBlock()
				out = append(out, Lease{Holder: l.holder, Path: n.ns.fullPath(x), LastRenewed: l.renewed,
					Recovering: last != nil && last.recoveryID != 0})
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b Lease) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// ReadStored reads the file at path straight from the DataNodes' disks, bypassing the
// protocol: each block from the first of its DataNodes (up or down) that holds it, a complete
// block up to its length, the last block of a file under construction up to all its replica
// holds (hflushed data the NameNode does not count yet). It needs the NameNode running.
func (c *Cluster) ReadStored(path string) ([]byte, error) {
	type part struct {
		id   uint64
		gs   uint64
		n    int64 // -1: all the replica holds
		locs []string
	}
	var parts []part
	err := c.withNameNode(func(n *nameNode) error {
		x, err := n.ns.lookup(path)
		if err != nil || x == nil || x.Dir {
			return fmt.Errorf("read stored %s: %w", path, ErrNotFound)
		}
		for i, b := range x.Blocks {
			p := part{id: b.ID, gs: b.GS, n: int64(b.Len), locs: slices.Clone(b.Locs)}
			if i == len(x.Blocks)-1 && b.State == blockUC {
				p.n = -1
			}
			parts = append(parts, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, p := range parts {
		b, err := c.readReplica(p.id, p.gs, p.n, p.locs)
		if err != nil {
			return nil, fmt.Errorf("read stored %s: %w", path, err)
		}
		out = append(out, b...)
	}
	return out, nil
}

func (c *Cluster) readReplica(id, gs uint64, n int64, locs []string) ([]byte, error) {
	for _, uuid := range locs {
		for _, d := range c.dns {
			if d.uuid != uuid {
				continue
			}
			data, meta, info, err := d.currentStore().openRead(id)
			if err != nil {
				continue
			}
			_ = meta.Close()
			if info.GS < gs || (n >= 0 && info.Length < n) {
				_ = data.Close()
				continue
			}
			if n < 0 {
				n = info.Length
			}
			b := make([]byte, n)
			_, err = io.ReadFull(io.NewSectionReader(data, 0, n), b)
			_ = data.Close()
			if err != nil {
				return nil, fmt.Errorf("block %d on datanode %d: %w", id, d.index, err)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("no datanode holds block %d", id)
}
