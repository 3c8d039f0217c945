package conf_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/conf"
	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/deco"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/retry"
	"github.com/flumego/flume/node/source/tail"
	"github.com/flumego/flume/raftstore"
)

func TestCatalogDefaultsAreValid(t *testing.T) {
	c := conf.New()
	ws, err := c.Validate()
	if err != nil || len(ws) != 0 {
		t.Fatalf("an empty configuration: warnings %v, error %v", ws, err)
	}
	// Setting every default explicitly must pass too: a default that fails its own check
	// would be silently replaced by itself.
	for _, p := range conf.Catalog() {
		if p.Ignored == "" {
			c.Set(p.Name, p.Default, conf.Define)
		}
	}
	if ws, err := c.Validate(); err != nil || len(ws) != 0 {
		t.Fatalf("defaults set explicitly: warnings %v, error %v", ws, err)
	}
	for _, p := range conf.Catalog() {
		if p.Doc == "" || p.Group == "" && p.Ignored == "" {
			t.Errorf("%s lacks a doc or group", p.Name)
		}
	}
}

// TestCatalogMatchesComponentDefaults checks that the catalog and the components agree on the
// defaults, and on the names components read: Map holds every default, so a disagreement
// would change a component's behaviour.
func TestCatalogMatchesComponentDefaults(t *testing.T) {
	c := conf.New()
	tests := []struct {
		prop string
		got  string
		want string
	}{
		{conf.EventMaxSize, c.String(conf.EventMaxSize), strconv.Itoa(event.DefaultMaxSize)},
		{conf.TailPollPeriod, c.Duration(conf.TailPollPeriod).String(), tail.DefaultPollPeriod.String()},
		{conf.FailoverBackoffInitial, c.Duration(conf.FailoverBackoffInitial).String(), retry.DefaultInitial.String()},
		{conf.FailoverBackoffMax, c.Duration(conf.FailoverBackoffMax).String(), retry.DefaultMax.String()},
		{conf.InsistentOpenInitBackoff, c.Duration(conf.InsistentOpenInitBackoff).String(), retry.DefaultInitial.String()},
		{conf.NodeHeartbeatBackoff, c.Duration(conf.NodeHeartbeatBackoff).String(), node.DefaultSessionBackoff.String()},
		{conf.NodeHeartbeatBackoffCeiling, c.Duration(conf.NodeHeartbeatBackoffCeiling).String(), node.DefaultSessionBackoffCeiling.String()},
		{conf.MasterRaftHeartbeatTimeout, c.Duration(conf.MasterRaftHeartbeatTimeout).String(), raftstore.DefaultHeartbeatTimeout.String()},
		{conf.MasterRaftElectionTimeout, c.Duration(conf.MasterRaftElectionTimeout).String(), raftstore.DefaultElectionTimeout.String()},
		{conf.MasterRaftLeaderLeaseTimeout, c.Duration(conf.MasterRaftLeaderLeaseTimeout).String(), raftstore.DefaultLeaderLeaseTimeout.String()},
		{conf.MasterRaftCommitTimeout, c.Duration(conf.MasterRaftCommitTimeout).String(), raftstore.DefaultCommitTimeout.String()},
		{"deco.PropBackoffMax", deco.PropBackoffMax, conf.FailoverBackoffMax},
		{"deco.PropBackoffCumulativeMax", deco.PropBackoffCumulativeMax, conf.FailoverBackoffCumulativeMax},
		{"deco.PropInsistentInit", deco.PropInsistentInit, conf.InsistentOpenInitBackoff},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %s, components use %s", tt.prop, tt.got, tt.want)
		}
	}
	if p, ok := conf.Lookup(deco.PropInsistentInitFixed); !ok || p.Name != conf.InsistentOpenInitBackoff {
		t.Errorf("the corrected spelling %s is not an alias of %s", deco.PropInsistentInitFixed, conf.InsistentOpenInitBackoff)
	}
}

