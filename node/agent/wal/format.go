package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"strconv"
	"strings"
)

// The format's constants; doc.go describes the layout.
const (
	magic          = "FLUMEWAL"
	formatVersion  = 1
	segHeaderSize  = 32
	recHeaderSize  = 24
	chunkFixedSize = 12 // count + created, ahead of a chunk's data
	rangeSize      = 16
	segSuffix      = ".wal"
	segNameDigits  = 20

	recChunk   byte = 1
	recRelease byte = 2

	// maxPayload bounds a record so that a damaged length cannot make recovery allocate
	// gigabytes; chunks are a few MiB at most.
	maxPayload = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Scan outcomes that are not I/O errors. errTorn and errBadHeader end a segment; errBadPayload
// is a single damaged record the scanner has stepped over.
var (
	errTorn       = errors.New("torn record")
	errBadHeader  = errors.New("record header checksum mismatch")
	errBadPayload = errors.New("record checksum mismatch")
)

// segName is the file name of the segment whose base seq is base.
func segName(base uint64) string {
	s := strconv.FormatUint(base, 10)
	return strings.Repeat("0", segNameDigits-len(s)) + s + segSuffix
}

// parseSegName returns the base seq of a segment file name, or false for any other name.
func parseSegName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != segNameDigits {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	base, err := strconv.ParseUint(digits, 10, 64)
	return base, err == nil
}

// appendSegHeader appends the header of a segment with base seq base.
func appendSegHeader(dst []byte, base uint64) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = binary.LittleEndian.AppendUint32(dst, formatVersion)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, base)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// errNoHeader says a segment is too short or zeroed to hold a header: a segment created just
// before a crash. It is not ErrCorrupt because nothing durable can be in such a file.
var errNoHeader = errors.New("segment header missing")

// parseSegHeader checks a segment header and returns its base seq. A version other than ours is
// ErrVersion; a damaged header is ErrCorrupt; a short or all-zero one is errNoHeader.
func parseSegHeader(h []byte) (uint64, error) {
	if len(h) < segHeaderSize || allZero(h[:segHeaderSize]) {
		return 0, errNoHeader
	}
	if string(h[:8]) != magic {
		return 0, fmt.Errorf("%w: bad magic %q", ErrCorrupt, h[:8])
	}
	v := binary.LittleEndian.Uint32(h[8:])
	if v != formatVersion && v != 0 {
		return 0, fmt.Errorf("%w: segment version %d, this build reads version %d",
			ErrVersion, v, formatVersion)
	}
	if crc32.Checksum(h[:28], castagnoli) != binary.LittleEndian.Uint32(h[28:]) {
		return 0, fmt.Errorf("%w: segment header checksum mismatch", ErrCorrupt)
	}
	return binary.LittleEndian.Uint64(h[16:]), nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// putRecordHeader fills h, the 24-byte header of a record of type typ with header seq seq and
// the payload made of parts (concatenated). The checksums run over the parts where they lie, so
// a chunk's data is never copied to be summed or written.
func putRecordHeader(h []byte, typ byte, seq uint64, parts ...[]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	binary.LittleEndian.PutUint32(h, uint32(n))
	h[4], h[5], h[6], h[7] = typ, 0, 0, 0
	binary.LittleEndian.PutUint64(h[8:], seq)
	hcrc := crc32.Checksum(h[:16], castagnoli)
	binary.LittleEndian.PutUint32(h[16:], hcrc)
	crc := hcrc // the record CRC covers bytes 0..16, then the payload
	for _, p := range parts {
		crc = crc32.Update(crc, castagnoli, p)
	}
	binary.LittleEndian.PutUint32(h[20:], crc)
}

// chunkHeadSize is the size of what precedes a chunk's bytes in its record: the record header
// and the fixed fields.
const chunkHeadSize = recHeaderSize + chunkFixedSize

// putChunkHead fills h (chunkHeadSize bytes) with the record header and the fixed fields of
// chunk c's record; c.Head and c.Data follow it on disk.
func putChunkHead(h []byte, c *Chunk) {
	fixed := h[recHeaderSize:chunkHeadSize]
	binary.LittleEndian.PutUint32(fixed[0:], c.Count)
	binary.LittleEndian.PutUint64(fixed[4:], uint64(c.Created))
	putRecordHeader(h[:recHeaderSize], recChunk, c.Seq, fixed, c.Head, c.Data)
}

// appendChunkRecord appends the record of chunk c.
func appendChunkRecord(dst []byte, c *Chunk) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, chunkHeadSize)...)
	putChunkHead(dst[start:], c)
	dst = append(dst, c.Head...)
	return append(dst, c.Data...)
}

// chunkRecordSize is the on-disk size of a chunk record with n bytes of data (Head and Data).
func chunkRecordSize(n int) int64 { return int64(chunkHeadSize + n) }

// seqRange is an inclusive range of seqs.
type seqRange struct{ first, last uint64 }

// releaseRecordSize is the on-disk size of a release record of n ranges.
func releaseRecordSize(n int) int { return recHeaderSize + n*rangeSize }

// putReleaseRecord fills rec (releaseRecordSize(len(ranges)) bytes) with a release record for
// ranges, which must not be empty.
func putReleaseRecord(rec []byte, ranges []seqRange) {
	payload := rec[recHeaderSize:]
	for i, r := range ranges {
		binary.LittleEndian.PutUint64(payload[i*rangeSize:], r.first)
		binary.LittleEndian.PutUint64(payload[i*rangeSize+8:], r.last)
	}
	putRecordHeader(rec[:recHeaderSize], recRelease, 0, payload)
}

