package wal

import (
	"slices"
	"sort"
)

// segment is one segment file as the index sees it.
type segment struct {
	base   uint64
	path   string
	size   int64 // bytes of the file that hold valid records (the write position of the active one)
	chunks int   // durable chunk records in it
	live   int   // of those, not released
}

// chunkInfo locates one durable chunk.
type chunkInfo struct {
	seq      uint64
	count    uint32
	created  int64
	size     int   // bytes of data
	off      int64 // offset of its record in seg
	seg      *segment
	released bool
	// rel is the segment that holds the chunk's durable release record; nil while the chunk is
	// unreleased or its release record is not yet synced.
	rel *segment
}

func (c *chunkInfo) ref() ChunkRef {
	return ChunkRef{Seq: c.seq, Count: c.count, Created: c.created, Size: c.size}
}

// index holds every durable chunk of every segment still on disk, in seq order.
type index struct {
	chunks []*chunkInfo
	live   int // chunks not released
}

// add appends c, whose seq is above every indexed seq.
func (x *index) add(c *chunkInfo) {
	x.chunks = append(x.chunks, c)
	c.seg.chunks++
	if !c.released {
		c.seg.live++
		x.live++
	}
}

// find returns the chunk with seq s, or nil.
func (x *index) find(s uint64) *chunkInfo {
	i := sort.Search(len(x.chunks), func(i int) bool { return x.chunks[i].seq >= s })
	if i < len(x.chunks) && x.chunks[i].seq == s {
		return x.chunks[i]
	}
	return nil
}

// inRange calls fn for every chunk with first <= seq <= last.
func (x *index) inRange(first, last uint64, fn func(*chunkInfo)) {
	i := sort.Search(len(x.chunks), func(i int) bool { return x.chunks[i].seq >= first })
	for ; i < len(x.chunks) && x.chunks[i].seq <= last; i++ {
		fn(x.chunks[i])
	}
}

// release marks c released, its release record to be durable in rel (nil: not yet).
func (x *index) release(c *chunkInfo, rel *segment) {
	if !c.released {
		c.released = true
		c.seg.live--
		x.live--
	}
	c.rel = rel
}

// drop forgets the chunks of the segments in gone.
func (x *index) drop(gone map[*segment]bool) {
	x.chunks = slices.DeleteFunc(x.chunks, func(c *chunkInfo) bool {
		if gone[c.seg] {
			if !c.released {
				x.live--
			}
			return true
		}
		return false
	})
}

// firstUnreleased returns the seq of the oldest chunk not released.
func (x *index) firstUnreleased() (uint64, bool) {
	if x.live == 0 {
		return 0, false
	}
	for _, c := range x.chunks {
		if !c.released {
			return c.seq, true
		}
	}
	return 0, false
}

// unreleased returns the refs of the chunks not released, in seq order.
func (x *index) unreleased() []ChunkRef {
	out := make([]ChunkRef, 0, x.live)
	for _, c := range x.chunks {
		if !c.released {
			out = append(out, c.ref())
		}
	}
	return out
}
