package agent

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine of a sink, a decorator, a log or a test
// collector outlives its Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
