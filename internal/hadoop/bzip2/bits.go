package bzip2

// crcTable is the CRC-32 of bzip2: polynomial 0x04C11DB7 processed most significant bit
// first (not the bit-reflected form of hash/crc32), one entry per leading byte.
var crcTable = func() (t [256]uint32) {
	const poly = 0x04c11db7
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ poly
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// updateCRC adds p to a running CRC. A block's CRC starts at 0xFFFFFFFF and is inverted at
// the end.
func updateCRC(crc uint32, p []byte) uint32 {
	for _, b := range p {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^b]
	}
	return crc
}

// bitWriter appends bits to a byte slice, most significant bit first, as bzip2 orders them.
type bitWriter struct {
	buf  []byte
	acc  uint64 // pending bits, in the low n bits
	nacc uint
}

// write appends the low n bits of v; n is at most 48.
func (w *bitWriter) write(n uint, v uint64) {
	w.acc = w.acc<<n | v&(1<<n-1)
	w.nacc += n
	for w.nacc >= 8 {
		w.nacc -= 8
		w.buf = append(w.buf, byte(w.acc>>w.nacc))
	}
}

// flush pads the last byte with zero bits.
func (w *bitWriter) flush() {
	if w.nacc > 0 {
		w.buf = append(w.buf, byte(w.acc<<(8-w.nacc)))
		w.nacc = 0
	}
	w.acc = 0
}
