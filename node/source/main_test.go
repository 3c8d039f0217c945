package source

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/source/internal/record"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newEnv returns an env whose registry holds the sources of this package.
func newEnv(props map[string]string) *plugintest.Env {
	return plugintest.NewEnv(props, Register)
}

// drain reads s to io.EOF and returns copies of the events, checking that every batch holds
// at most the record.MaxBatch events the package promises.
func drain(t testing.TB, s plugin.Source) []*event.Event {
	t.Helper()
	return plugintest.DrainLimit(t, s, 20*time.Second, record.MaxBatch)
}

func TestRegisterNamesEverySource(t *testing.T) {
	want := []string{"asciisynth", "exec", "execPeriodic", "execStream", "fail", "multitail", "nonlsynth",
		"null", "stdin", "synth", "synthrndsize", "tail", "tailDir", "text"}
	if got := plugintest.Names(t, newEnv(nil).Registry, plugin.KindSource); !slices.Equal(got, want) {
		t.Errorf("sources = %v, want %v", got, want)
	}
}

func TestNullEndsAtOnce(t *testing.T) {
	s := newEnv(nil).OpenSource(t, "null")
	if _, err := s.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("Next = %v, want io.EOF", err)
	}
}

func TestFailReturnsTheMessage(t *testing.T) {
	tests := []struct {
		spec, want string
	}{
		{`fail("no collectors")`, "fail: no collectors"},
		{`fail`, "fail"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := newEnv(nil).BuildSource(t, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Open(context.Background())
			if err == nil || err.Error() != tt.want || !errors.Is(err, ErrFail) || !plugin.IsPermanent(err) {
				t.Fatalf("Open = %v, want permanent %q", err, tt.want)
			}
			if _, err := s.Next(context.Background()); !errors.Is(err, ErrFail) {
				t.Fatalf("Next = %v, want ErrFail", err)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
