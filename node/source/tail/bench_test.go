package tail

import (
	"testing"

	"github.com/flumego/flume/node/plugin/plugintest"
)

// BenchmarkTailReadsAFile reads a file of 100-byte lines through tail. One op is one event.
func BenchmarkTailReadsAFile(b *testing.B) {
	path := logPath(b)
	plugintest.WriteLines(b, path, b.N)
	plugintest.BenchSource(b, newEnv(fastPoll).OpenSource(b, tailSpec(path, "")), nil, 100)
}
