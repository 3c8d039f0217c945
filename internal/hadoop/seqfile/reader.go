package seqfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/flumego/flume/internal/hadoop/codec"
)

// Header is what a file's header says.
type Header struct {
	KeyClass, ValueClass string
	Compression          Compression
	Codec                codec.Codec // nil when not compressed
	Metadata             map[string]string
	Sync                 [16]byte
}

// Reader reads a SequenceFile and checks its structure as it goes, more strictly than
// Hadoop's reader: it takes only what Hadoop's writer writes. It is meant for tests and tools
// that check files; it reads the whole file from the start.
type Reader struct {
	r      *bufio.Reader
	header Header
	err    error
	synced bool // the last thing read was a sync marker

	// Block files: the current block, decompressed, and where the next record is in it.
	left           int
	keyLens, keys  []byte
	valLens, vals  []byte
	keyOff, valOff int
}

// NewReader reads the header of the file r holds and returns a reader of its records.
func NewReader(r io.Reader) (*Reader, error) {
	sr := &Reader{r: bufio.NewReader(r)}
	if err := sr.readHeader(); err != nil {
		return nil, fmt.Errorf("read sequence file header: %w", err)
	}
	return sr, nil
}

// Header returns the file's header.
func (r *Reader) Header() Header { return r.header }

// Next returns the next record's key and value, raw serialized bytes (a record-compressed
// value decompressed). They are valid until the next call. At the end of the file it returns
// io.EOF; the file may end only between records, and for a block-compressed file only between
// blocks. Any other error is sticky.
func (r *Reader) Next() (key, value []byte, err error) {
	if r.err != nil {
		return nil, nil, r.err
	}
	if r.header.Compression == Block {
		key, value, err = r.nextInBlock()
	} else {
		key, value, err = r.nextRecord()
	}
	if err != nil {
		r.err = err
	}
	return key, value, err
}

func (r *Reader) readHeader() error {
	magic, err := r.read(4)
	if err != nil {
		return err
	}
	if string(magic[:3]) != "SEQ" {
		return fmt.Errorf("%w: not a sequence file (magic %q)", ErrCorrupt, magic[:3])
	}
	if magic[3] != 6 {
		return fmt.Errorf("%w: version %d", ErrVersion, magic[3])
	}
	h := &r.header
	if h.KeyClass, err = r.readClassName("key"); err != nil {
		return err
	}
	if h.ValueClass, err = r.readClassName("value"); err != nil {
		return err
	}
	flags, err := r.read(2)
	if err != nil {
		return err
	}
	switch {
	case flags[0] > 1 || flags[1] > 1:
		return fmt.Errorf("%w: compression flags %d, %d are not booleans", ErrCorrupt, flags[0], flags[1])
	case flags[0] == 0 && flags[1] == 1:
		return fmt.Errorf("%w: block compression without compression", ErrCorrupt)
	}
	h.Compression = Compression(flags[0] + flags[1])
	if h.Compression != None {
		class, err := r.readClassName("codec")
		if err != nil {
			return err
		}
		c, err := codec.Lookup(class)
		if err != nil || c == nil || c.Class() != class {
			return fmt.Errorf("%w: codec class %q", codec.ErrUnknownCodec, class)
		}
		h.Codec = c
	}
	if err := r.readMetadata(); err != nil {
		return err
	}
	sync, err := r.read(16)
	if err != nil {
		return err
	}
	copy(h.Sync[:], sync)
	return nil
}

func (r *Reader) readClassName(what string) (string, error) {
	b, err := r.readText()
	if err != nil {
		return "", fmt.Errorf("%s class: %w", what, err)
	}
	if len(b) == 0 || !utf8.Valid(b) {
		return "", fmt.Errorf("%w: %s class %q is not a class name", ErrCorrupt, what, b)
	}
	return string(b), nil
}

// readMetadata reads the count (32 bits) and the Text pairs, which Hadoop writes sorted by
// name, each name once.
func (r *Reader) readMetadata() error {
	b, err := r.read(4)
	if err != nil {
		return err
	}
	n := int32(binary.BigEndian.Uint32(b))
	if n < 0 {
		return fmt.Errorf("%w: metadata count %d", ErrCorrupt, n)
	}
	r.header.Metadata = map[string]string{}
	prev := ""
	for i := range n {
		k, err := r.readText()
		if err != nil {
			return fmt.Errorf("metadata name: %w", err)
		}
		v, err := r.readText()
		if err != nil {
			return fmt.Errorf("metadata value: %w", err)
		}
		if i > 0 && string(k) <= prev {
			return fmt.Errorf("%w: metadata name %q after %q: not in order", ErrCorrupt, k, prev)
		}
		prev = string(k)
		r.header.Metadata[prev] = string(v)
	}
	return nil
}

// nextRecord reads a record of an uncompressed or record-compressed file, after any sync
// marker: record length, key length (32 bits each), key, value.
func (r *Reader) nextRecord() ([]byte, []byte, error) {
	for {
		b, err := r.read(4)
		if err == io.EOF {
			return nil, nil, io.EOF
		}
		if err != nil {
			return nil, nil, err
		}
		if binary.BigEndian.Uint32(b) == syncEscape {
			if err := r.readSync(); err != nil {
				return nil, nil, err
			}
			continue
		}
		r.synced = false
		recLen := int32(binary.BigEndian.Uint32(b))
		if b, err = r.readMore(4); err != nil {
			return nil, nil, err
		}
		keyLen := int32(binary.BigEndian.Uint32(b))
		if recLen < 0 || keyLen < 0 || keyLen > recLen {
			return nil, nil, fmt.Errorf("%w: record of %d bytes with a key of %d", ErrCorrupt, recLen, keyLen)
		}
		data, err := r.readMore(int(recLen))
		if err != nil {
			return nil, nil, err
		}
		key, value := data[:keyLen], data[keyLen:]
		if r.header.Compression == Record {
			if value, err = decompress(r.header.Codec, value); err != nil {
				return nil, nil, fmt.Errorf("record value: %w", err)
			}
		}
		return key, value, nil
	}
}

