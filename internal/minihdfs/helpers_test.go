package minihdfs

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/colinmarc/hdfs/v2"
	"go.uber.org/goleak"
)

// The client leaves the goroutine that reads a block's acks blocked forever when writing to a
// pipeline whose DataNode went away fails (blockWriteStream.finish returns before closing its
// packet channel). That is the client's leak, not ours; every other goroutine must end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/colinmarc/hdfs/v2/internal/transfer.(*blockWriteStream).ackPackets"))
}

// startCluster starts a cluster in a temporary directory, closed when the test ends.
func startCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := Start(opts)
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newClient connects an unmodified client as user "flume", closed when the test ends.
func newClient(t testing.TB, c *Cluster, addrs ...string) *hdfs.Client {
	t.Helper()
	if len(addrs) == 0 {
		addrs = []string{c.NameNodeAddr()}
	}
	cl, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: addrs, User: "flume"})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// doomedClient is newClient for a writer that is to die: abandon closes the client (its lease
// renewals stop) without closing its files; the test's end calls it too if the test did not.
func doomedClient(t testing.TB, c *Cluster) (cl *hdfs.Client, abandon func()) {
	t.Helper()
	cl, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{c.NameNodeAddr()}, User: "flume"})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	abandon = sync.OnceFunc(func() { _ = cl.Close() })
	t.Cleanup(abandon)
	return cl, abandon
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeFile creates name with blockSize and writes data in pieces of step bytes.
func writeFile(t testing.TB, cl *hdfs.Client, name string, blockSize int64, data []byte, step int) {
	t.Helper()
	w, err := cl.CreateFile(name, 1, blockSize, 0o644)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	for off := 0; off < len(data); off += step {
		if _, err := w.Write(data[off:min(off+step, len(data))]); err != nil {
			t.Fatalf("write %s at %d: %v", name, off, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close %s: %v", name, err)
	}
}

// exception returns the Java exception class an error from the client carries, if any.
func exception(err error) string {
	var he hdfs.Error
	if errors.As(err, &he) {
		return he.Exception()
	}
	var re *remoteError // from rawCall
	if errors.As(err, &re) {
		return re.class
	}
	return ""
}

// readAll reads name through the client.
func readAll(t testing.TB, cl *hdfs.Client, name string) []byte {
	t.Helper()
	f, err := cl.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

func size(t testing.TB, cl *hdfs.Client, name string) int64 {
	t.Helper()
	fi, err := cl.Stat(name)
	if err != nil {
		t.Fatalf("stat %s: %v", name, err)
	}
	return fi.Size()
}

// isNotExist etc. keep the assertions short.
func isNotExist(err error) bool   { return errors.Is(err, os.ErrNotExist) }
func isExist(err error) bool      { return errors.Is(err, os.ErrExist) }
func isPermission(err error) bool { return errors.Is(err, os.ErrPermission) }

const wait = 10 * time.Second
