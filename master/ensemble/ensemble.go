// Package ensemble names the masters of an ensemble and the addresses of their services, as
// flume.master.servers lists them. Masters, nodes and flumectl all read it; it imports nothing
// of the master itself, so clients do not link the raft library.
package ensemble

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Default ports of a master, as classic Flume numbered them, plus the raft port.
const (
	DefaultWebPort   = 35871 // flume.master.http.port
	DefaultNodePort  = 35872 // flume.master.heartbeat.port
	DefaultAdminPort = 35873 // flume.config.admin.port
	DefaultRaftPort  = 35874 // flume.master.raft.port
)

// Peer is one master of the ensemble, with the addresses of its services.
type Peer struct {
	ID    string
	Raft  string // raft transport (flume.master.raft.port, 35874)
	Admin string // AdminService (flume.config.admin.port, 35873)
	Node  string // NodeService (flume.master.heartbeat.port, 35872); empty: nodes are not served
}

// Ports are the ports of one master.
type Ports struct {
	Web, Node, Admin, Raft int
}

// PeersFromServers turns flume.master.servers into peers: entry i is the master with server id
// i. An entry is a host, whose ports are the configured ones (defaults 35871-35874), or
// host:port, where port is the admin port and the others keep their offsets to it (web -2,
// nodes -1, raft +1), so several masters can share one host with blocks of ports of their own.
func PeersFromServers(servers []string, ports Ports) ([]Peer, error) {
	if len(servers) == 0 {
		return nil, fmt.Errorf("flume.master.servers lists no master")
	}
	peers := make([]Peer, 0, len(servers))
	seen := map[string]int{}
	for i, entry := range servers {
		peer, err := PeerOf(strconv.Itoa(i), entry, ports)
		if err != nil {
			return nil, fmt.Errorf("flume.master.servers entry %d: %w", i, err)
		}
		if j, dup := seen[peer.Admin]; dup {
			return nil, fmt.Errorf("flume.master.servers entries %d and %d are the same master %s", j, i, peer.Admin)
		}
		seen[peer.Admin] = i
		peers = append(peers, peer)
	}
	return peers, nil
}

// DefaultPorts are the ports of a master named by its host alone.
var DefaultPorts = Ports{Web: DefaultWebPort, Node: DefaultNodePort, Admin: DefaultAdminPort, Raft: DefaultRaftPort}

// PeerOf gives master id the addresses an entry of flume.master.servers names: a host with
// the given ports, or host:adminport with the other ports at their offsets to it.
func PeerOf(id, entry string, ports Ports) (Peer, error) {
	entry = strings.TrimSpace(entry)
	host, p := entry, ports
	if h, port, err := net.SplitHostPort(entry); err == nil {
		n, err := strconv.Atoi(port)
		if err != nil || n < 3 || n > 65534 {
			return Peer{}, fmt.Errorf("%q: port %q is not an admin port (3-65534)", entry, port)
		}
		host, p = h, Ports{Web: n - 2, Node: n - 1, Admin: n, Raft: n + 1}
	}
	if host == "" {
		return Peer{}, fmt.Errorf("%q names no host", entry)
	}
	return Peer{
		ID:    id,
		Raft:  net.JoinHostPort(host, strconv.Itoa(p.Raft)),
		Admin: net.JoinHostPort(host, strconv.Itoa(p.Admin)),
		Node:  net.JoinHostPort(host, strconv.Itoa(p.Node)),
	}, nil
}