// readSync reads the 16 bytes after a sync escape: the header's marker.
func (r *Reader) readSync() error {
	if r.synced {
		return fmt.Errorf("%w: two sync markers in a row", ErrCorrupt)
	}
	b, err := r.readMore(16)
	if err != nil {
		return err
	}
	if !bytes.Equal(b, r.header.Sync[:]) {
		return fmt.Errorf("%w: sync marker %x, the header's is %x", ErrCorrupt, b, r.header.Sync)
	}
	r.synced = true
	return nil
}

// nextInBlock returns the next record of the current block, reading the next block when it
// is used up.
func (r *Reader) nextInBlock() ([]byte, []byte, error) {
	if r.left == 0 {
		if err := r.readBlock(); err != nil {
			return nil, nil, err
		}
	}
	kl, n, _ := ReadVInt(r.keyLens) // checked by readBlock
	r.keyLens = r.keyLens[n:]
	vl, n, _ := ReadVInt(r.valLens)
	r.valLens = r.valLens[n:]
	key := r.keys[r.keyOff : r.keyOff+int(kl)]
	value := r.vals[r.valOff : r.valOff+int(vl)]
	r.keyOff += int(kl)
	r.valOff += int(vl)
	r.left--
	return key, value, nil
}

// readBlock reads a block: a sync marker, the record count (VInt), then the key lengths,
// keys, value lengths and values, each a VInt compressed length and a compressed unit. The
// lengths must describe exactly count keys and values filling their buffers.
func (r *Reader) readBlock() error {
	b, err := r.read(4)
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return err
	}
	if binary.BigEndian.Uint32(b) != syncEscape {
		return fmt.Errorf("%w: block does not start with a sync marker", ErrCorrupt)
	}
	r.synced = false
	if err := r.readSync(); err != nil {
		return err
	}
	count, err := r.readVInt()
	if err != nil {
		return err
	}
	if count <= 0 {
		return fmt.Errorf("%w: block of %d records", ErrCorrupt, count)
	}
	var bufs [4][]byte
	for i := range bufs {
		n, err := r.readVInt()
		if err != nil {
			return err
		}
		if n < 0 {
			return fmt.Errorf("%w: compressed buffer of %d bytes", ErrCorrupt, n)
		}
		comp, err := r.readMore(int(n))
		if err != nil {
			return err
		}
		if bufs[i], err = decompress(r.header.Codec, comp); err != nil {
			return fmt.Errorf("block buffer %d: %w", i, err)
		}
	}
	for _, p := range [][2][]byte{{bufs[0], bufs[1]}, {bufs[2], bufs[3]}} {
		if err := checkLengths(p[0], p[1], int(count)); err != nil {
			return err
		}
	}
	r.keyLens, r.keys, r.valLens, r.vals = bufs[0], bufs[1], bufs[2], bufs[3]
	r.keyOff, r.valOff, r.left = 0, 0, int(count)
	return nil
}

// checkLengths checks that lens holds exactly count non-negative VInts adding up to len(data).
func checkLengths(lens, data []byte, count int) error {
	total := 0
	for range count {
		l, n, err := ReadVInt(lens)
		if err != nil {
			return fmt.Errorf("block lengths: %w", err)
		}
		if l < 0 || int(l) > len(data)-total {
			return fmt.Errorf("%w: block length %d with %d bytes left", ErrCorrupt, l, len(data)-total)
		}
		total += int(l)
		lens = lens[n:]
	}
	if len(lens) != 0 || total != len(data) {
		return fmt.Errorf("%w: block lengths describe %d bytes of %d, with %d bytes of lengths left over",
			ErrCorrupt, total, len(data), len(lens))
	}
	return nil
}

func decompress(c codec.Codec, p []byte) ([]byte, error) {
	dr, err := c.NewReader(bytes.NewReader(p))
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	return io.ReadAll(dr)
}

// read reads n bytes; it returns io.EOF if the file ends before the first of them.
func (r *Reader) read(n int) ([]byte, error) {
	if _, err := r.r.Peek(1); err != nil {
		return nil, err
	}
	return r.readMore(n)
}

// readMore reads n bytes that must be there. Large reads grow their buffer as the data comes,
// so a corrupt length costs no more memory than the file has.
func (r *Reader) readMore(n int) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(min(n, 1<<20))
	if _, err := io.CopyN(&buf, r.r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: file ends inside a header, record or block", ErrCorrupt)
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

func (r *Reader) readText() ([]byte, error) {
	n, err := r.readVInt()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("%w: text of %d bytes", ErrCorrupt, n)
	}
	return r.readMore(int(n))
}

// readVInt reads a VInt from the stream: its first byte says how many follow.
func (r *Reader) readVInt() (int32, error) {
	first, err := r.readMore(1)
	if err != nil {
		return 0, err
	}
	size := 1
	if f := int8(first[0]); f < -120 {
		size += int(-120 - int(f))
	} else if f < -112 {
		size += int(-112 - int(f))
	}
	rest, err := r.readMore(size - 1)
	if err != nil {
		return 0, err
	}
	v, _, err := ReadVInt(append(first, rest...))
	return v, err
}
