package deco

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/retry"
	"github.com/flumego/flume/node/spec"
)

// shortBackoff is a backoff short enough for tests.
func shortBackoff() retry.Backoff {
	return retry.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}
}

func TestInsistentOpen(t *testing.T) {
	permanent := plugin.Permanent(errors.New("bad address"))
	tests := []struct {
		name      string
		args      []int64 // insistentOpen arguments, in ms
		openFails int
		openErr   error
		wantErr   error // nil: Open succeeds
		wantOpens int
		retries   int64
		giveups   int64
	}{
		{name: "opens at once", wantOpens: 1},
		{name: "eventually opens", openFails: 5, wantOpens: 6, retries: 5},
		{name: "permanent error returned at once", openFails: 5, openErr: permanent,
			wantErr: permanent, wantOpens: 1},
		// Waits 1, 2, 2 ms add up to 5; the next 2 would pass the cap of 5.
		{name: "gives up at the cumulative cap", args: []int64{2, 1, 5}, openFails: 100,
			wantErr: errOpenRefused, wantOpens: 4, retries: 3, giveups: 1},
		{name: "arguments override properties", args: []int64{1, 1, 3}, openFails: 100,
			wantErr: errOpenRefused, wantOpens: 4, retries: 3, giveups: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv()
			sink := &testSink{openFails: tt.openFails, openErr: tt.openErr}
			var args []spec.Value
			for _, a := range tt.args {
				args = append(args, argInt(a))
			}
			s := mustBuildCall(t, env, newCall("insistentOpen", args...), sink)
			err := s.Open(context.Background())
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Open = %v, want nil", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open = %v, want an error wrapping %v", err, tt.wantErr)
			}
			if tt.wantErr == permanent && !plugin.IsPermanent(err) {
				t.Fatalf("Open = %v, which lost the permanent mark", err)
			}
			if opens, _, _ := sink.counts(); opens != tt.wantOpens {
				t.Fatalf("sink opened %d times, want %d", opens, tt.wantOpens)
			}
			if got := env.Counter("insistentOpen.retries"); got != tt.retries {
				t.Fatalf("retries = %d, want %d", got, tt.retries)
			}
			if got := env.Counter("insistentOpen.giveups"); got != tt.giveups {
				t.Fatalf("giveups = %d, want %d", got, tt.giveups)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}

func TestInsistentOpenStopsOnCancel(t *testing.T) {
	env := testEnv()
	env.Props[PropInsistentInit] = "3600000" // an hour: only the cancel can end the wait
	env.Props[PropBackoffMax] = "3600000"
	sink := &testSink{openFails: 1 << 30}
	s := mustBuildCall(t, env, newCall("insistentOpen"), sink)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := plugintest.Go(func() error { return s.Open(ctx) })
	plugintest.Eventually(t, 5*time.Second, func() bool {
		opens, _, _ := sink.counts()
		return opens >= 1
	}, func() string { return "no open attempt yet" })
	start := time.Now()
	cancel()
	err := open.Wait(t, 5*time.Second)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errOpenRefused) {
		t.Fatalf("Open = %v, want context.Canceled and the last open error", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Open returned %v after cancel", el)
	}
}

func TestInsistentAppend(t *testing.T) {
	permanent := plugin.Permanent(errors.New("schema mismatch"))
	tests := []struct {
		name        string
		args        []int64
		appendFails int
		appendErr   error
		wantErr     error
		wantAppends int
		retries     int64
	}{
		{name: "appends at once", wantAppends: 1},
		{name: "eventually appends", appendFails: 4, wantAppends: 5, retries: 4},
		{name: "permanent error returned at once", appendFails: 4, appendErr: permanent,
			wantErr: permanent, wantAppends: 1},
		{name: "gives up at the cumulative cap", args: []int64{2, 1, 5}, appendFails: 100,
			wantErr: errAppendRefused, wantAppends: 4, retries: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv()
			sink := &testSink{appendFails: tt.appendFails, appendErr: tt.appendErr}
			var args []spec.Value
			for _, a := range tt.args {
				args = append(args, argInt(a))
			}
			s := mustBuildCall(t, env, newCall("insistentAppend", args...), sink)
			mustOpen(t, s)
			err := s.Append(context.Background(), numbered("e", 3))
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Append = %v, want nil", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Append = %v, want an error wrapping %v", err, tt.wantErr)
			}
			if _, appends, _ := sink.counts(); appends != tt.wantAppends {
				t.Fatalf("sink got %d appends, want %d", appends, tt.wantAppends)
			}
			if tt.wantErr == nil {
				equalStrings(t, "delivered", sink.bodies(), []string{"e0", "e1", "e2"})
			}
			if got := env.Counter("insistentAppend.retries"); got != tt.retries {
				t.Fatalf("retries = %d, want %d", got, tt.retries)
			}
		})
	}
}

func TestInsistentAppendResetsBetweenBatches(t *testing.T) {
	// A cap of 5 ms allows 3 retries per Append; two Appends that each need 3 retries both
	// succeed only if the second starts with a fresh budget.
	env := testEnv()
	sink := &testSink{appendFails: 3}
	s := mustBuildCall(t, env, newCall("insistentAppend", argInt(2), argInt(1), argInt(5)), sink)
	mustOpen(t, s)
	appendAll(t, s, numbered("a", 1), 1)
	sink.mu.Lock()
	sink.appendFails = 3
	sink.mu.Unlock()
	appendAll(t, s, numbered("b", 1), 1)
	equalStrings(t, "delivered", sink.bodies(), []string{"a0", "b0"})
}

