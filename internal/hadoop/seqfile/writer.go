package seqfile

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/flumego/flume/internal/hadoop/codec"
)

// Compression says how records are compressed.
type Compression int

// The three kinds of SequenceFile.
const (
	// None stores keys and values as they are.
	None Compression = iota
	// Record compresses each value on its own.
	Record
	// Block compresses blocks of records: their key lengths, keys, value lengths and values.
	Block
)

// String returns Hadoop's name of the compression type: "NONE", "RECORD" or "BLOCK".
func (c Compression) String() string {
	switch c {
	case None:
		return "NONE"
	case Record:
		return "RECORD"
	case Block:
		return "BLOCK"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// Defaults of Hadoop's writer.
const (
	// SyncInterval is the distance after which the writer of an uncompressed or
	// record-compressed file puts a sync marker before the next record: 100 sync entries of
	// 20 bytes, Hadoop's SYNC_INTERVAL through 2.x (3.x writes one every 100 KB; readers do
	// not care).
	SyncInterval = 100 * syncSize
	// BlockSize is the size of keys and values at which a block-compressed file's block is
	// written without waiting for Flush: io.seqfile.compress.blocksize's default.
	BlockSize = 1_000_000
)

const (
	syncSize   = 4 + 16 // the escape (-1) and the 16-byte marker
	syncEscape = 0xffffffff

	// flushAt is the size of pending output at which Append writes it without waiting for
	// Flush, so that a file without flushes does not grow memory.
	flushAt = 64 << 10
)

// Config describes the file a Writer writes.
type Config struct {
	// KeyClass and ValueClass are the Java class names of the keys and values, as the header
	// names them. Both are required.
	KeyClass, ValueClass string
	// Compression is None, Record or Block.
	Compression Compression
	// Codec compresses values (Record) or blocks (Block). With compression and no codec the
	// writer uses DefaultCodec, as Hadoop does; without compression it must be nil.
	Codec codec.Codec
	// Metadata are the header's attributes, written sorted by name as Hadoop's TreeMap does.
	Metadata map[string]string
	// Sync is the file's 16-byte sync marker; zero means random.
	Sync [16]byte
	// BlockSize overrides the BlockSize default; SyncInterval the SyncInterval one.
	BlockSize, SyncInterval int
}

// Writer writes a SequenceFile to an io.Writer. Nothing is written before the first Append,
// Flush or Close, which writes the header.
//
// Every Write call the Writer makes ends at a record boundary (a block boundary for Block
// files), so the file is valid up to the end of each. It writes when Flush or Close is called
// and when 64 KiB are pending. After a failed write the file may end inside a record, so the
// error is sticky: every later call returns it. A Writer is used from one goroutine.
type Writer struct {
	w      io.Writer
	cfg    Config
	header bool  // the header is in out or written
	pos    int64 // bytes of the file so far, pending ones included
	sync   int64 // where the last sync marker ended (0: none yet), as Hadoop's lastSyncPos
	out    []byte
	err    error
	closed bool

	// Block files: the block being built.
	records      int
	keyLens      []byte
	keys         []byte
	valLens      []byte
	vals         []byte
	compressed   []byte
	recordBuffer []byte // Record files: the compressed value
}

// NewWriter returns a writer of a new file on w. It writes nothing yet.
func NewWriter(w io.Writer, cfg Config) (*Writer, error) {
	if w == nil {
		return nil, fmt.Errorf("new sequence file writer: %w: nil writer", ErrConfig)
	}
	if cfg.KeyClass == "" || cfg.ValueClass == "" {
		return nil, fmt.Errorf("new sequence file writer: %w: key and value classes are required", ErrConfig)
	}
	switch cfg.Compression {
	case None:
		if cfg.Codec != nil {
			return nil, fmt.Errorf("new sequence file writer: %w: codec %s without compression", ErrConfig, cfg.Codec.Name())
		}
	case Record, Block:
		if cfg.Codec == nil {
			c, err := codec.Lookup("default")
			if err != nil {
				return nil, err
			}
			cfg.Codec = c
		}
	default:
		return nil, fmt.Errorf("new sequence file writer: %w: %v", ErrConfig, cfg.Compression)
	}
	if cfg.BlockSize <= 0 {
		cfg.BlockSize = BlockSize
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = SyncInterval
	}
	if cfg.Sync == ([16]byte{}) {
		_, _ = rand.Read(cfg.Sync[:]) // crypto/rand.Read never fails
	}
	return &Writer{w: w, cfg: cfg}, nil
}

// Sync returns the file's sync marker.
func (w *Writer) Sync() [16]byte { return w.cfg.Sync }

// Append adds a record. key and value are serialized Writables (for Flume's records,
// AppendWriteableEventKey and AppendWriteableEvent); they are copied or written before Append
// returns.
func (w *Writer) Append(key, value []byte) error {
	if err := w.usable(); err != nil {
		return err
	}
	if int64(len(key))+int64(len(value)) > math.MaxInt32 {
		return fmt.Errorf("append record: %w: %d-byte key and %d-byte value", ErrTooLarge, len(key), len(value))
	}
	w.start()
	switch w.cfg.Compression {
	case Block:
		w.keyLens = AppendVInt(w.keyLens, int32(len(key)))
		w.keys = append(w.keys, key...)
		w.valLens = AppendVInt(w.valLens, int32(len(value)))
		w.vals = append(w.vals, value...)
		w.records++
		if len(w.keys)+len(w.vals) >= w.cfg.BlockSize {
			if err := w.endBlock(); err != nil {
				return err
			}
		}
	case Record:
		var err error
		if w.recordBuffer, err = w.cfg.Codec.AppendUnit(w.recordBuffer[:0], value); err != nil {
			return fmt.Errorf("compress value: %w", err) // nothing was added
		}
		w.appendRecord(key, w.recordBuffer)
	default:
		w.appendRecord(key, value)
	}
	if len(w.out) >= flushAt {
		return w.writeOut()
	}
	return nil
}

// Flush writes what is pending. In a Block file it ends the current block first, so that
// the file is complete up to here and the next block starts with a sync marker.
func (w *Writer) Flush() error {
	if err := w.usable(); err != nil {
		return err
	}
	w.start()
	if err := w.endBlock(); err != nil {
		return err
	}
	return w.writeOut()
}

// Close flushes. It does not close the underlying writer; it is safe to call twice.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	err := w.Flush()
	w.closed = true
	w.out, w.keyLens, w.keys, w.valLens, w.vals, w.compressed, w.recordBuffer = nil, nil, nil, nil, nil, nil, nil
	return err
}

func (w *Writer) usable() error {
	if w.closed {
		return ErrClosed
	}
	return w.err
}

func (w *Writer) fail(err error) error {
	w.err = err
	return err
}

// start puts the header in the output if it is not there yet.
func (w *Writer) start() {
	if w.header {
		return
	}
	w.header = true
	w.out = AppendHeader(w.out, w.cfg)
	w.pos = int64(len(w.out))
}

// AppendHeader appends the header of a version 6 file described by cfg: "SEQ", 6, the key
// and value class names as Text, the compression and block-compression booleans, the codec
// class as Text when compressed, the metadata (a 32-bit count and Text pairs, sorted by name)
// and the sync marker.
func AppendHeader(dst []byte, cfg Config) []byte {
	dst = append(dst, 'S', 'E', 'Q', 6)
	dst = AppendText(dst, cfg.KeyClass)
	dst = AppendText(dst, cfg.ValueClass)
	dst = append(dst, boolByte(cfg.Compression != None), boolByte(cfg.Compression == Block))
	if cfg.Compression != None {
		dst = AppendText(dst, cfg.Codec.Class())
	}
	names := make([]string, 0, len(cfg.Metadata))
	for k := range cfg.Metadata {
		names = append(names, k)
	}
	slices.SortFunc(names, strings.Compare) // byte order, as Text compares
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(names)))
	for _, k := range names {
		dst = AppendText(AppendText(dst, k), cfg.Metadata[k])
	}
	return append(dst, cfg.Sync[:]...)
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// appendSync adds a sync marker unless one ends right here, as Hadoop's sync() does.
func (w *Writer) appendSync() {
	if w.sync == w.pos {
		return
	}
	w.out = binary.BigEndian.AppendUint32(w.out, syncEscape)
	w.out = append(w.out, w.cfg.Sync[:]...)
	w.pos += syncSize
	w.sync = w.pos
}

