package ensemble

import (
	"strings"
	"testing"
)

func TestPeersFromServers(t *testing.T) {
	def := Ports{Web: DefaultWebPort, Node: DefaultNodePort, Admin: DefaultAdminPort, Raft: DefaultRaftPort}
	peers, err := PeersFromServers([]string{"127.0.0.1", "127.0.0.2", "localhost:40003"}, def)
	if err != nil {
		t.Fatal(err)
	}
	want := []Peer{
		{ID: "0", Raft: "127.0.0.1:35874", Admin: "127.0.0.1:35873", Node: "127.0.0.1:35872"},
		{ID: "1", Raft: "127.0.0.2:35874", Admin: "127.0.0.2:35873", Node: "127.0.0.2:35872"},
		{ID: "2", Raft: "localhost:40004", Admin: "localhost:40003", Node: "localhost:40002"},
	}
	for i := range want {
		if peers[i] != want[i] {
			t.Fatalf("peer %d = %+v, want %+v", i, peers[i], want[i])
		}
	}
	for servers, msg := range map[string]string{
		"":                          "lists no master",
		"h1,h1":                     "entries 0 and 1 are the same master",
		"h1:notaport":               `port "notaport" is not an admin port`,
		":35873":                    "names no host",
		"127.0.0.1:35873,127.0.0.1": "entries 0 and 1 are the same master",
	} {
		var list []string
		if servers != "" {
			list = strings.Split(servers, ",")
		}
		if _, err := PeersFromServers(list, def); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: error %v, want %q", servers, err, msg)
		}
	}
}
