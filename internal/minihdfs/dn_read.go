package minihdfs

// READ_BLOCK and BLOCK_CHECKSUM. A read answers with the checksum type and the chunk-aligned
// offset it starts at (readOpChecksumInfo), then sends packets of at most 64 KiB carrying the
// stored CRC32C of each full chunk (a partial last chunk is summed as read), and ends with an
// empty packet flagged last. The client sends no read status afterwards.

import (
	"bufio"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
)

func (d *DataNode) serveRead(conn net.Conn, r *bufio.Reader) {
	op, err := readDelimited(r, "hadoop.hdfs.OpReadBlockProto")
	if err != nil {
		d.log.Warn("datanode: bad read op", "err", err)
		return
	}
	blk := op.Msg("header").Msg("baseHeader").Msg("block")
	id, gs := blk.Uint("blockId"), blk.Uint("generationStamp")
	off, n := int64(op.Uint("offset")), int64(op.Uint("len"))
	data, meta, info, err := d.currentStore().openRead(id)
	if err != nil {
		_ = writeOpResponse(conn, "ERROR", fmt.Sprintf("block %d: %v", id, err), nil)
		return
	}
	defer data.Close()
	defer meta.Close()
	switch {
	case info.GS < gs:
		_ = writeOpResponse(conn, "ERROR", fmt.Sprintf("block %d: replica generation stamp %d is older than the requested %d", id, info.GS, gs), nil)
		return
	case off < 0 || n < 0 || off+n > info.Length:
		_ = writeOpResponse(conn, "ERROR", fmt.Sprintf("Offset %d and length %d don't match block %d ( blockLen %d )", off, n, id, info.Length), nil)
		return
	}
	sendSums := op.Bool("sendChecksums")
	start := off / chunkSize * chunkSize
	end := min((off+n+chunkSize-1)/chunkSize*chunkSize, info.Length)
	sumType := "CHECKSUM_CRC32C"
	if !sendSums {
		sumType = "CHECKSUM_NULL"
	}
	err = writeOpResponse(conn, "SUCCESS", "", func(m pm) {
		m.Set("readOpChecksumInfo", hdfsMsg("ReadOpChecksumInfoProto",
			"checksum", hdfsMsg("ChecksumProto", "type", sumType, "bytesPerChecksum", chunkSize),
			"chunkOffset", uint64(start)))
	})
	if err != nil {
		return
	}
	w := bufio.NewWriterSize(conn, maxPacketData+4096)
	seqno := int64(0)
	for pos := start; pos < end; pos += maxPacketData {
		l := min(maxPacketData, end-pos)
		buf := make([]byte, l)
		if _, err := data.ReadAt(buf, pos); err != nil {
			d.log.Warn("datanode: read block data", "block", id, "err", err)
			return
		}
		var sums []byte
		if sendSums {
			if sums, err = readSums(meta, pos, buf); err != nil {
				d.log.Warn("datanode: read block checksums", "block", id, "err", err)
				return
			}
		}
		if err := writeReadPacket(w, pos, seqno, false, sums, buf); err != nil {
			return
		}
		seqno++
	}
	if err := writeReadPacket(w, end, seqno, true, nil, nil); err != nil {
		return
	}
	_ = w.Flush()
}

// readSums returns the checksums of buf, which was read at pos: the stored ones for full
// chunks, fresh ones for a partial last chunk (its stored sum may cover more than was read).
func readSums(meta *os.File, pos int64, buf []byte) ([]byte, error) {
	nChunks := (len(buf) + chunkSize - 1) / chunkSize
	sums := make([]byte, nChunks*4)
	if _, err := meta.ReadAt(sums, metaHeaderLen+pos/chunkSize*4); err != nil && err != io.EOF {
		return nil, err
	}
	if len(buf)%chunkSize != 0 {
		last := (nChunks - 1) * chunkSize
		copy(sums[(nChunks-1)*4:], chunkSums(buf[last:]))
	}
	return sums, nil
}

func writeReadPacket(w *bufio.Writer, off, seqno int64, last bool, sums, data []byte) error {
	h, err := hdfsMsg("PacketHeaderProto", "offsetInBlock", off, "seqno", seqno,
		"lastPacketInBlock", last, "dataLen", len(data)).Marshal()
	if err != nil {
		return err
	}
	var lens [6]byte
	binary.BigEndian.PutUint32(lens[:4], uint32(4+len(sums)+len(data)))
	binary.BigEndian.PutUint16(lens[4:], uint16(len(h)))
	for _, b := range [][]byte{lens[:], h, sums, data} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// serveChecksum answers BLOCK_CHECKSUM with the MD5 of the block's chunk CRCs (MD5CRC).
func (d *DataNode) serveChecksum(conn net.Conn, r *bufio.Reader) {
	op, err := readDelimited(r, "hadoop.hdfs.OpBlockChecksumProto")
	if err != nil {
		return
	}
	blk := op.Msg("header").Msg("block")
	id, n := blk.Uint("blockId"), int64(blk.Uint("numBytes"))
	data, meta, info, err := d.currentStore().openRead(id)
	if err != nil {
		_ = writeOpResponse(conn, "ERROR", fmt.Sprintf("block %d: %v", id, err), nil)
		return
	}
	defer data.Close()
	defer meta.Close()
	if n > info.Length {
		_ = writeOpResponse(conn, "ERROR", fmt.Sprintf("block %d holds %d bytes, fewer than %d", id, info.Length, n), nil)
		return
	}
	buf := make([]byte, n)
	if _, err := data.ReadAt(buf, 0); err != nil && n > 0 {
		_ = writeOpResponse(conn, "ERROR", fmt.Sprintf("read block %d: %v", id, err), nil)
		return
	}
	sum := md5.Sum(chunkSums(buf))
	_ = writeOpResponse(conn, "SUCCESS", "", func(m pm) {
		m.Set("checksumResponse", hdfsMsg("OpBlockChecksumResponseProto", "bytesPerCrc", chunkSize,
			"crcPerBlock", uint64((n+chunkSize-1)/chunkSize), "blockChecksum", sum[:], "crcType", "CHECKSUM_CRC32C"))
	})
}
