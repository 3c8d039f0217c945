package wire

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// collectorEnv makes the test binary run as a collector process (see TestMain).
const collectorEnv = "WIRE_TEST_COLLECTOR"

// runCollector serves an acking collector on a loopback port, prints the port's address and
// serves until killed.
func runCollector() int {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(lis.Addr())
	if err := NewServer(ackAll, ServerOptions{}).Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startCollectorProcess starts this test binary as a collector process and returns it with
// its address.
func startCollectorProcess(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), collectorEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read collector address: %v", err)
	}
	return cmd, strings.TrimSpace(addr)
}

func TestSIGKILLedCollectorIsNoticedWithinTwoSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	cmd, addr := startCollectorProcess(t)
	s, acks := open(t, dial(t, addr, ClientOptions{}), "agentA")
	if err := s.Send(context.Background(), encode(t, 0, 1, makeEvents(t, 10, 180, 0))); err != nil {
		t.Fatal(err)
	}
	acks.waitN(t, 1)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := failsWithin(t, s, 2*time.Second); status.Code(err) != codes.Unavailable {
		t.Fatalf("stream error %v, want Unavailable", err)
	}
}