// appendReleaseRecord appends a release record for ranges, which must not be empty.
func appendReleaseRecord(dst []byte, ranges []seqRange) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, releaseRecordSize(len(ranges)))...)
	putReleaseRecord(dst[start:], ranges)
	return dst
}

// toRanges turns ascending seqs into the fewest inclusive ranges.
func toRanges(dst []seqRange, seqs []uint64) []seqRange {
	for _, s := range seqs {
		if n := len(dst); n > 0 && dst[n-1].last != math.MaxUint64 && dst[n-1].last+1 == s {
			dst[n-1].last = s
			continue
		}
		dst = append(dst, seqRange{s, s})
	}
	return dst
}

// record is one decoded record. payload aliases the scanner's buffer: it is valid until the
// next call to next.
type record struct {
	typ     byte
	seq     uint64
	off     int64 // offset of the record in its segment
	size    int64 // header and payload
	payload []byte
}

// decodeChunk splits a chunk record's payload. Data holds the chunk's bytes, Head and Data as
// they were appended, joined.
func decodeChunk(r record) (Chunk, error) {
	if len(r.payload) < chunkFixedSize {
		return Chunk{}, fmt.Errorf("%w: chunk record of %d bytes", ErrCorrupt, len(r.payload))
	}
	return Chunk{
		Seq:     r.seq,
		Count:   binary.LittleEndian.Uint32(r.payload),
		Created: int64(binary.LittleEndian.Uint64(r.payload[4:])),
		Data:    r.payload[chunkFixedSize:],
	}, nil
}

// decodeRelease returns the ranges of a release record.
func decodeRelease(dst []seqRange, r record) ([]seqRange, error) {
	if len(r.payload)%rangeSize != 0 || r.seq != 0 {
		return dst, fmt.Errorf("%w: release record of %d bytes", ErrCorrupt, len(r.payload))
	}
	for p := r.payload; len(p) > 0; p = p[rangeSize:] {
		first, last := binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])
		if first > last {
			return dst, fmt.Errorf("%w: release range %d..%d", ErrCorrupt, first, last)
		}
		dst = append(dst, seqRange{first, last})
	}
	return dst, nil
}

// scanner reads the records of one segment, after its header, verifying every checksum.
type scanner struct {
	r     *bufio.Reader
	off   int64 // offset of the next record
	limit int64 // segment size: no record extends past it
	hdr   [recHeaderSize]byte
	buf   []byte
}

func newScanner(r io.Reader, off, limit int64) *scanner {
	return &scanner{r: bufio.NewReaderSize(r, 256<<10), off: off, limit: limit}
}

// next returns the next record. At the end of the segment it returns io.EOF. A record cut
// short by the end of the file is errTorn, a header that fails its checksum errBadHeader: the
// rest of the segment cannot be parsed. A record whose payload fails its checksum is
// errBadPayload with the record's seq, offset and size filled in; the scanner has moved past it.
func (s *scanner) next() (record, error) {
	rec := record{off: s.off}
	if s.off == s.limit {
		return rec, io.EOF
	}
	if s.limit-s.off < recHeaderSize {
		return rec, errTorn
	}
	if _, err := io.ReadFull(s.r, s.hdr[:]); err != nil {
		return rec, s.readErr(err)
	}
	h := s.hdr[:]
	if crc32.Checksum(h[:16], castagnoli) != binary.LittleEndian.Uint32(h[16:]) {
		return rec, errBadHeader
	}
	n := int64(binary.LittleEndian.Uint32(h))
	rec.typ, rec.seq = h[4], binary.LittleEndian.Uint64(h[8:])
	if n > maxPayload || h[5]|h[6]|h[7] != 0 {
		return rec, errBadHeader
	}
	rec.size = recHeaderSize + n
	if s.limit-s.off < rec.size {
		return rec, errTorn
	}
	if int64(cap(s.buf)) < n {
		s.buf = make([]byte, n)
	}
	rec.payload = s.buf[:n]
	if _, err := io.ReadFull(s.r, rec.payload); err != nil {
		return rec, s.readErr(err)
	}
	s.off += rec.size
	crc := crc32.Update(crc32.Checksum(h[:16], castagnoli), castagnoli, rec.payload)
	if crc != binary.LittleEndian.Uint32(h[20:]) {
		return rec, errBadPayload
	}
	return rec, nil
}

// readErr maps a short read to errTorn: the file shrank under us or limit was wrong.
func (s *scanner) readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTorn
	}
	return fmt.Errorf("read record at offset %d: %w", s.off, err)
}

// parseRecord checks and decodes the one whole record b holds. payload aliases b.
func parseRecord(b []byte) (record, error) {
	if len(b) < recHeaderSize {
		return record{}, fmt.Errorf("%w: record of %d bytes", ErrCorrupt, len(b))
	}
	if crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return record{}, fmt.Errorf("%w: %w", ErrCorrupt, errBadHeader)
	}
	n := int64(binary.LittleEndian.Uint32(b))
	if recHeaderSize+n != int64(len(b)) {
		return record{}, fmt.Errorf("%w: record length %d, expected %d",
			ErrCorrupt, n, len(b)-recHeaderSize)
	}
	crc := crc32.Update(crc32.Checksum(b[:16], castagnoli), castagnoli, b[recHeaderSize:])
	if crc != binary.LittleEndian.Uint32(b[20:]) {
		return record{}, fmt.Errorf("%w: %w", ErrCorrupt, errBadPayload)
	}
	return record{typ: b[4], seq: binary.LittleEndian.Uint64(b[8:]), size: int64(len(b)),
		payload: b[recHeaderSize:]}, nil
}