// appendRecord adds a record of an uncompressed or record-compressed file: the record length
// (key and value), the key length, the key, the value. A sync marker comes first when the
// last one is SyncInterval or more bytes back (or there is none yet and the file is that long).
func (w *Writer) appendRecord(key, value []byte) {
	if w.pos >= w.sync+int64(w.cfg.SyncInterval) {
		w.appendSync()
	}
	n := len(w.out)
	w.out = binary.BigEndian.AppendUint32(w.out, uint32(len(key)+len(value)))
	w.out = binary.BigEndian.AppendUint32(w.out, uint32(len(key)))
	w.out = append(w.out, key...)
	w.out = append(w.out, value...)
	w.pos += int64(len(w.out) - n)
}

// endBlock adds the block being built, if it has records: a sync marker, the record count
// (VInt), then the key lengths, keys, value lengths and values, each compressed as one unit
// of the codec and preceded by its compressed length (VInt).
func (w *Writer) endBlock() error {
	if w.cfg.Compression != Block || w.records == 0 {
		return nil
	}
	n, pos := len(w.out), w.pos
	w.appendSync()
	w.out = AppendVInt(w.out, int32(w.records))
	for _, buf := range [][]byte{w.keyLens, w.keys, w.valLens, w.vals} {
		var err error
		if w.compressed, err = w.cfg.Codec.AppendUnit(w.compressed[:0], buf); err != nil {
			w.out = w.out[:n]
			return w.fail(fmt.Errorf("compress block: %w", err))
		}
		w.out = AppendVInt(w.out, int32(len(w.compressed)))
		w.out = append(w.out, w.compressed...)
	}
	w.pos = pos + int64(len(w.out)-n)
	w.records = 0
	w.keyLens, w.keys, w.valLens, w.vals = w.keyLens[:0], w.keys[:0], w.valLens[:0], w.vals[:0]
	return nil
}

// writeOut writes the pending output with one Write.
func (w *Writer) writeOut() error {
	if len(w.out) == 0 {
		return nil
	}
	if _, err := w.w.Write(w.out); err != nil {
		return w.fail(fmt.Errorf("write sequence file: %w", err))
	}
	w.out = w.out[:0]
	if cap(w.out) > 4*flushAt {
		w.out = nil // one huge record should not pin its buffer
	}
	return nil
}
