package client

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeMaster answers GetMembers with its answer, counts its calls and records the token.
type fakeMaster struct {
	flumev1.UnimplementedAdminServiceServer
	answer error
	calls  atomic.Int32
	token  atomic.Value
}

func (f *fakeMaster) GetMembers(ctx context.Context, _ *flumev1.GetMembersRequest) (*flumev1.GetMembersResponse, error) {
	f.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	f.token.Store(strings.Join(md.Get(TokenHeader), ","))
	if f.answer != nil {
		return nil, f.answer
	}
	return &flumev1.GetMembersResponse{AnsweredBy: "ok"}, nil
}

func serve(t *testing.T, f *fakeMaster) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	flumev1.RegisterAdminServiceServer(s, f)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return l.Addr().String()
}

func members(ctx context.Context, c *Client) (*flumev1.GetMembersResponse, error) {
	var resp *flumev1.GetMembersResponse
	err := c.Admin(ctx, "members", func(ctx context.Context, a flumev1.AdminServiceClient) (err error) {
		resp, err = a.GetMembers(ctx, &flumev1.GetMembersRequest{})
		return err
	})
	return resp, err
}

// TestCallTriesTheMastersInTurnWithTheToken: a master without a leader answers Unavailable; the
// next one answers; the token rides on every call; the one that answered is asked first next.
func TestCallTriesTheMastersInTurnWithTheToken(t *testing.T) {
	down := &fakeMaster{answer: status.Error(codes.Unavailable, "no leader yet")}
	up := &fakeMaster{}
	c, err := New(Options{Addrs: []string{serve(t, down), serve(t, up)}, Token: "s3cret-s3cret-s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 2 {
		if resp, err := members(ctx, c); err != nil || resp.GetAnsweredBy() != "ok" {
			t.Fatalf("members: %v, %v", resp, err)
		}
	}
	if down.calls.Load() != 1 || up.calls.Load() != 2 {
		t.Fatalf("calls: %d to the master without a leader, %d to the other; want 1 and 2", down.calls.Load(), up.calls.Load())
	}
	if got := up.token.Load(); got != "Bearer s3cret-s3cret-s3cret" {
		t.Fatalf("token header %q", got)
	}
}

// TestRefusalsKeepTheirCodeAndAreNotRetried: a PermissionDenied comes back at once, with its
// code, naming the master; an ensemble where no master answers fails when ctx ends.
func TestRefusalsKeepTheirCodeAndAreNotRetried(t *testing.T) {
	no := &fakeMaster{answer: status.Error(codes.PermissionDenied, "token abc (read) may not run config")}
	addr := serve(t, no)
	c, err := New(Options{Addrs: []string{addr, addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = members(ctx, c)
	var ce *Error
	if status.Code(err) != codes.PermissionDenied || !errors.As(err, &ce) || ce.Master != addr || no.calls.Load() != 1 ||
		!strings.Contains(err.Error(), "members: master "+addr+": token abc (read) may not run config") {
		t.Fatalf("refusal: %v (%d calls)", err, no.calls.Load())
	}
	down := &fakeMaster{answer: status.Error(codes.Unavailable, "no leader yet")}
	c2, err := New(Options{Addrs: []string{serve(t, down)}})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer scancel()
	_, err = members(sctx, c2)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "no master answered in time") || down.calls.Load() < 2 {
		t.Fatalf("no leader until the deadline: %v after %d calls", err, down.calls.Load())
	}
}

func TestHandshakeFailuresAreNotRetriedAndExplained(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: x509: unknown authority"`), true},
		{status.Error(codes.Unavailable, `connection error: desc = "error reading server preface: EOF"`), true},
		{status.Error(codes.Unavailable, "no leader yet"), false},
		{status.Error(codes.PermissionDenied, "authentication handshake failed"), false},
	} {
		if got := HandshakeFailed(c.err); got != c.want {
			t.Errorf("HandshakeFailed(%v) = %v", c.err, got)
		}
	}
	e := &Error{Master: "m:1", Err: status.Error(codes.Unavailable, `error reading server preface: EOF`), plaintext: true}
	if !strings.Contains(e.Error(), "the master may require TLS") {
		t.Errorf("no hint: %s", e)
	}
}
