package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestAdminCommands(t *testing.T) {
	for _, clients := range []int{1, 4} {
		t.Run(strings.Repeat("c", clients), func(t *testing.T) {
			f, err := benchAdmin(testContext(t), 50, clients)
			if err != nil {
				t.Fatal(err)
			}
			if f.Commands != 50 || f.Seconds <= 0 || f.P50 <= 0 || f.P99 < f.P50 || f.Max < f.P99 {
				t.Fatalf("figures %+v", f)
			}
		})
	}
}

func TestFleetHeartbeats(t *testing.T) {
	f, err := benchHeartbeats(testContext(t), 50, 5, 2*heartbeatPeriod)
	if err != nil {
		t.Fatal(err)
	}
	// Each node sends at its offset in the first period, then once more a period later.
	if f.Nodes != 50 || f.Heartbeats != 100 || f.Seconds < 2 || f.CPUSeconds <= 0 {
		t.Fatalf("figures %+v", f)
	}
	if !strings.Contains(f.String(), "process CPU, master and simulated nodes together") {
		t.Fatalf("figures read %q", f)
	}
}

func TestConfigChange(t *testing.T) {
	f, err := benchChange(testContext(t), changeRun{nodes: 50, conns: 5, timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if f.Nodes != 50 || f.P50 <= 0 || f.P99 < f.P50 || f.Max < f.P99 || f.All < f.Max {
		t.Fatalf("figures %+v", f)
	}
}

func TestConfigChangeFailsWhenANodeNeverSeesIt(t *testing.T) {
	_, err := benchChange(testContext(t), changeRun{nodes: 50, conns: 5, timeout: 2 * time.Second, elsewhere: 2})
	if err == nil || !strings.Contains(err.Error(), "2 of 50 nodes never received the new configuration") ||
		!strings.Contains(err.Error(), "node48 node49") {
		t.Fatalf("error %v, want one naming node48 and node49", err)
	}
}

func TestQuantile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.99, 10}, {0.1, 1}, {1, 10}}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			if got := quantile(d, tt.q); got != tt.want {
				t.Fatalf("quantile %v = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}
