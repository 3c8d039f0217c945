package store

import (
	"crypto/rand"
	"encoding/binary"
	"hash/fnv"
	"strconv"
	"time"
)

// File names. A Writer names each file
//
//	<expanded prefix><YYYYMMDD-HHMMSSmmm+ZZZZ>.<unique>.<seq><Suffix>[.gz|.zst]
//
// and writes it as that name plus ".tmp" until it is finalized. The time is when the file was
// opened, to the millisecond, with its zone offset, so names sort by opening time as classic
// roll tags did (classic: yyyyMMdd-HHmmssSSSZ.<nanos>.<thread>). <unique> is 13 decimal digits
// drawn once per Writer, so two Writers, in one process or in two, pick different names: with
// Options.Owner, 8 digits of a hash of the owner then 5 random ones, so that an owner knows its
// own files among others' in a directory several write to (HDFS); otherwise 13 random ones.
// <seq> counts the files of one Writer in 8 digits. Files are created exclusively, so even a
// collision of the random part is caught, and the Writer moves to the next <seq>.
//
// In exact mode (Options.Exact) the expanded Path is the name; a name already taken, by a
// finalized file or by another writer's .tmp, gets ".1", ".2", ... before the suffix.

const (
	uniqueDigits = 13
	ownerDigits  = 8 // of uniqueDigits, with an owner
	seqDigits    = 8
	tmpExt       = ".tmp"
	// tagPattern matches the part of a name a Writer adds after the expanded prefix; its
	// group is the unique part.
	tagPattern = `[0-9]{8}-[0-9]{9}[+-][0-9]{4}\.([0-9]{13})\.[0-9]{8}`
)

// newUnique returns the unique part of the names of a Writer of owner ("" for none).
func newUnique(owner string) uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	r := binary.BigEndian.Uint64(b[:])
	if owner == "" {
		return r % pow10(uniqueDigits)
	}
	free := pow10(uniqueDigits - ownerDigits)
	return ownerMark(owner)*free + r%free
}

// ownerMark is the part of the unique digits that names owner.
func ownerMark(owner string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(owner))
	return h.Sum64() % pow10(ownerDigits)
}

// ownedBy reports whether unique, the unique part of a name, is of a Writer of owner.
func ownedBy(unique uint64, owner string) bool {
	return unique/pow10(uniqueDigits-ownerDigits) == ownerMark(owner)
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// appendTag appends the part of a name after the expanded prefix, before the suffix.
func appendTag(dst []byte, t time.Time, unique, seq uint64) []byte {
	dst = t.AppendFormat(dst, "20060102-150405")
	dst = appendPadded(dst, uint64(t.Nanosecond()/int(time.Millisecond)), 3)
	dst = t.AppendFormat(dst, "-0700")
	dst = append(dst, '.')
	dst = appendPadded(dst, unique, uniqueDigits)
	dst = append(dst, '.')
	return appendPadded(dst, seq%pow10(seqDigits), seqDigits)
}

func appendPadded(dst []byte, n uint64, width int) []byte {
	var buf [20]byte
	s := strconv.AppendUint(buf[:0], n, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// withCollision returns name with ".n" inserted before ext, which name ends with.
func withCollision(name, ext string, n int) string {
	base := name[:len(name)-len(ext)]
	return base + "." + strconv.Itoa(n) + ext
}
