package bzip2

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
)

// Stream markers.
const (
	blockMagic = 0x314159265359 // BCD of pi: starts a block
	finalMagic = 0x177245385090 // BCD of sqrt(pi): ends a stream
)

// Levels, as the -1 to -9 of the bzip2 command: the block size in units of 100,000 bytes.
const (
	MinLevel     = 1
	MaxLevel     = 9
	DefaultLevel = 9
)

// ErrLevel is returned for a level outside MinLevel to MaxLevel.
var ErrLevel = errors.New("bzip2 level out of range")

// Encoder compresses whole inputs into complete bzip2 streams. It keeps its working memory
// (about 10 MB at level 9 once it has seen a full block) between calls, so reuse one rather
// than making one per call. An Encoder is not safe for concurrent use.
type Encoder struct {
	level int
	blk   blockEncoder
}

// NewEncoder returns an encoder for the given level, 1 to 9.
func NewEncoder(level int) (*Encoder, error) {
	if level < MinLevel || level > MaxLevel {
		return nil, fmt.Errorf("new bzip2 encoder: %w: %d (want %d to %d)", ErrLevel, level, MinLevel, MaxLevel)
	}
	return &Encoder{level: level}, nil
}

// Level returns the encoder's level.
func (e *Encoder) Level() int { return e.level }

// AppendStream appends to dst one complete bzip2 stream holding src, and returns the extended
// slice. An empty src gives an empty stream (a header and an end-of-stream marker), which
// decoders read as no bytes.
//
// The encoder's level is the largest block size it uses. An input shorter than that is
// written with the smallest level whose block size is at least its length: it compresses
// about the same (in one block, where one holds it), and decoders, which allocate memory for
// the block size the header declares, need less (a decoder of a level 9 stream allocates
// 3.6 MB however short the stream).
func (e *Encoder) AppendStream(dst, src []byte) []byte {
	level := min(e.level, max(MinLevel, (len(src)+99_999)/100_000))
	w := bitWriter{buf: dst}
	w.write(32, uint64('B')<<24|uint64('Z')<<16|uint64('h')<<8|uint64('0'+level))
	var combined uint32
	for len(src) > 0 {
		n, crc := e.blk.fill(src, level*100000-19)
		src = src[n:]
		e.blk.encode(&w, crc)
		combined = bits.RotateLeft32(combined, 1) ^ crc
	}
	w.write(48, finalMagic)
	w.write(32, uint64(combined))
	w.flush()
	return w.buf
}

// Compress returns src as one bzip2 stream at the given level. It allocates an encoder per
// call; keep an Encoder to compress many inputs.
func Compress(src []byte, level int) ([]byte, error) {
	e, err := NewEncoder(level)
	if err != nil {
		return nil, err
	}
	return e.AppendStream(nil, src), nil
}

// blockEncoder turns one block into bits. Its slices are reused from block to block.
type blockEncoder struct {
	block   []byte   // the block after the initial run-length encoding
	rotated []byte   // the block turned to its least rotation, whose suffixes sort its rotations
	sa      []int32  // suffix array of double
	bwt     []byte   // the last column of the sorted rotations
	syms    []uint16 // the move-to-front and zero-run coded symbols, ending with EOB
	sais    saisWork
	tables  tableSet
}

// fill run-length encodes a prefix of src into b.block, stopping once the block holds limit
// bytes, and returns how many bytes of src it took and their CRC. Runs of 4 to 255 equal
// bytes become the byte four times and a count of the rest (0 to 251); a longer run is cut
// into runs of 255. A run never spans two blocks, and runs are as long as they can be, which
// decoders that carry the run state past a count of zero rely on.
func (b *blockEncoder) fill(src []byte, limit int) (int, uint32) {
	out := b.block[:0]
	i := 0
	for i < len(src) && len(out) < limit {
		c := src[i]
		j := i + 1
		for j < len(src) && src[j] == c && j-i < 255 {
			j++
		}
		switch run := j - i; {
		case run >= 4:
			out = append(out, c, c, c, c, byte(run-4))
		case run == 3:
			out = append(out, c, c, c)
		case run == 2:
			out = append(out, c, c)
		default:
			out = append(out, c)
		}
		i = j
	}
	b.block = out
	return i, ^updateCRC(0xffffffff, src[:i])
}

