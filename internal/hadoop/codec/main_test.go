package codec_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The codecs start no goroutines of their own: readers and the shared Zstandard encoder work
// on their callers' goroutines.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
