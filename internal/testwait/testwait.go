// Package testwait is how tests wait for a state: they poll a condition until it holds or a
// deadline passes, and never sleep for a guessed while. Every package's tests use it (through
// node/plugin/plugintest.Eventually too), so that a wait reads, fails and reports the same way
// everywhere.
package testwait

import (
	"testing"
	"time"
)

// poll is how often a condition is tried again.
const poll = 5 * time.Millisecond

// Within polls cond until it holds, and reports whether it did within d: for a test that goes on
// either way.
func Within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(poll)
	}
	return true
}

// For polls cond until it holds, failing tb with msg() (nil: a plain message) once d has
// passed.
func For(tb testing.TB, d time.Duration, cond func() bool, msg func() string) {
	tb.Helper()
	if !Within(d, cond) {
		m := "condition never held"
		if msg != nil {
			m = msg()
		}
		tb.Fatalf("timed out after %v: %s", d, m)
	}
}

// Until polls cond until it holds, failing tb after d with what it waited for.
func Until(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !Within(d, cond) {
		tb.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// UntilNil polls fn until it returns nil, failing tb after d with what it waited for and fn's
// last error.
func UntilNil(tb testing.TB, d time.Duration, what string, fn func() error) {
	tb.Helper()
	var err error
	if !Within(d, func() bool { err = fn(); return err == nil }) {
		tb.Fatalf("%s: not within %v: %v", what, d, err)
	}
}
