package wal

import (
	"io"
	"slices"
)

// A group commit is written with one positioned vectored write of its parts, in order: the small
// ones (record headers, a chunk's fixed fields, release records) packed into blocks the group
// owns, and a chunk's Head and Data straight from where the caller handed them in. Only pieces
// of chunks shorter than copyBelow are copied, so what the writer allocates for a group is a
// few dozen bytes a chunk, whatever the chunks' size.
const (
	// groupBlock is the size of the first block of small parts, the one block the log keeps
	// from one group to the next: the small parts of about a hundred chunks fit in it.
	groupBlock = 4 << 10
	// keptParts is the most entries (24 bytes each) of the part list the log keeps allocated
	// between groups: a list that grew beyond it is dropped.
	keptParts = 128
	// copyBelow is the size under which a chunk's Head or Data is copied among the small parts
	// rather than written from where it lies: an iovec costs more than such a copy, and so a
	// group's bookkeeping never outgrows the bytes it describes.
	copyBelow = 64
	// iovMax is the most buffers one pwritev(2) takes (IOV_MAX).
	iovMax = 1024
)

// group gathers the records of one group commit for the writer. Its methods are the writer's.
type group struct {
	parts [][]byte // the bytes to write, in order
	size  int64    // bytes of parts
	block []byte   // the block being filled; the small parts are slices of blocks
	first []byte   // the first block, kept from group to group
	open  bool     // the last part is a slice of block that ends at len(block)
}

// grow makes room for parts more parts and small more bytes of small parts, so that a large
// group allocates its part list and its block once, at their final size.
func (g *group) grow(parts, small int) {
	g.parts = slices.Grow(g.parts, parts)
	if cap(g.block)-len(g.block) < small {
		g.newBlock(small)
	}
}

// newBlock starts a block for at least n bytes. A full block is never reallocated: parts keep
// pointing at it, and the group goes on in the new one.
func (g *group) newBlock(n int) {
	switch {
	case g.first == nil && n <= groupBlock:
		g.first = make([]byte, 0, groupBlock)
		g.block = g.first
	default:
		g.block = make([]byte, 0, max(n, 2*cap(g.block), groupBlock))
	}
	g.open = false
}

// reserve adds n bytes to the group's small parts and returns them for the caller to fill.
// Bytes reserved back to back form one part.
func (g *group) reserve(n int) []byte {
	if cap(g.block)-len(g.block) < n {
		g.newBlock(n)
	}
	start := len(g.block)
	g.block = g.block[:start+n]
	if g.open {
		last := &g.parts[len(g.parts)-1]
		*last = (*last)[:len(*last)+n] // within the block: its capacity runs to the block's end
	} else {
		g.parts = append(g.parts, g.block[start:])
		g.open = true
	}
	g.size += int64(n)
	return g.block[start : start+n : start+n]
}

// copied says whether ref copies b among the small parts.
func copied(b []byte) bool { return len(b) < copyBelow }

// ref adds b to the group as it lies, or as a copy if it is short.
func (g *group) ref(b []byte) {
	switch {
	case len(b) == 0:
	case copied(b):
		copy(g.reserve(len(b)), b)
	default:
		g.parts = append(g.parts, b)
		g.size += int64(len(b))
		g.open = false
	}
}

// chunkParts bounds the parts and the bytes of small parts that addChunk adds for c.
func chunkParts(c *Chunk) (parts, small int) {
	parts, small = 1, chunkHeadSize
	for _, b := range [2][]byte{c.Head, c.Data} {
		if copied(b) {
			small += len(b)
		} else {
			parts++
		}
	}
	return parts, small
}

// addChunk adds the record of chunk c: its header and fixed fields, then c.Head and c.Data.
func (g *group) addChunk(c *Chunk) {
	putChunkHead(g.reserve(chunkHeadSize), c)
	g.ref(c.Head)
	g.ref(c.Data)
}

// addRelease adds a release record for ranges, which must not be empty.
func (g *group) addRelease(ranges []seqRange) {
	putReleaseRecord(g.reserve(releaseRecordSize(len(ranges))), ranges)
}

// reset empties the group once it is written or given up. It keeps no reference to a chunk's
// bytes, and keeps only the first block and a short part list allocated: the buffers of a
// large group go with it.
func (g *group) reset() {
	clear(g.parts)
	g.parts = g.parts[:0]
	if cap(g.parts) > keptParts {
		g.parts = nil
	}
	g.block, g.size, g.open = g.first[:0], 0, false
}

// writeParts writes parts back to back at off with pwritev, which takes at most iovMax buffers
// and may write less than it is given: it is called again for the rest until everything is
// written or it fails. It returns the bytes written. parts is left as it was, so that a failed
// write can be tried again.
func writeParts(parts [][]byte, off int64,
	pwritev func(iov [][]byte, off int64) (int, error)) (int64, error) {
	var written int64
	skip := 0 // bytes of parts[0] already written
	for {
		for len(parts) > 0 && skip >= len(parts[0]) {
			skip -= len(parts[0])
			parts = parts[1:]
		}
		if len(parts) == 0 {
			return written, nil
		}
		first := parts[0]
		parts[0] = first[skip:]
		n, err := pwritev(parts[:min(len(parts), iovMax)], off+written)
		parts[0] = first
		if n > 0 {
			written += int64(n)
			skip += n
		}
		if err != nil {
			return written, err
		}
		if n <= 0 {
			return written, io.ErrShortWrite
		}
	}
}
