package minihdfs

import (
	"slices"
	"strings"
	"sync"
)

// CallFault makes the NameNode answer calls with an exception instead of running them.
//
// The client renews its leases with a renewLease call every second on every connection, so a
// fault that should hit a particular client operation names its methods.
type CallFault struct {
	// Exception is the Java class to answer with, e.g. StandbyException or RetriableException.
	Exception string
	// Message is the error message; empty gives the one a real NameNode sends for the class.
	Message string
	// Times is how many calls get the exception; 0 means every call until ClearCallFault.
	Times int
	// Methods limits the fault to these ClientProtocol methods ("create", "addBlock", ...);
	// empty means every method.
	Methods []string
}

// Access is a rule for the calls that touch a path or anything below it.
type Access int

const (
	// AccessNormal removes a rule.
	AccessNormal Access = iota
	// AccessReadOnly refuses every change at or below the path with AccessControlException;
	// reads go on. Writes already open keep their blocks, as in HDFS, where permissions are
	// checked at create and append.
	AccessReadOnly
	// AccessDenied refuses every call that names the path or a path below it.
	AccessDenied
)

// nnFaults are the NameNode's fault hooks; they belong to the cluster and outlive NameNode
// restarts.
type nnFaults struct {
	mu            sync.Mutex
	call          *CallFault
	callsLeft     int
	completeFalse int
	access        map[string]Access
}

// takeCall returns the exception the call to method gets, if a fault applies to it.
func (f *nnFaults) takeCall(method string) *remoteError {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.call
	if c == nil || (len(c.Methods) > 0 && !slices.Contains(c.Methods, method)) {
		return nil
	}
	if c.Times > 0 {
		f.callsLeft--
		if f.callsLeft <= 0 {
			f.call = nil
		}
	}
	msg := c.Message
	if msg == "" {
		switch c.Exception {
		case StandbyException:
			msg = "Operation category " + category(method) + " is not supported in state standby"
		case RetriableException:
			msg = "NameNode still not started"
		default:
			msg = "injected fault in " + method
		}
	}
	return rerr(c.Exception, "%s", msg)
}

// category is the operation category a real NameNode names in its StandbyException.
func category(method string) string {
	switch method {
	case "getFileInfo", "getListing", "getBlockLocations", "getContentSummary", "getServerDefaults",
		"getFsStats", "getFileLinkInfo":
		return "READ"
	}
	return "WRITE"
}

// takeCompleteFalse reports whether this complete call answers false.
func (f *nnFaults) takeCompleteFalse() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.completeFalse > 0 {
		f.completeFalse--
		return true
	}
	return false
}

// denies returns the rule path that refuses a call touching src (a change when write), if any.
func (f *nnFaults) denies(src string, write bool) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, a := range f.access {
		under := p == "/" || src == p || strings.HasPrefix(src, p+"/")
		if under && (a == AccessDenied || (a == AccessReadOnly && write)) {
			return p, true
		}
	}
	return "", false
}

// FailCalls makes the NameNode answer calls with f.Exception (see CallFault); it replaces the
// call fault set before.
func (c *Cluster) FailCalls(f CallFault) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	f.Methods = slices.Clone(f.Methods)
	c.faults.call, c.faults.callsLeft = &f, f.Times
}

// ClearCallFault ends the call fault.
func (c *Cluster) ClearCallFault() {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.call = nil
}

// FailCompletes makes the next n complete calls answer false after committing the last block,
// as a real NameNode does while the DataNodes have not reported it yet (the client's Close
// returns ErrReplicating and may be called again).
func (c *Cluster) FailCompletes(n int) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.completeFalse = n
}

// SetAccess sets the access rule for path and everything below it (AccessNormal removes it).
func (c *Cluster) SetAccess(path string, a Access) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	if c.faults.access == nil {
		c.faults.access = map[string]Access{}
	}
	path = strings.TrimSuffix(path, "/")
	if path == "" {
		path = "/"
	}
	if a == AccessNormal {
		delete(c.faults.access, path)
		return
	}
	c.faults.access[path] = a
}

// DropConnections closes every open client connection of the NameNode now. With refuse it
// also stops listening, so that connects fail, until AcceptConnections.
func (c *Cluster) DropConnections(refuse bool) {
	if nn := c.currentNameNode(); nn != nil {
		nn.srv.dropConns(refuse)
	}
}

// AcceptConnections makes the NameNode listen again after DropConnections(true).
func (c *Cluster) AcceptConnections() error {
	nn := c.currentNameNode()
	if nn == nil {
		return ErrNameNodeStopped
	}
	return nn.srv.resume()
}