func TestInsistentAppendStopsOnCancel(t *testing.T) {
	env := testEnv()
	env.Props[PropInsistentInit] = "3600000"
	env.Props[PropBackoffMax] = "3600000"
	sink := &testSink{appendFails: 1 << 30}
	s := mustBuildCall(t, env, newCall("insistentAppend"), sink)
	mustOpen(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	appended := plugintest.Go(func() error { return s.Append(ctx, numbered("e", 1)) })
	plugintest.Eventually(t, 5*time.Second, func() bool {
		_, appends, _ := sink.counts()
		return appends >= 1
	}, func() string { return "no append attempt yet" })
	cancel()
	if err := appended.Wait(t, 5*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append = %v, want context.Canceled", err)
	}
}

func TestStubbornAppend(t *testing.T) {
	permanent := plugin.Permanent(errors.New("too large"))
	tests := []struct {
		name        string
		appendFails int
		appendErr   error
		wantErr     error
		wantOpens   int // including the Open of the test
		wantCloses  int
		delivered   []string
		failures    int64
		recovers    int64
	}{
		{name: "no failure", wantOpens: 1, delivered: []string{"e0", "e1"}},
		{name: "one failure is recovered by a reopen", appendFails: 1, wantOpens: 2, wantCloses: 1,
			delivered: []string{"e0", "e1"}, failures: 1, recovers: 1},
		{name: "a second failure is returned", appendFails: 2, wantErr: errAppendRefused,
			wantOpens: 2, wantCloses: 1, failures: 1},
		{name: "a permanent failure is not retried", appendFails: 1, appendErr: permanent,
			wantErr: permanent, wantOpens: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv()
			sink := &testSink{appendFails: tt.appendFails, appendErr: tt.appendErr}
			s := mustBuildCall(t, env, newCall("stubbornAppend"), sink)
			mustOpen(t, s)
			err := s.Append(context.Background(), numbered("e", 2))
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Append = %v, want nil", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Append = %v, want an error wrapping %v", err, tt.wantErr)
			}
			opens, _, closes := sink.counts()
			if opens != tt.wantOpens || closes != tt.wantCloses {
				t.Fatalf("sink opened %d and closed %d times, want %d and %d",
					opens, closes, tt.wantOpens, tt.wantCloses)
			}
			equalStrings(t, "delivered", sink.bodies(), tt.delivered)
			if got := env.Counter("stubbornAppend.failures"); got != tt.failures {
				t.Fatalf("failures = %d, want %d", got, tt.failures)
			}
			if got := env.Counter("stubbornAppend.recovers"); got != tt.recovers {
				t.Fatalf("recovers = %d, want %d", got, tt.recovers)
			}
		})
	}
}

func TestStubbornAppendReopenFails(t *testing.T) {
	sink := &testSink{appendFails: 1}
	s := mustBuildCall(t, testEnv(), newCall("stubbornAppend"), sink)
	mustOpen(t, s)
	sink.mu.Lock()
	sink.openFails = 1
	sink.mu.Unlock()
	err := s.Append(context.Background(), numbered("e", 1))
	if !errors.Is(err, errOpenRefused) {
		t.Fatalf("Append = %v, want the reopen error", err)
	}
}

func TestLazyOpen(t *testing.T) {
	ctx := context.Background()
	t.Run("opens on first append", func(t *testing.T) {
		sink := &testSink{}
		s := mustBuildCall(t, testEnv(), newCall("lazyOpen"), sink)
		mustOpen(t, s)
		if opens, _, _ := sink.counts(); opens != 0 {
			t.Fatalf("sink opened %d times before any append", opens)
		}
		appendAll(t, s, numbered("e", 3), 1)
		if opens, appends, _ := sink.counts(); opens != 1 || appends != 3 {
			t.Fatalf("opens, appends = %d, %d; want 1, 3", opens, appends)
		}
		for range 2 {
			if err := s.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		if _, _, closes := sink.counts(); closes != 1 {
			t.Fatalf("sink closed %d times, want 1", closes)
		}
	})
	t.Run("never opened is never closed", func(t *testing.T) {
		sink := &testSink{}
		s := mustBuildCall(t, testEnv(), newCall("lazyOpen"), sink)
		mustOpen(t, s)
		if err := s.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if opens, _, closes := sink.counts(); opens != 0 || closes != 0 {
			t.Fatalf("opens, closes = %d, %d; want 0, 0", opens, closes)
		}
	})
	t.Run("failed open is retried by the next append", func(t *testing.T) {
		sink := &testSink{openFails: 1}
		s := mustBuildCall(t, testEnv(), newCall("lazyOpen"), sink)
		mustOpen(t, s)
		if err := s.Append(ctx, numbered("e", 1)); !errors.Is(err, errOpenRefused) {
			t.Fatalf("first Append = %v, want the open error", err)
		}
		appendAll(t, s, numbered("f", 1), 1)
		equalStrings(t, "delivered", sink.bodies(), []string{"f0"})
		if err := s.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

// The agent tier composes these decorators in code; check the classic DFO drain stack
// insistentAppend stubbornAppend insistentOpen rides out a sink that fails its appends and
// then its reopens.
func TestRetryStackRidesOutOutage(t *testing.T) {
	env := testEnv()
	sink := &testSink{appendFails: 1}
	s := NewInsistentAppend(env.BuildContext, NewStubbornAppend(env.BuildContext, NewInsistentOpen(env.BuildContext, sink, shortBackoff())), shortBackoff())
	mustOpen(t, s)
	sink.mu.Lock()
	sink.appendFails, sink.openFails = 3, 3
	sink.mu.Unlock()
	appendAll(t, s, numbered("e", 2), 2)
	equalStrings(t, "delivered", sink.bodies(), []string{"e0", "e1"})
}