func TestAliasesMeanTheSameProperty(t *testing.T) {
	tests := []struct {
		alias, canonical, value string
	}{
		{"flume.collector.port", conf.CollectorPort, "4000"},
		{"flume.master.admin.port", conf.MasterAdminPort, "4001"},
		{"flume.master.heartbeat.missed.max", conf.HeartbeatMissedMax, "7"},
		{"flume.node.http.port", conf.NodeStatusPort, "4002"},
		{"flume.insistentOpen.init.backoff", conf.InsistentOpenInitBackoff, "4003"},
	}
	for _, tt := range tests {
		t.Run(tt.alias, func(t *testing.T) {
			c, _ := mustLoad(t, conf.Options{Defines: []string{tt.alias + "=" + tt.value}})
			if got := c.String(tt.canonical); got != tt.value {
				t.Fatalf("%s = %q, want %q set as %s", tt.canonical, got, tt.value, tt.alias)
			}
			m := c.Map()
			if m[tt.canonical] != tt.value {
				t.Fatalf("Map[%s] = %q, want %q", tt.canonical, m[tt.canonical], tt.value)
			}
			if _, ok := m[tt.alias]; ok {
				t.Fatalf("Map holds the alias %s; components read canonical names", tt.alias)
			}
			// The canonical name set later overrides the alias, and the other way round.
			c.Set(tt.canonical, "9", conf.Flag("x"))
			if got := c.String(tt.canonical); got != "9" {
				t.Fatalf("canonical set after alias: %q", got)
			}
			c.Set(tt.alias, "8", conf.Flag("y"))
			if got := c.String(tt.canonical); got != "8" || c.Origin(tt.canonical).String() != "flag --y" {
				t.Fatalf("alias set after canonical: %q from %s", got, c.Origin(tt.canonical))
			}
		})
	}
}

// TestMapFeedsComponents checks the map components read through plugin.BuildContext: canonical
// names, durations as integer milliseconds, booleans lower case, expanded paths.
func TestMapFeedsComponents(t *testing.T) {
	c, _ := mustLoad(t, conf.Options{Defines: []string{
		"flume.tail.pollperiod=1m30s",
		"flume.node.http.autofindport=FALSE",
		"flume.collector.dfs.compress.codec=gzipcodec",
		"flume.node.data.dir=/d",
		"flume.master.servers= a , b:9,,",
		"flume.event.max.size.bytes=+64",
	}})
	m := c.Map()
	want := map[string]string{
		conf.TailPollPeriod:               "90000",
		conf.NodeAutofindPort:             "false",
		conf.CollectorCompressCodec:       "GzipCodec",
		conf.AgentLogDir:                  "/d/agent",
		conf.CollectorDFSDir:              "/d/collected",
		conf.MasterServers:                "a,b:9",
		conf.EventMaxSize:                 "64",
		conf.NodeCloseTimeout:             "30000",
		conf.FailoverBackoffCumulativeMax: "0",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("Map[%s] = %q, want %q", k, m[k], v)
		}
	}
	bc := &plugin.BuildContext{Props: m}
	if got := bc.PropMillis(conf.TailPollPeriod, 0); got != 90*time.Second {
		t.Errorf("PropMillis = %s", got)
	}
	if got := bc.MaxEventSize(); got != 64 {
		t.Errorf("MaxEventSize = %d", got)
	}
	for _, p := range conf.Catalog() {
		if _, ok := m[p.Name]; ok == (p.Ignored != "") {
			t.Errorf("Map has %s: %v; ignored: %q", p.Name, ok, p.Ignored)
		}
	}
}

func TestAccessors(t *testing.T) {
	c, _ := mustLoad(t, conf.Options{Defines: []string{
		"flume.master.servers=m1,m2:4000,[::1]:4001,::2",
		"flume.node.http.autofindport=false",
		"flume.master.raft.port=4444",
	}})
	if got := strings.Join(c.Addrs(conf.MasterServers, 35872), " "); got != "m1:35872 m2:4000 [::1]:4001 [::2]:35872" {
		t.Errorf("Addrs = %s", got)
	}
	if c.Bool(conf.NodeAutofindPort) {
		t.Error("Bool = true")
	}
	if got := c.Int(conf.MasterRaftPort); got != 4444 {
		t.Errorf("Int(port) = %d", got)
	}
	if got := c.List(conf.MasterHeartbeatServers); got != nil {
		t.Errorf("List of an empty list = %q", got)
	}
	if !c.IsSet("flume.master.raft.port") || c.IsSet(conf.TailPollPeriod) {
		t.Error("IsSet")
	}
	for _, tt := range []struct {
		name string
		call func()
	}{
		{"unknown", func() { c.String("flume.nothing") }},
		{"ignored", func() { c.String("flume.master.store") }},
		{"wrong kind", func() { c.Int(conf.TailPollPeriod) }},
		{"empty name", func() { c.Set(" ", "x", conf.Define) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic for a programmer error")
				}
			}()
			tt.call()
		})
	}
}

func TestUserNameExpands(t *testing.T) {
	c, _ := mustLoad(t, conf.Options{Defines: []string{"flume.agent.logdir=/tmp/flume-${user.name}/agent"}})
	got := c.String(conf.AgentLogDir)
	if strings.Contains(got, "${") || got == "/tmp/flume-/agent" {
		t.Fatalf("logdir = %q", got)
	}
}
