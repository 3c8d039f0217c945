package conf_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flumego/flume/conf"
)

// TestValidateErrorsNamePropertyValueAndOrigin checks the message of each kind of bad value,
// from each kind of origin.
func TestValidateErrorsNamePropertyValueAndOrigin(t *testing.T) {
	durWant := `is not a duration: want milliseconds (30000) or a number with a unit (30s)`
	tests := []struct {
		name, prop, value, want string
	}{
		{"integer", conf.EventMaxSize, "big", `"big" is not an integer`},
		{"integer range", conf.EventMaxSize, "0", `"0" is out of range: want 1 to 16777216 bytes`},
		{"integer too big", conf.EventMaxSize, "99999999999999999999", `"99999999999999999999" is not an integer`},
		{"duration", conf.NodeCloseTimeout, "soon", `"soon" ` + durWant},
		{"duration range", conf.NodeCloseTimeout, "-5", `"-5" is out of range: want 0 to 3600000 ms`},
		{"duration with unit out of range", conf.TailPollPeriod, "2h", `"2h" is out of range: want 1 to 3600000 ms`},
		{"duration below a millisecond", conf.TailPollPeriod, "1500us", `"1500us" is not a whole number of milliseconds`},
		{"boolean", conf.NodeAutofindPort, "yes", `"yes" is not a boolean: want true or false`},
		{"port", conf.CollectorPort, "http", `"http" is not a port number`},
		{"port range", conf.MasterHTTPPort, "70000", `"70000" is out of range: want 1 to 65535`},
		{"port zero", conf.MasterHeartbeatPort, "0", `"0" is out of range: want 1 to 65535`},
		{"host", conf.CollectorHost, "a b", `"a b" is not a host name or IP address`},
		{"host list item", conf.MasterServers, "m1,m 2", `"m1,m 2" has item "m 2" that is not a host, host:port or IP address`},
		{"host list port", conf.MasterServers, "m1:99999", `"m1:99999" has item "m1:99999" that has a port out of 1 to 65535`},
		{"host list empty", conf.MasterServers, ",", `"," has 0 hosts: want at least 1`},
		{"choice", conf.CollectorCompressCodec, "lzo", `"lzo" is not one of None, GzipCodec, DefaultCodec, BZip2Codec, ZStandardCodec, SnappyCodec`},
		{"empty string", conf.AgentLogDir, "", `"" is empty: want a value`},
		{"alias keeps its spelling", "flume.collector.port", "x", `"x" is not a port number`},
		{"expanded value", conf.EventMaxSize, "${flume.flow.default.name}", `"${flume.flow.default.name}" (expands to "default-flow") is not an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, path := confDir(t, site(tt.prop, tt.value))
			origins := []struct {
				label  string
				opts   conf.Options
				flag   bool
				prefix string
			}{
				{"file", conf.Options{ConfDir: dir}, false, path + ":5"},
				{"-D", conf.Options{Defines: []string{tt.prop + "=" + tt.value}}, false, "-D"},
				{"flag", conf.Options{}, true, "flag --x"},
			}
			for _, o := range origins {
				o.opts.Getenv = noEnv
				c, err := conf.Load(o.opts)
				if err != nil {
					t.Fatal(err)
				}
				if o.flag {
					c.Set(tt.prop, tt.value, conf.Flag("x"))
				}
				_, err = c.Validate()
				want := o.prefix + ": property " + tt.prop + ": " + tt.want
				var ce *conf.Error
				if err == nil || err.Error() != want || !errors.As(err, &ce) || ce.Name != tt.prop {
					t.Fatalf("from %s, error:\n%v\nwant:\n%s", o.label, err, want)
				}
			}
		})
	}
}

func TestValidateReportsEveryBadValueInOrder(t *testing.T) {
	dir, path := confDir(t, site(conf.TailPollPeriod, "x", conf.EventMaxSize, "y"))
	c, err := conf.Load(conf.Options{ConfDir: dir, Defines: []string{"flume.node.close.timeout=z"}, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	c.Set(conf.NodeAutofindPort, "maybe", conf.Flag("autofind"))
	_, err = c.Validate()
	want := []string{
		path + `:5: property flume.tail.pollperiod: "x" is not a duration`,
		path + `:9: property flume.event.max.size.bytes: "y" is not an integer`,
		`-D: property flume.node.close.timeout: "z" is not a duration`,
		`flag --autofind: property flume.node.http.autofindport: "maybe" is not a boolean`,
	}
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("errors:\n%v\nwant %d", err, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("error %d: %s\nwant prefix: %s", i, lines[i], want[i])
		}
	}
	// The accessors fall back to the default for a bad value.
	if got := c.Duration(conf.TailPollPeriod).Milliseconds(); got != 1000 {
		t.Errorf("poll period after a bad value = %d, want the default 1000", got)
	}
}

func TestValidateWarnings(t *testing.T) {
	dir, path := confDir(t, site(
		"flume.tail.polperiod", "5",
		"hadoop.tmp.dir", "/tmp",
		"flume.master.store", "zookeeper",
		"flume.master.zk.logdir", "/tmp/zk",
		"flume.insistentopen.init.backoff", "5",
	))
	c, err := conf.Load(conf.Options{ConfDir: dir, Defines: []string{"flume.thrift.queuesize=1000"}, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		path + ":4: unknown property flume.tail.polperiod; did you mean flume.tail.pollperiod?",
		path + ":8: unknown property hadoop.tmp.dir",
		path + ":12: property flume.master.store is ignored: masters always keep their state in the replicated log under flume.master.data.dir",
		path + ":16: property flume.master.zk.logdir is ignored: masters replicate their state with Raft (see flume.master.raft.port and flume.master.data.dir); there is no ZooKeeper",
		path + ":20: unknown property flume.insistentopen.init.backoff; did you mean flume.insistentOpen.init.backoff?",
		"-D: property flume.thrift.queuesize is ignored: there is no Thrift transport",
	}
	if got := warningStrings(ws); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Ignored and unknown properties never reach components as known ones.
	m := c.Map()
	if _, ok := m["flume.master.store"]; ok {
		t.Error("Map holds an ignored property")
	}
	if m["hadoop.tmp.dir"] != "/tmp" {
		t.Error("Map lacks an unknown property as set, for components with their own")
	}
	ws2, _ := c.Validate()
	if len(ws2) != len(ws) {
		t.Errorf("a second Validate gave %d warnings, the first %d", len(ws2), len(ws))
	}
}

func TestValidateCrossChecks(t *testing.T) {
	tests := []struct {
		name     string
		defines  []string
		wantErr  string
		wantWarn string
	}{
		{"serverid within servers", []string{"flume.master.servers=a,b,c", "flume.master.serverid=2"}, "", ""},
		{"serverid beyond servers", []string{"flume.master.servers=a,b", "flume.master.serverid=2"},
			`-D: property flume.master.serverid: "2" is out of range: flume.master.servers lists 2 master(s), want 0 to 1`, ""},
		{"backoff initial above max", []string{"flume.agent.failover.backoff.max=500"}, "",
			"-D: property flume.agent.failover.backoff.initial (1000 ms) is above flume.agent.failover.backoff.max (500 ms): every wait will be 500 ms"},
		{"heartbeat backoff above ceiling", []string{"flume.agent.heartbeat.backoff=2m"}, "",
			"-D: property flume.agent.heartbeat.backoff (120000 ms) is above flume.node.heartbeat.backoff.ceiling (1000 ms): every wait will be 1000 ms"},
		{"raft timeouts raised together", []string{"flume.master.raft.heartbeat.timeout=2s", "flume.master.raft.election.timeout=2000",
			"flume.master.raft.leader.lease.timeout=1s"}, "", ""},
		{"raft lease above heartbeat timeout", []string{"flume.master.raft.leader.lease.timeout=1500"},
			`-D: property flume.master.raft.leader.lease.timeout: "1500": flume.master.raft.leader.lease.timeout (1500 ms) must not exceed flume.master.raft.heartbeat.timeout (1000 ms)`, ""},
		{"raft heartbeat timeout above election timeout", []string{"flume.master.raft.election.timeout=1000", "flume.master.raft.heartbeat.timeout=3s"},
			`-D: property flume.master.raft.heartbeat.timeout: "3s": flume.master.raft.heartbeat.timeout (3000 ms) must not exceed flume.master.raft.election.timeout (1000 ms)`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := conf.Load(conf.Options{Defines: tt.defines, Getenv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			ws, err := c.Validate()
			if (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			got := strings.Join(warningStrings(ws), "\n")
			if got != tt.wantWarn {
				t.Fatalf("warnings %q, want %q", got, tt.wantWarn)
			}
		})
	}
}

func TestValidateExpansion(t *testing.T) {
	tests := []struct {
		name     string
		defines  []string
		prop     string
		want     string
		wantErr  string
		wantWarn string
	}{
		{"default refers to the data dir", []string{"flume.node.data.dir=/var/lib/flume"}, conf.AgentLogDir, "/var/lib/flume/agent", "", ""},
		{"chain", []string{"base=/srv", "flume.node.data.dir=${base}/flume", "flume.agent.logdir=${flume.node.data.dir}/wal"},
			conf.AgentLogDir, "/srv/flume/wal", "", ""},
		{"alias", []string{"flume.collector.port=4000", "flume.master.heartbeat.servers=h:${flume.collector.port}"},
			conf.MasterHeartbeatServers, "h:4000", "", ""},
		{"unresolved kept", []string{"flume.agent.logdir=/x/${nothing}/y"}, conf.AgentLogDir, "/x/${nothing}/y", "",
			"-D: property flume.agent.logdir: ${nothing} refers to no property; kept as written"},
		{"cycle", []string{"a=${b}", "b=${a}", "flume.agent.logdir=${a}"}, conf.AgentLogDir, "data/agent",
			`-D: property flume.agent.logdir: "${a}": more than 20 nested ${...} references (a cycle?)`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := conf.Load(conf.Options{Defines: tt.defines, Getenv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			ws, err := c.Validate()
			if (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			var warns []string
			for _, w := range warningStrings(ws) {
				if !strings.Contains(w, "unknown property") { // a and b are unknown, by design
					warns = append(warns, w)
				}
			}
			if got := strings.Join(warns, "\n"); got != tt.wantWarn {
				t.Fatalf("warnings %q, want %q", got, tt.wantWarn)
			}
			if got := c.String(tt.prop); got != tt.want {
				t.Fatalf("%s = %q, want %q", tt.prop, got, tt.want)
			}
		})
	}
}
