package command

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/node/builtin"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

func TestParse(t *testing.T) {
	reg := builtin.Registry()
	tests := []struct {
		argv    []string
		want    string // the command in protobuf text, or the error
		wantErr bool
	}{
		{[]string{"config", "agentA", `tail("/var/log/app.log",  true)`, `{ value("dc","east") => console }`},
			`set_configs:{configs:{node:"agentA" flow:"default-flow" source:"tail(\"/var/log/app.log\", true)" sink:"value(\"dc\", \"east\") console"}}`, false},
		{[]string{"config", "agentA", "web", "null", "null"},
			`set_configs:{configs:{node:"agentA" flow:"web" source:"null" sink:"null"}}`, false},
		{[]string{"multiconfig", "a : null | null ; b : stdin | console ;"},
			`set_configs:{configs:{node:"a" flow:"default-flow" source:"null" sink:"null"} configs:{node:"b" flow:"default-flow" source:"stdin" sink:"console"}}`, false},
		{[]string{"map", "host1", "agentA"}, `map_node:{physical:"host1" logical:"agentA"}`, false},
		// The classic walkthrough names its collector "collector", a reserved word of specs.
		{[]string{"config", "collector", "collectorSource(35853)", `collectorSink("hdfs://namenode/flume/", "syslog")`},
			`set_configs:{configs:{node:"collector" flow:"default-flow" source:"collectorSource(35853)" sink:"collectorSink(\"hdfs://namenode/flume/\", \"syslog\")"}}`, false},
		{[]string{"map", "host1", "collector"}, `map_node:{physical:"host1" logical:"collector"}`, false},
		{[]string{"multiconfig", "collector : collectorSource(35853) | null ;"},
			`set_configs:{configs:{node:"collector" flow:"default-flow" source:"collectorSource(35853)" sink:"null"}}`, false},
		{[]string{"spawn", "host1", "agentA"}, `map_node:{physical:"host1" logical:"agentA"}`, false},
		{[]string{"unmapAll"}, `unmap_node:{all:true}`, false},
		{[]string{"setChokeLimit", "host1", "web", "512"}, `set_choke_limit:{physical:"host1" choke_id:"web" limit_kbps:512}`, false},
		{[]string{"refreshAll"}, `refresh:{all:true}`, false},
		{[]string{"config", "agentA", `tial("/x")`, "console"},
			`config agentA: source:1:1: unknown source "tial"; did you mean "tail"?`, true},
		{[]string{"config", "agentA", `null`, `console(`},
			`config agentA: sink:1:9: expected`, true},
		{[]string{"config", "agentA", `text("/x")`, `regex("(", 1, "a") null`},
			`config agentA: sink:1:7: regex: argument regex:`, true},
		{[]string{"config", "bad name", "null", "null"}, `"bad name" is not a valid logical node name`, true},
		{[]string{"config", " collector", "null", "null"}, `" collector" is not a valid logical node name: it has leading or trailing space`, true},
		{[]string{"config", "agentA", "null"}, "bad command: config: 2 arguments; usage: config <logical> [<flow>] '<source>' '<sink>'", true},
		{[]string{"multiconfig", "a : null | null ; a : null | null ;"}, `multiconfig:1:19: logical node "a" is defined twice`, true},
		{[]string{"multiconfig", "// nothing"}, "no logical node defined", true},
		{[]string{"setChokeLimit", "h", "c", "fast"}, `limit "fast" is not a whole number of KB/s`, true},
		{[]string{"maps", "h", "a"}, `unknown command "maps"; did you mean "map"?`, true},
		{[]string{"noop", "-5"}, `delay "-5"`, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.argv, " "), func(t *testing.T) {
			c, err := Parse(tt.argv, reg)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want it to contain %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := &flumev1.Command{}
			if err := prototext.Unmarshal([]byte(tt.want), want); err != nil {
				t.Fatalf("bad expectation %q: %v", tt.want, err)
			}
			want.Argv = tt.argv
			if !proto.Equal(c, want) {
				t.Fatalf("command %v\nwant    %v", c, want)
			}
		})
	}
}

func TestUsageErrorsAreTyped(t *testing.T) {
	_, err := Parse([]string{"unmap", "x"}, builtin.Registry())
	if !errors.Is(err, ErrUsage) {
		t.Fatalf("%v is not ErrUsage", err)
	}
	if _, err := Parse([]string{"frobnicate"}, builtin.Registry()); !errors.Is(err, ErrUsage) {
		t.Fatalf("%v is not ErrUsage", err)
	}
}

func TestCommandSizeIsBounded(t *testing.T) {
	reg := builtin.Registry()
	if _, err := Parse(append([]string{"noop"}, make([]string, 100)...), reg); !errors.Is(err, ErrUsage) ||
		!strings.Contains(err.Error(), "101 arguments") {
		t.Fatalf("many arguments: %v", err)
	}
	if _, err := Parse([]string{"unconfig", strings.Repeat("x", 5<<20)}, reg); !errors.Is(err, ErrUsage) ||
		!strings.Contains(err.Error(), "at most 64 arguments and 491520 bytes") {
		t.Fatalf("a huge argument: %v", err)
	}
}