// encode writes the block in b.block: header, Burrows-Wheeler transform, move-to-front and
// zero-run coding, then Huffman coding with several tables.
func (b *blockEncoder) encode(w *bitWriter, crc uint32) {
	origPtr := b.transform()

	var inUse [256]bool
	for _, c := range b.block {
		inUse[c] = true
	}
	nInUse := b.mtf(&inUse)

	w.write(48, blockMagic)
	w.write(32, uint64(crc))
	w.write(1, 0) // not randomised
	w.write(24, uint64(origPtr))
	// Symbol map: a bit per range of 16 byte values in use, then 16 bits for each such range.
	var ranges uint64
	for r := range 16 {
		for _, u := range inUse[r*16 : r*16+16] {
			if u {
				ranges |= 1 << (15 - r)
				break
			}
		}
	}
	w.write(16, ranges)
	for r := range 16 {
		if ranges&(1<<(15-r)) == 0 {
			continue
		}
		var m uint64
		for k, u := range inUse[r*16 : r*16+16] {
			if u {
				m |= 1 << (15 - k)
			}
		}
		w.write(16, m)
	}
	b.tables.choose(b.syms, nInUse+2)
	b.tables.write(w, b.syms)
}

// transform sorts the rotations of the block and sets b.bwt to the byte before each rotation
// in sorted order. It returns the index of the unrotated block among the sorted rotations.
//
// Rotations are sorted as suffixes. Rotate the block to its least rotation t; then, with the
// end of t ordered before every byte, the order of the suffixes of t is an order of the
// rotations of t. Where the orders could differ, a suffix t[j:] being a prefix of a longer
// t[i:], the rotations compare as t against the rotation at i+n-j, and t is the least of all
// rotations. Equal rotations (a periodic block) come in some order, which does not matter:
// equal rotations are preceded by equal bytes, and decoding from any of them gives the same
// block. This sorts n suffixes instead of the 2n of the block written twice.
func (b *blockEncoder) transform() int {
	s := b.block
	n := len(s)
	r := leastRotation(s)
	b.rotated = append(append(b.rotated[:0], s[r:]...), s[:r]...)
	b.sa = grow(b.sa, n)
	suffixSort(b.rotated, b.sa, 256, &b.sais, 0)
	b.bwt = grow(b.bwt, n)
	origPtr := 0
	for k, p := range b.sa {
		// The suffix at p of the rotated block is the rotation at p+r of the block.
		q := int(p) + r
		if q >= n {
			q -= n
		}
		if q == 0 {
			origPtr = k
			q = n
		}
		b.bwt[k] = s[q-1]
	}
	return origPtr
}

// leastRotation returns where the lexicographically least rotation of s starts: two
// candidates i and j are compared over k bytes; at a difference the worse candidate skips
// past the k+1 positions it has lost with. It runs in linear time.
func leastRotation(s []byte) int {
	n := len(s)
	at := func(i int) byte {
		if i >= n {
			i -= n
		}
		return s[i]
	}
	i, j, k := 0, 1, 0
	for i < n && j < n && k < n {
		a, c := at(i+k), at(j+k)
		if a == c {
			k++
			continue
		}
		if a > c {
			i += k + 1
		} else {
			j += k + 1
		}
		if i == j {
			j++
		}
		k = 0
	}
	return min(i, j)
}

// mtf codes b.bwt into b.syms: each byte becomes its position in a move-to-front list of the
// bytes in use, runs of position 0 are written in bijective base 2 with the digits RUNA (1)
// and RUNB (2), other positions p become symbol p+1, and EOB (nInUse+1) ends the block. It
// returns the number of byte values in use.
func (b *blockEncoder) mtf(inUse *[256]bool) int {
	var seq [256]byte // byte value -> index among the values in use
	nInUse := 0
	for c, u := range inUse {
		if u {
			seq[c] = byte(nInUse)
			nInUse++
		}
	}
	var order [256]byte
	for i := range nInUse {
		order[i] = byte(i)
	}
	syms := b.syms[:0]
	zeros := 0
	for _, c := range b.bwt {
		s := seq[c]
		if order[0] == s {
			zeros++
			continue
		}
		if zeros > 0 {
			syms = appendZeroRun(syms, zeros)
			zeros = 0
		}
		// IndexByte and copy run on vector instructions: on bytes of no pattern, where
		// positions average 128, they beat a loop that searches and shifts at once.
		j := bytes.IndexByte(order[1:nInUse], s) + 1
		copy(order[1:j+1], order[:j])
		order[0] = s
		syms = append(syms, uint16(j+1))
	}
	if zeros > 0 {
		syms = appendZeroRun(syms, zeros)
	}
	b.syms = append(syms, uint16(nInUse+1))
	return nInUse
}

// appendZeroRun appends a run of n zeros (n >= 1): n+1 written in binary without its leading
// one, least significant digit first, with RUNA for 0 and RUNB for 1.
func appendZeroRun(syms []uint16, n int) []uint16 {
	for n > 0 {
		n--
		syms = append(syms, uint16(n&1)) // RUNA is 0, RUNB is 1
		n >>= 1
	}
	return syms
}
