// Package testgen makes the deterministic inputs the tests and benchmarks of the hadoop
// packages compress and store: log-like text and random bytes.
package testgen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
)

// LogText returns n bytes of log-like lines: timestamps, hosts, words from a small vocabulary
// and numbers, as a collector mostly writes. The same seed gives the same text.
func LogText(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"GET", "POST", "/index.html", "/api/v1/items", "200", "404", "ok",
		"user", "session", "timeout", "connected", "closed", "retry", "cache", "miss", "hit"}
	var b bytes.Buffer
	b.Grow(n + 200)
	for b.Len() < n {
		fmt.Fprintf(&b, "2026-12-07T10:%02d:%02d.%03d host%d INFO", r.IntN(60), r.IntN(60), r.IntN(1000), r.IntN(8))
		for range 3 + r.IntN(8) {
			b.WriteByte(' ')
			b.WriteString(words[r.IntN(len(words))])
		}
		fmt.Fprintf(&b, " took=%dms\n", r.IntN(5000))
	}
	return b.Bytes()[:n]
}

// Random returns n random bytes. The same seed gives the same bytes.
func Random(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
