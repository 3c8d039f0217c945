package deco

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine a decorator started outlives its Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
